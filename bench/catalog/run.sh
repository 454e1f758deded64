#!/usr/bin/env bash
# catalog benchmark, each figure against a baseline or a sibling run on the same machine:
#  - GET /products/{id} answered from catalog's product cache (full chassis: routing, metrics,
#    trace context, correlation ids, ETag) against nginx serving the very same bytes as a static
#    file: what the service adds on top of "bytes from memory";
#  - search requests/s: GET /products?q=<two words> (FTS5 + bm25 over the seeded catalog, a page
#    of 20 full documents) and a browse GET /products?category=&sort=price_asc, which show what a
#    cache miss that runs SQL costs next to the hit.
# The servers are pinned to CPU 0 and wrk to CPU 1; the runs alternate, ROUNDS times, and the
# medians are compared. identity only issues the admin token that seeds the catalog.
#
#   bash bench/catalog/run.sh                       # defaults: 3 rounds of 10 s, 50 connections
#   ROUNDS=1 DURATION=3s bash bench/catalog/run.sh  # a quick check that it works
#   PRODUCTS=5000 bash bench/catalog/run.sh         # a bigger catalog to search
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
PRODUCTS=${PRODUCTS:-1000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BIN_DIR=${BIN_DIR:-build/bin}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}

for tool in wrk nginx taskset curl ss python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
for bin in identity catalog; do
  [ -x "$BIN_DIR/$bin" ] || { echo "bench: $BIN_DIR/$bin is missing (run make build)" >&2; exit 1; }
done

source "$ROOT/bench/lib.sh"
bench_init catalog

# --- identity (the admin token) and catalog ---------------------------------------------------
start_service identity_port identity --nats-url= --password-memory-kib 1024 --password-iterations 1
start_service catalog_port catalog --nats-url= \
  --jwks-url "http://127.0.0.1:$identity_port/.well-known/jwks.json"
catalog_pid=${pids[1]}
catalog="http://127.0.0.1:$catalog_port"

# --- seed: PRODUCTS products in a few categories, realistic names, descriptions, attributes ------
python3 - "$identity_port" "$catalog_port" "$work/identity/secrets/admin.json" "$PRODUCTS" > "$work/seed.out" <<'PY'
import json, random, sys, urllib.request
identity, catalog, admin_file, count = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def call(port, method, path, body=None, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    if token: req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as r: return json.loads(r.read() or b"null")
admin = json.load(open(admin_file))
token = call(identity, "POST", "/auth/login", {"email": admin["email"], "password": admin["password"]})["access_token"]
categories = ["running", "hiking", "kitchen", "office", "garden"]
for c in categories: call(catalog, "POST", "/categories", {"id": c, "name": c.title()}, token)
rng = random.Random(42)
adjectives = ["Trail", "Light", "Classic", "Urban", "Alpine", "Compact", "Pro", "Everyday", "Rugged", "Soft"]
nouns = ["Runner", "Jacket", "Kettle", "Backpack", "Lamp", "Chair", "Bottle", "Boot", "Tent", "Mug"]
colors = ["red", "blue", "black", "green", "grey"]
first = None
for i in range(count):
    name = f"{rng.choice(adjectives)} {rng.choice(nouns)} {i}"
    product = call(catalog, "POST", "/products", {
        "sku": f"BENCH-{i:06d}", "name": name,
        "description": f"{name} is a demonstration product of the Mercato catalog benchmark: a "
                       f"description of a couple of sentences, so that search reads realistic text. "
                       f"Made for {rng.choice(categories)} and built to last.",
        "price": {"amount": rng.randint(199, 49999), "currency": "USD"},
        "categories": rng.sample(categories, 2),
        "images": [f"https://img.example.com/bench/{i}.jpg"],
        "attributes": {"color": rng.choice(colors), "size": rng.randint(1, 12), "recycled": rng.random() < 0.3},
        "weight_g": rng.randint(50, 5000)}, token)
    first = first or product["id"]
print(first)
PY
product_id=$(cat "$work/seed.out")
search_url="$catalog/products?q=trail%20runner"
browse_url="$catalog/products?category=hiking&sort=price_asc&max_price=20000"
search_total=$(curl -fsS "$search_url" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')

# --- nginx with the very same bytes ------------------------------------------------------------
mkdir -p "$work/www/products" "$work/nginx"
curl -fsS "$catalog/products/$product_id" -o "$work/www/products/$product_id"
bytes=$(stat -c %s "$work/www/products/$product_id")
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
  open_file_cache max=64 inactive=60s;
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
for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$nginx_port/products/$product_id" 2>/dev/null && break; sleep 0.05; done

item_url="$catalog/products/$product_id"
nginx_url="http://127.0.0.1:$nginx_port/products/$product_id"
echo "bench: $PRODUCTS products; GET /products/{id} ($bytes bytes) vs nginx; search (\"trail runner\": $search_total matches) and browse;"
echo "       $ROUNDS rounds x $DURATION, $CONNECTIONS connections, servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
# Warm-up: page cache, allocator, the product cache, SQLite's page cache.
for url in "$nginx_url" "$item_url" "$search_url" "$browse_url"; do
  taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d2s "$url" >/dev/null
done

for series in nginx item search browse; do : > "$work/$series.rps"; : > "$work/$series.p99"; done
for round in $(seq 1 "$ROUNDS"); do
  for series in nginx item search browse; do
    case $series in
      nginx) url=$nginx_url ;; item) url=$item_url ;; search) url=$search_url ;; browse) url=$browse_url ;;
    esac
    read -r rps p99 < <(run_wrk "$series" "$url")
    echo "$rps" >> "$work/$series.rps"; echo "$p99" >> "$work/$series.p99"
    printf '  round %d  %-7s %10.0f req/s  p99 %8.3f ms\n' "$round" "$series" "$rps" "$p99"
  done
