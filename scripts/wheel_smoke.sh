#!/usr/bin/env bash
# Build a wheel of this checkout, install it into a fresh venv outside the checkout and run the installed
# `tsdb` from a temp directory: everything the installed CLI uses must be inside the package.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/tsdb-wheel-smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# build from a copy of what the wheel is made of, so the checkout gets no build/ or *.egg-info
mkdir -p "$work/src" "$work/dist" "$work/cwd"
tar -C "$root" --exclude=__pycache__ --exclude='*.pyc' -cf - pyproject.toml README.md tsdb | tar -C "$work/src" -xf -
"$python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$work/dist" "$work/src" 2> >(grep -v "is ignored" >&2)
wheel="$(ls "$work/dist"/tsdb-*.whl)"
echo "built $(basename "$wheel")"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$wheel" 2> >(grep -v "is ignored" >&2)

cd "$work/cwd"  # not the checkout: nothing of the source tree is importable from here
tsdb="$work/venv/bin/tsdb"
"$work/venv/bin/python" - "$work/venv" <<'PY'
import sys
import tsdb
assert tsdb.__file__.startswith(sys.argv[1]), f"imported {tsdb.__file__}, not the installed wheel"
print("tsdb imported from", tsdb.__file__)
PY
echo "\$ tsdb --help"
"$tsdb" --help
echo "\$ tsdb bench ingest --help"
"$tsdb" bench ingest --help >/dev/null && echo "(ok)"
echo "\$ tsdb bench peers --targets tsdb --series 10 --duration 5m --runs 1 --query-runs 1 --no-grpc ..."
"$tsdb" bench peers --targets tsdb --series 10 --duration 5m --runs 1 --query-runs 1 --no-grpc --no-progress \
  --max-seconds 120 --out-md "$work/peers.md" | tail -n 4
grep -q "| tsdb |" "$work/peers.md"
echo "wheel smoke: OK"
