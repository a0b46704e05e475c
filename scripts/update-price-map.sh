#!/usr/bin/env bash
# Refresh the model price map bundled in crates/haimaker-pricing/data/ from the
# litellm wheel on PyPI (MIT-licensed data). Usage:
#
#   scripts/update-price-map.sh [VERSION]
#
# VERSION defaults to the pinned one below. Never use 1.107.x: those releases
# were compromised. Only the wheel is fetched (--only-binary), so no package
# code runs; the two files we need are read out of the zip.
set -euo pipefail

VERSION="${1:-1.77.7}"
case "$VERSION" in
  1.107.*) echo "refusing litellm $VERSION: the 1.107.x releases were compromised" >&2; exit 1 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/crates/haimaker-pricing/data"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --dest "$TMP" "litellm==$VERSION"

shopt -s nullglob
wheels=("$TMP"/litellm-"$VERSION"-*.whl)
if [ "${#wheels[@]}" -ne 1 ]; then
  echo "expected exactly one litellm $VERSION wheel, found ${#wheels[@]}" >&2
  exit 1
fi
WHEEL="${wheels[0]}"
SHA="$(sha256sum "$WHEEL" | cut -d' ' -f1)"

# The licence sits in the .dist-info folder (its exact name differs between
# build back-ends: LICENSE, LICENSE.md, licenses/LICENSE...).
LICENSE_PATH="$(python3 - "$WHEEL" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
hits = [n for n in names if ".dist-info/" in n and n.rsplit("/", 1)[-1].upper().startswith("LICEN")]
print(hits[0] if hits else "")
PY
)"
if [ -z "$LICENSE_PATH" ]; then
  echo "no LICENSE file found in $WHEEL" >&2
  exit 1
fi

mkdir -p "$DEST"
unzip -p "$WHEEL" litellm/model_prices_and_context_window_backup.json > "$TMP/model_prices.json"
unzip -p "$WHEEL" "$LICENSE_PATH" > "$TMP/LICENSE-litellm"

# Sanity check before replacing anything: it must be a JSON object of models.
python3 - "$TMP/model_prices.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
assert isinstance(data, dict) and len(data) > 1000, "price map looks wrong"
PY

mv "$TMP/model_prices.json" "$DEST/model_prices.json"
mv "$TMP/LICENSE-litellm" "$DEST/LICENSE-litellm"
cat > "$DEST/SOURCE" <<SRC
package: litellm
version: $VERSION
wheel: $(basename "$WHEEL")
wheel_sha256: $SHA
files:
  model_prices.json <- litellm/model_prices_and_context_window_backup.json (verbatim)
  LICENSE-litellm   <- $LICENSE_PATH (verbatim)
refresh: scripts/update-price-map.sh [VERSION]
SRC

echo "bundled litellm $VERSION ($(wc -c < "$DEST/model_prices.json") bytes of price map), wheel sha256 $SHA"
