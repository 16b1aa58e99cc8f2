#!/usr/bin/env bash
# Rebuilds the web UI from ui/ and fails when the committed bundle in tsdb/ui/static differs from the build
# (the bundle is committed so that the Python package needs no Node.js; this keeps it honest).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/ui"
npm ci --no-audit --no-fund
npm run build
cd "$root"
status=0
if ! git diff --exit-code --stat -- tsdb/ui/static; then
  echo "check-ui-bundle: the committed UI bundle (tsdb/ui/static) differs from a fresh build of ui/." >&2
  status=1
fi
untracked="$(git ls-files --others --exclude-standard -- tsdb/ui/static)"
if [ -n "$untracked" ]; then
  echo "check-ui-bundle: the build produced files that are not committed:" >&2
  echo "$untracked" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "check-ui-bundle: run 'cd ui && npm ci && npm run build' and commit tsdb/ui/static." >&2
  exit 1
fi
echo "check-ui-bundle: tsdb/ui/static matches a fresh build."
