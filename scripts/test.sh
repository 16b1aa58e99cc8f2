#!/usr/bin/env bash
# Install the test dependencies (pip; Debian's peers when root with apt) and run the whole suite:
# lint, types, the web UI's committed bundle against a fresh build and its JavaScript unit tests, the
# installed wheel from outside the checkout, a jit-disabled run of the kernel tests (coverage of
# kernel bodies), everything with the coverage gate (without the PromQL corpus, so any clone gets the same
# figure), then the PromQL corpus tests when the corpus is present.
set -euo pipefail
cd "$(dirname "$0")/.."

# Binaries the suite runs (tests/needs.py require_binary) and the Debian package providing each;
# under CI=true a test skipped because one is missing fails (tests/conftest.py). Only the packages of
# missing binaries are installed: a machine whose Node.js comes from elsewhere keeps it (Debian's npm
# conflicts with other Node.js builds).
declare -A package_of=(
  [prometheus]=prometheus [promtool]=prometheus [prometheus-alertmanager]=prometheus-alertmanager
  [amtool]=prometheus-alertmanager [prometheus-node-exporter]=prometheus-node-exporter
  [victoria-metrics]=victoria-metrics [vmagent]=victoria-metrics [tmux]=tmux [openssl]=openssl [curl]=curl
  [node]=nodejs [npm]=npm [chromium]=chromium [chromedriver]=chromium-driver [collectd]=collectd [etcd]=etcd-server
)
packages=()
for bin in "${!package_of[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || packages+=("${package_of[$bin]}")
done
python3 -c 'import ctypes.util, sys; sys.exit(ctypes.util.find_library("xxhash") is None)' || packages+=(libxxhash0)
if [ "${#packages[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
  echo "== installing Debian peers (${packages[*]})"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

echo "== installing tsdb with test extras"
python3 -m pip install -q --disable-pip-version-check -e '.[test]'

echo "== ruff"
ruff check .
echo "== mypy"
mypy

echo "== UI bundle is current"
bash scripts/check-ui-bundle.sh
echo "== UI unit tests (node --test)"
(cd ui && npm test)

echo "== wheel: build, install into a fresh venv outside the checkout, run the installed tsdb"
bash scripts/wheel_smoke.sh

export PYTHONHASHSEED=0
# The coverage gate must not depend on data outside the repository: hide the PromQL corpus here.
echo "== kernel tests without JIT (coverage of kernel bodies)"
TSDB_PROMQL_CORPUS="" NUMBA_DISABLE_JIT=1 python3 -m pytest -q -m "kernel and not corpus" -p no:randomly \
  --cov=tsdb --cov-report= -o addopts="" --hypothesis-profile=nojit -W "ignore:overflow encountered:RuntimeWarning" \
  tests
echo "== full suite (PromQL corpus hidden), coverage gate 90%"
TSDB_PROMQL_CORPUS="" python3 -m pytest -q -m "not corpus" --cov=tsdb --cov-append \
  --cov-report=term:skip-covered --cov-fail-under=90 tests

echo "== PromQL corpus (Prometheus's promql/promqltest files)"
corpus="$(python3 -c 'from tests.needs import promql_corpus; print(promql_corpus() or "")')"
if [ -n "$corpus" ]; then
  echo "corpus: $corpus"
  TSDB_PROMQL_CORPUS="$corpus" python3 -m pytest -q -m corpus -p no:randomly tests
else
  echo "!! PromQL corpus ABSENT (looked at \$TSDB_PROMQL_CORPUS, else ../shared/promql-tests): conformance tests" \
       "NOT run. Put Prometheus's promql/promqltest/testdata/*.test there to run them."
fi
