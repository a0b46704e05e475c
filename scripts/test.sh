#!/usr/bin/env bash
# Runs every test: the unit tests of every crate and the end-to-end tests, which start the
# real `haimaker` binary against a mock upstream, plus the official `openai` Python SDK checks.
#
# Needs: the Rust toolchain, a C compiler (for ring), python3 with venv. `.ci/run` installs
# what a fresh machine lacks, then calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

# The SDK virtualenv, rebuilt when tests/python/requirements.txt changes.
venv=${HAIMAKER_TEST_VENV:-$PWD/.venv-test}
stamp="$venv/.requirements.sha256"
want=$(sha256sum tests/python/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> creating the SDK test virtualenv in $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  echo "$want" > "$stamp"
fi
export HAIMAKER_TEST_VENV=$venv
# Where LiteLLM's migration SQL lives (the database compatibility tests apply it with psql).
HAIMAKER_LITELLM_MIGRATIONS=$("$venv/bin/python" -c 'import litellm_proxy_extras, os; print(os.path.join(os.path.dirname(litellm_proxy_extras.__file__), "migrations"))')
export HAIMAKER_LITELLM_MIGRATIONS

# Helm's SDK and the Kubernetes schemas for the chart tests (tests/src/e2e/deploy.rs), in the
# virtualenv deploy/render.sh keeps (rebuilt when deploy/requirements.txt changes).
export HAIMAKER_DEPLOY_VENV=${HAIMAKER_DEPLOY_VENV:-$PWD/.venv-deploy}
deploy/render.sh --venv-only

# The e2e tests run the binary; build it once, then test everything.
echo "==> cargo build -p haimaker"
cargo build -p haimaker
echo "==> cargo test --workspace"
cargo test --workspace "$@"