done

declare -A rps p99
for series in nginx item search browse; do
  rps[$series]=$(median < "$work/$series.rps"); p99[$series]=$(median < "$work/$series.p99")
done
metrics=$(curl -fsS "$catalog/metrics")
hits=$(awk '$1=="mercato_catalog_cache_hits_total" {print $2}' <<<"$metrics")
misses=$(awk '$1=="mercato_catalog_cache_misses_total" {print $2}' <<<"$metrics")
ratio=$(awk -v a="${rps[item]}" -v b="${rps[nginx]}" 'BEGIN {printf "%.2f", a/b}')
p99_ratio=$(awk -v a="${p99[item]}" -v b="${p99[nginx]}" 'BEGIN {printf "%.2f", a/b}')
catalog_rss=$(awk '/VmRSS/ {print $2/1024 " MiB"}' "/proc/$catalog_pid/status" 2>/dev/null || echo "?")

mkdir -p "$RESULTS_DIR"
report="$RESULTS_DIR/catalog.txt"
{
  echo "catalog $(date -u +%FT%TZ) $(nproc) cores, $ROUNDS x $DURATION, $CONNECTIONS connections, $PRODUCTS products"
  printf '%-40s %12s %10s\n' request "req/s" "p99 ms"
  printf '%-40s %12.0f %10.3f\n' "nginx, the same $bytes bytes" "${rps[nginx]}" "${p99[nginx]}"
  printf '%-40s %12.0f %10.3f\n' "GET /products/{id} (cache hit)" "${rps[item]}" "${p99[item]}"
  printf '%-40s %12.0f %10.3f\n' "GET /products?q=trail runner ($search_total)" "${rps[search]}" "${p99[search]}"
  printf '%-40s %12.0f %10.3f\n' "GET /products?category=&sort=price_asc" "${rps[browse]}" "${p99[browse]}"
  echo "cache hit ratio mercato/nginx: ${ratio}x   p99 ratio: ${p99_ratio}x   cache hits $hits, misses $misses   catalog RSS after: $catalog_rss"
} | tee "$report"
