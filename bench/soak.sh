#!/usr/bin/env bash
# Soak: haimaker under full wrk load for DURATION seconds against the nginx fake upstream.
# Reports wrk's failed requests, how many workers were recycled, how the requests were shared
# between workers, and each worker's RSS before and after.
#
#   bench/soak.sh                                          # 2 workers, 60 s, c=64
#   bench/soak.sh --max_requests_before_restart 1000       # with recycling
#
# Env: WORKERS (2), DURATION (60), CONNS (64). Needs nginx and wrk (bench/run.sh install).
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-2}
DURATION=${DURATION:-60}
CONNS=${CONNS:-64}
scratch=${SCRATCH:-${TMPDIR:-/tmp}/haimaker-bench}/soak
mkdir -p "$scratch/nginx/logs" "$scratch/nginx/tmp"
port=14101
health=14102

cargo build -q --release -p haimaker
nginx -p "$scratch/nginx" -e "$scratch/nginx/logs/error.log" -c "$PWD/bench/nginx-fake-openai.conf"
gw=""
cleanup() {
  [ -n "$gw" ] && kill -INT "$gw" 2>/dev/null && wait "$gw" 2>/dev/null
  kill -QUIT "$(cat "$scratch/nginx/logs/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

HAIMAKER_ACCESS_LOG=false JSON_LOGS=true SEPARATE_HEALTH_APP=1 SEPARATE_HEALTH_PORT=$health \
  target/release/haimaker --config bench/litellm-config.yaml --host 127.0.0.1 --port $port \
  --num_workers "$WORKERS" "$@" > "$scratch/gateway.log" 2>&1 &
gw=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$health/health/readiness" >/dev/null && break; sleep 0.1; done

workers_rss() { # "pid:rss_mb ..." of the active workers
  curl -s "127.0.0.1:$health/health/readiness" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["workers"]["processes"]:
    if p["state"] != "standby":
        pid, slot, gen, served = p["pid"], p["slot"], p["generation"], p["served"]
        rss = int(open("/proc/%d/status" % pid).read().split("VmRSS:")[1].split()[0]) // 1024
        print("w%d.%d (pid %d): %d MB, %d served" % (slot, gen, pid, rss, served), end="; ")'
  echo
}
echo "idle:  $(workers_rss)"
wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s bench/chat.lua "http://127.0.0.1:$port/v1/chat/completions" \
  | grep -E "WRKSUMMARY|Non-2xx|Socket errors" || true
sleep 1.5 # one heartbeat, so the served counts are current
echo "after: $(workers_rss)"
echo "recycled workers: $(grep -c '"status":"exit code 3"' "$scratch/gateway.log" || true)"
echo "teardowns: $(grep -c 'teardown' "$scratch/gateway.log" || true)"
