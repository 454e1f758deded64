#!/usr/bin/env bash
# HTTP baseline: the hello sample's GET /items/{id} (full chassis: routing, metrics, trace
# context, correlation ids) against nginx serving the same bytes as a static file. Each server is
# pinned to CPU 0 and wrk to CPU 1; same connections, threads and duration; the two are measured
# alternately, ROUNDS times, in one invocation, and the medians are compared.
#
#   bash bench/http_baseline/run.sh            # defaults: 3 rounds of 10 s, 50 connections
#   ROUNDS=5 DURATION=20s CONNECTIONS=100 bash bench/http_baseline/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
ITEM=${ITEM:-item-0042}
BIN_DIR=${BIN_DIR:-build/bin}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}

for tool in wrk nginx taskset curl ss; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
[ -x "$BIN_DIR/hello" ] || { echo "bench: $BIN_DIR/hello is missing (run make build)" >&2; exit 1; }

source "$ROOT/bench/lib.sh"
bench_init http

# --- hello ----------------------------------------------------------------------------------
start_service hello_port hello

# --- nginx with the very same bytes ----------------------------------------------------------
mkdir -p "$work/www/items" "$work/nginx"
curl -fsS "http://127.0.0.1:$hello_port/items/$ITEM" -o "$work/www/items/$ITEM"
bytes=$(stat -c %s "$work/www/items/$ITEM")
nginx_port=$(free_port)
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  open_file_cache max=64 inactive=60s;  # a production setting: no open/stat per request
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  types { application/json json; }
  default_type application/json;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
  }
}
CONF
taskset -c "$SERVER_CPU" nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
wait_http "http://127.0.0.1:$nginx_port/items/$ITEM"

echo "bench: GET /items/$ITEM ($bytes bytes), $ROUNDS rounds x $DURATION, $CONNECTIONS connections, servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
# Warm both up (page cache, allocator, branch predictors) before measuring.
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$nginx_port/items/$ITEM" >/dev/null
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$hello_port/items/$ITEM" >/dev/null

: > "$work/nginx.rps"; : > "$work/nginx.p99"; : > "$work/hello.rps"; : > "$work/hello.p99"
for round in $(seq 1 "$ROUNDS"); do
  read -r rps p99 < <(run_wrk nginx "http://127.0.0.1:$nginx_port/items/$ITEM")
  echo "$rps" >> "$work/nginx.rps"; echo "$p99" >> "$work/nginx.p99"
  printf '  round %d  nginx   %10.0f req/s  p99 %7.3f ms\n' "$round" "$rps" "$p99"
  read -r rps p99 < <(run_wrk hello "http://127.0.0.1:$hello_port/items/$ITEM")
  echo "$rps" >> "$work/hello.rps"; echo "$p99" >> "$work/hello.p99"
  printf '  round %d  mercato %10.0f req/s  p99 %7.3f ms\n' "$round" "$rps" "$p99"
done

nginx_rps=$(median < "$work/nginx.rps"); nginx_p99=$(median < "$work/nginx.p99")
hello_rps=$(median < "$work/hello.rps"); hello_p99=$(median < "$work/hello.p99")
ratio=$(awk -v a="$hello_rps" -v b="$nginx_rps" 'BEGIN {printf "%.2f", a/b}')
p99_ratio=$(awk -v a="$hello_p99" -v b="$nginx_p99" 'BEGIN {printf "%.2f", a/b}')
hello_rss=$(awk '/VmRSS/ {print $2/1024 " MiB"}' "/proc/${pids[0]}/status" 2>/dev/null || echo "?")

mkdir -p "$RESULTS_DIR"
report="$RESULTS_DIR/http_baseline.txt"
{
  echo "http_baseline $(date -u +%FT%TZ) $(nproc) cores, $ROUNDS x $DURATION, $CONNECTIONS connections, $bytes-byte document"
  printf '%-10s %12s %10s\n' server "req/s" "p99 ms"
  printf '%-10s %12.0f %10.3f\n' nginx "$nginx_rps" "$nginx_p99"
  printf '%-10s %12.0f %10.3f\n' mercato "$hello_rps" "$hello_p99"
  echo "throughput ratio mercato/nginx: ${ratio}x   p99 ratio mercato/nginx: ${p99_ratio}x   hello RSS after: $hello_rss"
} | tee "$report"
