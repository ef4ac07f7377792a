#!/usr/bin/env bash
# CPU per issued token, measured from outside: the local API server's process CPU time (user +
# system, /proc/<pid>/stat) divided by the requests wrk made against POST /api/oauth2/token
# (client credentials) at `wrk -t2 -c32`. The server runs as Lambda would log and count: JSON log
# lines (KEYGATE_LOG_FORMAT=json, RUST_LOG=info) and EMF metric lines (KEYGATE_METRICS=stdout), to
# /dev/null. Needs wrk (Debian: apt-get install wrk) and a release build of keygate-local.
#
# In the same run, for reading the figure:
# - one P-256 signature, `openssl speed ecdsap256` (the target is CPU per token ≤ 2 × that);
# - the floor: the same server's CPU per `GET /.well-known/jwks.json`, a request that does no
#   work (a cached document), under the same wrk — what loopback HTTP, hyper and the logs cost a
#   request on this machine before any handler runs.
#   SECONDS_PER_RUN (default 10), CONNECTIONS (32), BIN (target/release/keygate-local)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${BIN:-$root/target/release/keygate-local}
secs=${SECONDS_PER_RUN:-10}
conns=${CONNECTIONS:-32}
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
[ -x "$bin" ] || { echo "$bin not found: cargo build --release -p keygate-local" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
env -i PATH="$PATH" KEYGATE_LISTEN="127.0.0.1:$port" KEYGATE_LOG_FORMAT=json RUST_LOG=info \
    KEYGATE_METRICS=stdout "$bin" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "$base/.well-known/jwks.json" >/dev/null && break; sleep 0.1; done

key=$(curl -sf -X POST "$base/_local/accounts" -H 'content-type: application/json' \
    -d '{"name":"wrk","ownerEmail":"wrk@bench.test"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
curl -sf -X PUT "$base/api/account/authSettings" -H "authorization: Basic $key" \
    -H 'content-type: application/json' -d '{"method":"OAUTH2"}' >/dev/null
client=$(curl -sf -X POST "$base/api/oauth2/clients" -H "authorization: Basic $key" \
    -H 'content-type: application/json' -d '{"name":"wrk","scopes":["Basic"]}')
export KG_CLIENT_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["clientId"])' "$client")
export KG_CLIENT_SECRET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["clientSecret"])' "$client")

# utime and stime of the server, in clock ticks.
times() { awk '{print $14, $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)

# One measured wrk run against `url` (token.lua: the token request, or with KG_PLAIN_GET=1 a plain
# GET of `url`): "<requests> <non-200> <user ticks> <sys ticks>".
measure() {
    local url=$1 out u0 s0 u1 s1
    # Warm up (the first requests fill caches and connection pools), then measure.
    wrk -t2 -c"$conns" -d2s -s "$root/bench/wrk/token.lua" "$url" >/dev/null 2>&1
    read -r u0 s0 < <(times)
    out=$(wrk -t2 -c"$conns" -d"${secs}s" -s "$root/bench/wrk/token.lua" "$url" 2>&1)
    read -r u1 s1 < <(times)
    sed -n 's/^requests \([0-9]*\) non200 \([0-9]*\)$/\1 \2/p' <<<"$out" | tr '\n' ' '
    echo "$((u1 - u0)) $((s1 - s0))"
}
token=$(measure "$base")
floor=$(KG_PLAIN_GET=1 measure "$base/.well-known/jwks.json")
signs=$(openssl speed -seconds 3 ecdsap256 2>/dev/null | awk '/256 bits ecdsa/ {print $(NF-1)}')

python3 - "$hz" "$secs" "$signs" $token $floor <<'PY'
import sys
hz, secs, signs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
n, bad, u, s, fn, fbad, fu, fs = map(int, sys.argv[4:12])
us = lambda ticks, reqs: ticks / hz / reqs * 1e6
sig = 1e6 / signs
total = us(u + s, n)
print(f"POST /api/oauth2/token (client credentials): {n} requests ({bad} not 200), {n / secs:.0f} req/s, "
      f"server CPU {(u + s) / hz:.2f} s -> {total:.1f} us of CPU per token "
      f"(user {us(u, n):.1f}, system {us(s, n):.1f})")
print(f"floor, GET /.well-known/jwks.json: {fn} requests ({fbad} not 200), {fn / secs:.0f} req/s -> "
      f"{us(fu + fs, fn):.1f} us per request (user {us(fu, fn):.1f}, system {us(fs, fn):.1f})")
print(f"one P-256 signature (openssl speed ecdsap256): {sig:.1f} us -> a token is {total / sig:.2f} x "
      f"(target <= 2 x); above the floor {(total - us(fu + fs, fn)) / sig:.2f} x")
PY
