#!/usr/bin/env bash
# What Redis costs on the request path, in one run: haimaker (1 worker, release) with Postgres and
# Redis, against the nginx fake upstream.
#   off      a virtual key without limits or budget (no Redis call on the request path)
#   on       a virtual key with rpm/tpm/parallel limits and a budget (the limit script, the budget
#            reservation, and the release/settle/token writes, every request)
#   on/host  the same key on a gateway that names Redis with router_settings.redis_host/port
#            instead of REDIS_URL
#   hits     response-cache hits (litellm_settings.cache: true, the same request every time)
#
#   bench/redis.sh   # needs nginx, wrk (bench/run.sh install), Postgres and Redis on 127.0.0.1
# Env: DURATION (15), PG (postgres://postgres@127.0.0.1:5432), REDIS (redis://127.0.0.1:6379),
#      CONNS ("64 8")
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
REDIS=${REDIS:-redis://127.0.0.1:6379}
CONNS=${CONNS:-64 8}
scratch=${SCRATCH:-${TMPDIR:-/tmp}/haimaker-bench}/redis
mkdir -p "$scratch/nginx/logs" "$scratch/nginx/tmp"
db=hm_bench_redis_$$
prefix="hmbench:$$:"

cargo build -q --release -p haimaker
psql -q "$PG/postgres" -c "CREATE DATABASE $db"
nginx -p "$scratch/nginx" -e "$scratch/nginx/logs/error.log" -c "$PWD/bench/nginx-fake-openai.conf"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  kill -QUIT "$(cat "$scratch/nginx/logs/nginx.pid")" 2>/dev/null || true
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  redis-cli -u "$REDIS" --scan --pattern "$prefix*" | xargs -r redis-cli -u "$REDIS" unlink >/dev/null || true
}
trap cleanup EXIT

host_port=${REDIS#redis://}
cp bench/litellm-config.yaml "$scratch/host.yaml"
printf 'router_settings:\n  redis_host: %s\n  redis_port: %s\n' "${host_port%%:*}" "${host_port##*:}" >> "$scratch/host.yaml"
cp bench/litellm-config.yaml "$scratch/cache.yaml"
printf '  cache: true\n  cache_params:\n    type: redis\n' >> "$scratch/cache.yaml"

start() { # port config [env...]
  local port=$1 config=$2
  shift 2
  env DATABASE_URL="$PG/$db" HAIMAKER_REDIS_PREFIX="$prefix" "$@" target/release/haimaker \
    --config "$config" --host 127.0.0.1 --port "$port" --num_workers 1 > "$scratch/gw-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "127.0.0.1:$port/health/readiness" >/dev/null && return; sleep 0.1; done
  echo "gateway on $port did not become ready" >&2; exit 1
}
start 14301 bench/litellm-config.yaml REDIS_URL="$REDIS"
start 14302 "$scratch/host.yaml"
start 14303 "$scratch/cache.yaml" REDIS_URL="$REDIS"

generate() {
  curl -s "127.0.0.1:14301/key/generate" -H 'Authorization: Bearer sk-1234' -d "$1" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'
}
plain=$(generate '{"key_alias":"plain"}')
limited=$(generate '{"key_alias":"limited","rpm_limit":100000000,"tpm_limit":100000000000,"max_parallel_requests":10000,"max_budget":1000000}')

run() { # label port key conns
  WRK_KEY=$3 wrk -t2 -c"$4" -d"${DURATION}s" --latency -s bench/chat.lua \
    "http://127.0.0.1:$2/v1/chat/completions" | grep WRKSUMMARY \
    | awk -v l="$1 c=$4" '{print l, $5, $6, $8, $11, $12}'
}
for c in $CONNS; do
  run off 14301 "$plain" "$c"
  run on 14301 "$limited" "$c"
  run on/host 14302 "$limited" "$c"
  run hits 14303 sk-1234 "$c"
done
echo "redis keys under the bench prefix: $(redis-cli -u "$REDIS" --scan --pattern "$prefix*" | wc -l)"
