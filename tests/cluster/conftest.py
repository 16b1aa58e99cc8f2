"""A real etcd per test module (Debian's etcd-server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.etcd_peer import EtcdProcess, running_etcd


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProcess]:
    with running_etcd(Path(tmp_path_factory.mktemp("etcd"))) as process:
        yield process
