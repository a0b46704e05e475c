#!/usr/bin/env bash
# The virtual-key path against the master-key path, in one run: haimaker (1 worker, release)
# with a Postgres database, spend tracking on (spend-log rows, key/user/team increments), the
# key served from the worker's key cache. Reports wrk numbers for both keys at c=64 and c=8,
# the Postgres connections the pod holds under load, and rows written.
#
#   bench/db.sh            # needs nginx, wrk (bench/run.sh install) and Postgres on 127.0.0.1:5432
# Env: DURATION (15), PG (postgres://postgres@127.0.0.1:5432), WORKERS (1)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
WORKERS=${WORKERS:-1}
scratch=${SCRATCH:-${TMPDIR:-/tmp}/haimaker-bench}/db
mkdir -p "$scratch/nginx/logs" "$scratch/nginx/tmp"
db=hm_bench_$$
port=14201

cargo build -q --release -p haimaker
psql -q "$PG/postgres" -c "CREATE DATABASE $db"
nginx -p "$scratch/nginx" -e "$scratch/nginx/logs/error.log" -c "$PWD/bench/nginx-fake-openai.conf"
gw=""
cleanup() {
  [ -n "$gw" ] && kill -INT "$gw" 2>/dev/null && wait "$gw" 2>/dev/null
  kill -QUIT "$(cat "$scratch/nginx/logs/nginx.pid")" 2>/dev/null || true
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap cleanup EXIT

DATABASE_URL="$PG/$db" target/release/haimaker --config bench/litellm-config.yaml --host 127.0.0.1 \
  --port $port --num_workers "$WORKERS" > "$scratch/gateway.log" 2>&1 &
gw=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$port/health/readiness" >/dev/null && break; sleep 0.1; done
key=$(curl -s "127.0.0.1:$port/key/generate" -H 'Authorization: Bearer sk-1234' -d '{"key_alias":"bench","max_budget":1000000}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

run() { # label key conns
  WRK_KEY=$2 wrk -t2 -c"$3" -d"${DURATION}s" --latency -s bench/chat.lua \
    "http://127.0.0.1:$port/v1/chat/completions" | grep WRKSUMMARY \
    | awk -v l="$1 c=$3" '{print l, $5, $6, $7, $9, $12, $13}'
}
conns() { psql -Atq "$PG/postgres" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'"; }
for c in 64 8; do
  run master sk-1234 "$c"
  run virtual "$key" "$c" &
  load=$!
  sleep $((DURATION / 2))
  echo "postgres connections held during the virtual-key load: $(conns)"
  wait "$load"
done
sleep 12 # one flush interval (proxy_batch_write_at 10 s with jitter)
echo "spend-log rows: $(psql -Atq "$PG/$db" -c 'SELECT count(*) FROM "LiteLLM_SpendLogs"'), key spend: $(psql -Atq "$PG/$db" -c "SELECT round(spend::numeric, 6) FROM \"LiteLLM_VerificationToken\" WHERE key_alias = 'bench'")"
