"""The committed generated code in tsdb/server/pb matches protos/ (regenerate: python scripts/gen_protos.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from tsdb.server.pb.datadog import agent_payload_pb2
from tsdb.server.pb.thanos.info.infopb import rpc_pb2 as info_rpc_pb2
from tsdb.server.pb.thanos.store.labelpb import types_pb2 as label_types_pb2
from tsdb.server.pb.thanos.store.storepb import rpc_pb2 as store_rpc_pb2
from tsdb.server.pb.thanos.store.storepb import types_pb2 as store_types_pb2
from tsdb.server.pb.tsdb.v1 import remote_pb2, tsdb_pb2

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_current(tmp_path: Path) -> None:
    out = tmp_path / "set.pb"
    protos = sorted((ROOT / "protos").rglob("*.proto"))
    assert protoc.main(["protoc", f"-I{ROOT / 'protos'}", f"--descriptor_set_out={out}",
                        *map(str, protos)]) == 0
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    def clear_json_names(messages: Any) -> None:  # protoc adds json_name; generated modules leave it implicit
        for message in messages:
            for fld in message.field:
                fld.ClearField("json_name")
            clear_json_names(message.nested_type)

    for file in fresh.file:
        clear_json_names(file.message_type)
    committed = {}
    for module in (remote_pb2, tsdb_pb2, agent_payload_pb2, info_rpc_pb2, label_types_pb2, store_rpc_pb2,
                   store_types_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        committed[proto.name] = proto
    assert {f.name for f in fresh.file} == set(committed)
    for file in fresh.file:
        assert file == committed[file.name], f"{file.name} changed: run python scripts/gen_protos.py"
