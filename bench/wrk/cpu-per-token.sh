#!/usr/bin/env bash
# CPU per issued token, measured from outside: the local API server's process CPU time (user +
# system, /proc/<pid>/stat) divided by the requests wrk made against POST /api/oauth2/token
# (client credentials) at `wrk -t2 -c32`. The server runs as Lambda would log and count: JSON log
# lines (KEYGATE_LOG_FORMAT=json, RUST_LOG=info) and EMF metric lines (KEYGATE_METRICS=stdout), to
# /dev/null. Needs wrk (Debian: apt-get install wrk) and a release build of keygate-local.
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

ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
# Warm up (the first requests fill caches and connection pools), then measure.
wrk -t2 -c"$conns" -d2s -s "$root/bench/wrk/token.lua" "$base" >/dev/null 2>&1
before=$(ticks)
out=$(wrk -t2 -c"$conns" -d"${secs}s" -s "$root/bench/wrk/token.lua" "$base" 2>&1)
after=$(ticks)
requests=$(sed -n 's/^requests \([0-9]*\) non200 \([0-9]*\)$/\1/p' <<<"$out")
non200=$(sed -n 's/^requests \([0-9]*\) non200 \([0-9]*\)$/\2/p' <<<"$out")
rps=$(sed -n 's/^Requests\/sec: *//p' <<<"$out")
python3 - "$before" "$after" "$hz" "$requests" "$non200" "$rps" <<'PY'
import sys
before, after, hz, n, bad, rps = sys.argv[1:]
cpu = (int(after) - int(before)) / int(hz)
n = int(n)
print(f"POST /api/oauth2/token (client credentials): {n} requests ({bad} not 200), {float(rps):.0f} req/s, "
      f"server CPU {cpu:.2f} s -> {cpu / n * 1e6:.1f} us of CPU per token")
PY
