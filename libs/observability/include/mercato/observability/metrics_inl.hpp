// Template definitions for Family<M>, kept out of metrics.hpp so the API reads on one screen.
// Not included directly: metrics.hpp includes it at its end.
//   auto& family = registry.AddCounter("mercato_x_total", "X", {"kind"});
//   family.WithLabels({"a"}).Inc();
#pragma once

#include <stdexcept>

#include "mercato/observability/metrics.hpp"

namespace mercato::obs {

template <class M>
M& Family<M>::WithLabels(std::initializer_list<std::string_view> values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + ": expected " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(values.size()));
  }
  std::vector<std::string> key;
  key.reserve(values.size());
  for (std::string_view v : values) key.emplace_back(v);
  return WithLabels(key);
}

template <class M>
M& Family<M>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + ": expected " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(values.size()));
  }
  std::lock_guard lock(mutex_);
  auto it = children_.find(values);
  if (it == children_.end()) it = children_.emplace(values, factory_()).first;
  // Children are never erased and live behind unique_ptr, so the reference outlives the lock.
  return *it->second;
}

template <class M>
void Family<M>::ForEach(
    const std::function<void(const std::vector<std::string>&, const M&)>& f) const {
  std::lock_guard lock(mutex_);
  for (const auto& [labels, child] : children_) f(labels, *child);
}

}  // namespace mercato::obs
