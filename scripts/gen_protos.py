"""Regenerate tsdb/server/pb/ from protos/ (run after editing a .proto; a test checks they match)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tsdb" / "server" / "pb"


def main() -> int:
    protos = sorted((ROOT / "protos").rglob("*.proto"))
    args = ["protoc", f"-I{ROOT / 'protos'}", f"--python_out={OUT}", f"--pyi_out={OUT}",
            f"--grpc_python_out={OUT}", *map(str, protos)]
    if protoc.main(args) != 0:
        return 1
    # generated modules import each other as top-level "tsdb.v1.x_pb2": make them package-relative
    for path in (OUT / "tsdb" / "v1").glob("*.py"):
        text = re.sub(r"^from tsdb\.v1 import", "from tsdb.server.pb.tsdb.v1 import", path.read_text(),
                      flags=re.M)
        path.write_text(text)
    for path in (OUT / "thanos").rglob("*.py"):
        text = re.sub(r"^from thanos\.", "from tsdb.server.pb.thanos.", path.read_text(), flags=re.M)
        path.write_text(text)
    for path in [*(OUT / "datadog").glob("*_pb2_grpc.py"),  # messages only: no gRPC module
                 *(OUT / "thanos" / "store").rglob("types_pb2_grpc.py")]:
        path.unlink()
    thanos = [OUT / "thanos", OUT / "thanos" / "store", OUT / "thanos" / "store" / "labelpb",
              OUT / "thanos" / "store" / "storepb", OUT / "thanos" / "info", OUT / "thanos" / "info" / "infopb"]
    for pkg in (OUT, OUT / "tsdb", OUT / "tsdb" / "v1", OUT / "datadog", *thanos):
        (pkg / "__init__.py").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
