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
echo "\$ tsdb serve ... (dashboards API and UI bundle from the installed package)"
"$work/venv/bin/python" - "$tsdb" "$work/serve-data" <<'PY'
import json, os, pathlib, socket, subprocess, sys, time, urllib.error, urllib.request
import tsdb.ui
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
port = free_port()
base = f"http://127.0.0.1:{port}"
proc = subprocess.Popen([sys.argv[1], "serve", "--data-dir", sys.argv[2], "--no-collect",
                         "--http-listen", f"127.0.0.1:{port}", "--grpc-listen", f"127.0.0.1:{free_port()}"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def get(path: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
try:
    for _ in range(300):
        try:
            if get("/-/ready")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    status, _, body = get("/api/v1/dashboards")
    uids = sorted(d["uid"] for d in json.loads(body))
    assert status == 200 and {"host-overview", "tsdb-self", "alerting-overview"} <= set(uids), (status, uids)
    print("built-in dashboards:", ", ".join(uids))
    static = pathlib.Path(tsdb.ui.__file__).parent / "static"
    if (static / "index.html").is_file():
        status, headers, _ = get("/ui/")
        assert status == 200 and headers["Content-Type"].startswith("text/html"), status
        asset = sorted(p for p in (static / "assets").rglob("*") if p.is_file() and not p.name.endswith(".gz"))[0]
        status, headers, body = get("/ui/assets/" + asset.relative_to(static / "assets").as_posix())
        assert status == 200 and body == asset.read_bytes(), status
        print("UI bundle served: /ui/ and", asset.name)
    else:
        assert get("/ui/")[0] == 503
        print("UI bundle not built into this wheel: /ui/ answers 503")
finally:
    proc.terminate()
    proc.wait(timeout=60)
PY
echo "wheel smoke: OK"
