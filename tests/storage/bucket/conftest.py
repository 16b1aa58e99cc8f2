"""A SeaweedFS S3 server shared by the bucket tests of a session (each test uses its own key prefix)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.storage.bucket.seaweed import WeedS3


@pytest.fixture(scope="session")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeedS3]:
    server = WeedS3(tmp_path_factory.mktemp("weed"))
    try:
        yield server
    finally:
        server.stop()
