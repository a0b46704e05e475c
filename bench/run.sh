#!/usr/bin/env bash
# Benchmarks haimaker side by side with the LiteLLM proxy on the same machine, in one run:
# nginx as a fake OpenAI upstream, wrk as the load (gateway-bench.sh, vendored from the shared
# harness). Prints one ANCHOR line per target and concurrency; rows go to $SCRATCH/results.tsv.
#
#   bench/run.sh install        # once: nginx, wrk, curl (apt) and LiteLLM 1.77.7 in a venv
#   bench/run.sh                # direct nginx, LiteLLM (WORKERS), haimaker (WORKERS)
#   bench/run.sh haimaker       # haimaker only
#
# Knobs: WORKERS (default 1), CONNS (default "64 8"), DURATION, WARMUP: see gateway-bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
here=bench
workers=${WORKERS:-1}
export CONNS=${CONNS:-"64 8"}
export LITELLM_WORKERS=$workers

if [ "${1:-}" = install ]; then
  exec "$here/gateway-bench.sh" install
fi

cargo build --release -p haimaker
port=14001
cmd="$PWD/target/release/haimaker --config $PWD/$here/litellm-config.yaml --host 127.0.0.1 --port $port --num_workers $workers"
case "${1:-compare}" in
  haimaker) LABEL=haimaker-w$workers exec "$here/gateway-bench.sh" custom "$cmd" $port ;;
  compare) exec "$here/gateway-bench.sh" compare "$cmd" $port ;;
  *) echo "usage: bench/run.sh [install|compare|haimaker]" >&2; exit 2 ;;
esac
