#!/usr/bin/env bash
# identity benchmark, each figure against a baseline run side by side on the same machine:
#  - logins/s (POST /auth/login at the OWASP Argon2id cost) against bare Argon2id
#    verifications/s on the same single CPU: a login cannot be cheaper than its hash, so the
#    ratio says what the service adds (JSON, SQLite read + refresh-token write, RSA signing);
#  - verified-token requests/s on GET /users/me against hello's GET /items/{id} (the chassis
#    alone, no token, from memory): the price of authentication plus the user's document (from
#    identity's user cache); the service's signature-check counter shows the verifier's cache
#    (one RSA check per token).
# identity and hello are pinned to CPU 0, wrk and the baseline tool to CPU 1 (the Argon2
# baseline runs on CPU 0 like the service's hashing pool).
#
#   bash bench/identity/run.sh                 # defaults: 3 rounds of 10 s, 50 connections
#   ROUNDS=5 DURATION=20s bash bench/identity/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
LOGIN_CONNECTIONS=${LOGIN_CONNECTIONS:-4}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BIN_DIR=${BIN_DIR:-build/bin}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}

for tool in wrk taskset curl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
for bin in identity hello identity_argon2_rate; do
  [ -x "$BIN_DIR/$bin" ] || { echo "bench: $BIN_DIR/$bin is missing (run make build)" >&2; exit 1; }
done

source "$ROOT/bench/lib.sh"
bench_init identity

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# High free-failure allowances: the bench logs in successfully, but from one address.
start_service identity_port identity --nats-url= --ip-free-failures 100000
start_service hello_port hello
base="http://127.0.0.1:$identity_port"
curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$hello_port/items/item-0042" -H 'Content-Type: application/json' \
  -d '{"sku":"SKU-42","name":"Bench item","description":"A document the size of a small product","price":{"amount":1999,"currency":"USD"},"weight_g":250}'

# One account per login connection: identity admits one login per account at a time (parallel
# guesses must not race past the throttle), so each wrk thread logs in as its own user.
for i in $(seq 1 "$LOGIN_CONNECTIONS"); do
  curl -fsS -o /dev/null -X POST "$base/auth/register" -H 'Content-Type: application/json' \
    -d "{\"email\":\"bench$i@example.com\",\"password\":\"correct horse battery staple\",\"name\":\"Bench $i\"}"
done
token=$(curl -fsS -X POST "$base/auth/login" \
  -d '{"email":"bench1@example.com","password":"correct horse battery staple"}' | json_field access_token)

cat > "$work/login.lua" <<'LUA'
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("account", counter)
end
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"email":"bench' .. account .. '@example.com","password":"correct horse battery staple"}'
end
LUA
cat > "$work/me.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
LUA

echo "bench: identity on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU, $ROUNDS rounds x $DURATION"
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d2s -s "$work/me.lua" "$base/users/me" >/dev/null
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$hello_port/items/item-0042" >/dev/null
checks_before=$(curl -fsS "$base/metrics" | awk '/^mercato_identity_token_signature_checks_total/ {print $2}')

for f in argon login me hello; do : > "$work/$f.rps"; : > "$work/$f.p99"; done
seconds=${DURATION%s}
for round in $(seq 1 "$ROUNDS"); do
  argon=$(taskset -c "$SERVER_CPU" "$BIN_DIR/identity_argon2_rate" --seconds "$seconds")
  echo "$argon" >> "$work/argon.rps"
  printf '  round %d  argon2id verify      %10.1f /s (one thread, bare)\n' "$round" "$argon"
  read -r rps p99 < <(run_wrk login "$base/auth/login" "$work/login.lua" "$LOGIN_CONNECTIONS" "$LOGIN_CONNECTIONS")
  echo "$rps" >> "$work/login.rps"; echo "$p99" >> "$work/login.p99"
  printf '  round %d  POST /auth/login     %10.1f /s  p99 %8.2f ms\n' "$round" "$rps" "$p99"
  read -r rps p99 < <(run_wrk me "$base/users/me" "$work/me.lua")
  echo "$rps" >> "$work/me.rps"; echo "$p99" >> "$work/me.p99"
  printf '  round %d  GET /users/me        %10.0f /s  p99 %8.3f ms\n' "$round" "$rps" "$p99"
  read -r rps p99 < <(run_wrk hello "http://127.0.0.1:$hello_port/items/item-0042")
  echo "$rps" >> "$work/hello.rps"; echo "$p99" >> "$work/hello.p99"
  printf '  round %d  hello GET /items/id  %10.0f /s  p99 %8.3f ms\n' "$round" "$rps" "$p99"
done
checks_after=$(curl -fsS "$base/metrics" | awk '/^mercato_identity_token_signature_checks_total/ {print $2}')

argon=$(median < "$work/argon.rps")
login=$(median < "$work/login.rps"); login_p99=$(median < "$work/login.p99")
me=$(median < "$work/me.rps"); me_p99=$(median < "$work/me.p99")
hello=$(median < "$work/hello.rps"); hello_p99=$(median < "$work/hello.p99")
mkdir -p "$RESULTS_DIR"
{
  echo "identity $(date -u +%FT%TZ) $(nproc) cores, $ROUNDS x $DURATION; Argon2id m=19456 KiB t=2 p=1"
  printf '%-28s %12s %10s\n' what "per second" "p99 ms"
  printf '%-28s %12.1f %10s\n' "argon2id verify (baseline)" "$argon" "-"
  printf '%-28s %12.1f %10.2f\n' "POST /auth/login" "$login" "$login_p99"
  printf '%-28s %12.0f %10.3f\n' "hello GET /items (baseline)" "$hello" "$hello_p99"
  printf '%-28s %12.0f %10.3f\n' "GET /users/me (verified)" "$me" "$me_p99"
  awk -v a="$login" -v b="$argon" 'BEGIN {printf "logins/s vs bare Argon2id: %.2fx\n", a/b}'
  awk -v a="$me" -v b="$hello" -v p="$me_p99" -v q="$hello_p99" \
    'BEGIN {printf "GET /users/me vs hello GET /items: %.2fx throughput, %.2fx p99\n", a/b, p/q}'
  awk -v a="$checks_before" -v b="$checks_after" \
    'BEGIN {printf "RSA signature checks during the measured GET /users/me runs: %d (the token is verified once, then cached)\n", b-a}'
} | tee "$RESULTS_DIR/identity.txt"
