// Task<T>: the coroutine type of Mercato's asynchronous code (a Boost.Asio awaitable). Handlers,
// storage calls and outgoing HTTP calls return Task<...> and are co_awaited.
//
//   mercato::Task<http::Response> Handle(http::RequestContext& ctx) { co_return ...; }
#pragma once

#include <boost/asio/awaitable.hpp>

namespace mercato {

template <class T = void>
using Task = boost::asio::awaitable<T>;

}  // namespace mercato
