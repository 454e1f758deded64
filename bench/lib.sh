# Shared by the benchmark scripts (source it after setting SERVER_CPU, CLIENT_CPU, BIN_DIR,
# DURATION and CONNECTIONS): a work directory removed on exit with every process started, a
# service launcher pinned to the server CPU, wrk runs pinned to the client CPU, medians.
#
#   source "$(dirname "$0")/../lib.sh"
#   bench_init catalog                        # $work, and the cleanup trap
#   start_service port hello                  # $port = where build/bin/hello listens
#   read -r rps p99 < <(run_wrk hello "http://127.0.0.1:$port/items/x")

bench_init() {  # name
  work=$(mktemp -d "/tmp/mercato-bench-$1-XXXXXX")
  chmod 755 "$work"  # nginx workers drop root and must read what they serve
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# Starts $BIN_DIR/<name> on SERVER_CPU and waits until it is ready; sets the variable named by
# the first argument to its port. Not to be called in $(...): the pid must reach `pids`.
start_service() {  # port_variable name args...
  local -n port_out=$1
  local name=$2; shift 2
  taskset -c "$SERVER_CPU" "$BIN_DIR/$name" --port 0 --port-file "$work/$name.port" \
    --data-dir "$work/$name" --log-level warn "$@" > "$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 400); do [ -s "$work/$name.port" ] && break; sleep 0.05; done
  [ -s "$work/$name.port" ] || { echo "bench: $name did not start:" >&2; cat "$work/$name.log" >&2; exit 1; }
  port_out=$(cat "$work/$name.port")
  wait_http "http://127.0.0.1:$port_out/health/ready"
}

wait_http() {  # url
  for _ in $(seq 1 400); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: $1 did not answer" >&2; exit 1
}

# A port nothing listens on (nginx cannot take port 0 and report it back).
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 30000 ))
    ss -Hltn "sport = :$port" | grep -q . || { echo "$port"; return 0; }
  done
  echo "bench: no free port found" >&2; return 1
}

# One wrk run on CLIENT_CPU; prints "requests_per_second p99_ms". Any non-2xx answer fails the
# benchmark (a fast error is not a result); socket errors are reported.
run_wrk() {  # name url [lua script] [threads] [connections]
  local name=$1 url=$2 script=${3:-} threads=${4:-1} conns=${5:-$CONNECTIONS}
  local out
  out=$(taskset -c "$CLIENT_CPU" wrk -t"$threads" -c"$conns" -d"$DURATION" --latency ${script:+-s "$script"} "$url")
  echo "$out" > "$work/wrk-$name-$RANDOM.txt"
  local rps p99 errors sockets
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' <<<"$out")
  errors=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  [ -z "$errors" ] || { echo "bench: $name got $errors non-2xx responses" >&2; exit 1; }
  sockets=$(awk '/Socket errors/ {print}' <<<"$out")
  [ -z "$sockets" ] || echo "bench: $name: $sockets" >&2
  echo "$rps $p99"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
