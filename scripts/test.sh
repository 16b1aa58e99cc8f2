#!/usr/bin/env bash
# Install the test dependencies (pip; Debian's peers when root with apt) and run the whole suite:
# lint, types, a jit-disabled run of the kernel tests (coverage of kernel bodies), then everything.
set -euo pipefail
cd "$(dirname "$0")/.."

peers=(prometheus promtool prometheus-alertmanager amtool prometheus-node-exporter victoria-metrics tmux)
missing=0
for bin in "${peers[@]}"; do command -v "$bin" >/dev/null 2>&1 || missing=1; done
if [ "$missing" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Debian peers (prometheus, alertmanager, node-exporter, victoria-metrics, tmux)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager prometheus-node-exporter victoria-metrics tmux >/dev/null
fi

echo "== installing tsdb with test extras"
python3 -m pip install -q --disable-pip-version-check -e '.[test]'

echo "== ruff"
ruff check .
echo "== mypy"
mypy

export PYTHONHASHSEED=0
echo "== kernel tests without JIT (coverage of kernel bodies)"
NUMBA_DISABLE_JIT=1 python3 -m pytest -q -m kernel -p no:randomly --cov=tsdb --cov-report= \
  -o addopts="" --hypothesis-profile=nojit -W "ignore:overflow encountered:RuntimeWarning" tests
echo "== full suite"
python3 -m pytest -q --cov=tsdb --cov-append --cov-report=term:skip-covered --cov-fail-under=90 tests
