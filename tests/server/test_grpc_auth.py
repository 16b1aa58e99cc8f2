"""gRPC with the web config file: TLS, mTLS, basic auth metadata and roles, with tsdb's own client."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.server.test_webauth import ROLES, USERS, _config, _web_yml
from tests.server_thread import ServerThread
from tests.tls_certs import make_certs
from tsdb.client import Client
from tsdb.labels import Labels


def _sample() -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    return [(Labels({"__name__": "grpc_auth_probe", "job": "t"}), np.array([1000], dtype=np.int64),
             np.array([1.0]))]


def _code(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call()  # type: ignore[operator]
    return err.value.code()  # type: ignore[no-any-return]


def test_grpc_tls_basic_auth_and_roles(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    web = _web_yml(tmp_path / "web.yml", certs, USERS)
    with ServerThread(_config(tmp_path, web, web_roles=ROLES)) as running:
        address = f"127.0.0.1:{running.server.grpc_port}"
        ca = str(certs.ca)
        with Client(address, timeout_s=120, tls_ca=ca, username="writer", password="w-pass") as writer:
            assert writer.write(_sample()).accepted == 1
            assert writer.query("grpc_auth_probe", time_ms=1000).series
        with Client(address, timeout_s=10, tls_ca=ca, username="reader", password="r-pass") as reader:
            assert reader.label_names() and reader.query("1").kind == "scalar"
            assert _code(lambda: reader.write(_sample())) == grpc.StatusCode.PERMISSION_DENIED
        with Client(address, timeout_s=10, tls_ca=ca) as anonymous:
            assert _code(lambda: anonymous.query("1")) == grpc.StatusCode.UNAUTHENTICATED
        with Client(address, timeout_s=10, tls_ca=ca, username="reader", password="bad") as wrong:
            assert _code(lambda: wrong.label_names()) == grpc.StatusCode.UNAUTHENTICATED
        with Client(address, timeout_s=5, username="reader", password="r-pass") as plain:  # no TLS
            assert _code(lambda: plain.query("1")) == grpc.StatusCode.UNAVAILABLE
        with Client(address, timeout_s=5, tls_ca=str(certs.other_ca), username="reader", password="r-pass") as other:
            assert _code(lambda: other.query("1")) == grpc.StatusCode.UNAVAILABLE


def test_grpc_mtls_requires_a_client_certificate(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    web = _web_yml(tmp_path / "web.yml", certs, {}, client_auth="RequireAndVerifyClientCert")
    with ServerThread(_config(tmp_path, web)) as running:
        address = f"127.0.0.1:{running.server.grpc_port}"
        with Client(address, timeout_s=5, tls_ca=str(certs.ca)) as without:
            assert _code(lambda: without.query("1")) == grpc.StatusCode.UNAVAILABLE
        with Client(address, timeout_s=10, tls_ca=str(certs.ca), cert=str(certs.client_cert),
                    key=str(certs.client_key)) as with_cert:
            assert with_cert.query("1").kind == "scalar"
