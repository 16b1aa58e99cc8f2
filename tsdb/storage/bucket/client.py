"""One bucket under a key prefix, through pyarrow's ``S3FileSystem`` (no other S3 library needed).

Keys are given relative to the prefix (``<ULID>/meta.json``). Every failure of the object store (refused
connection, timeout, access denied) is raised as :class:`BucketError` naming the key and the bucket, never
with the keys configured. Uploads of a file stream it; downloads write ``<name>.tmp`` and rename, so a
half-downloaded file is never mistaken for a whole one. Thread-safe.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pyarrow import fs as pafs

from tsdb.config import BucketOptions
from tsdb.errors import StorageError

__all__ = ["BucketClient", "BucketError"]

COPY_BUFFER = 1 << 20
CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 60.0
SDK_ATTEMPTS = 2
"""Attempts the AWS SDK makes per request; the shipper retries with its own backoff on top."""


class BucketError(StorageError, OSError):
    """The object store failed or refused a request (it may be down): retry later."""


class BucketClient:
    """The bucket of ``options`` (an S3 endpoint), keys relative to its prefix."""

    def __init__(self, options: BucketOptions) -> None:
        self.options = options
        self.name = options.bucket
        self._root = "/".join(p for p in (options.bucket, options.prefix) if p)
        kwargs: dict[str, object] = {}
        if options.access_key:
            kwargs.update(access_key=options.access_key, secret_key=options.secret_key)
        if options.host:
            kwargs["endpoint_override"] = options.host
        self.fs = pafs.S3FileSystem(region=options.region or "us-east-1", scheme=options.scheme,
                                    connect_timeout=CONNECT_TIMEOUT_S, request_timeout=REQUEST_TIMEOUT_S,
                                    retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=SDK_ATTEMPTS),
                                    **kwargs)

    def path(self, key: str) -> str:
        """The pyarrow path (``bucket/prefix/key``) of ``key``."""
        return f"{self._root}/{key}" if key else self._root

    def _fail(self, what: str, key: str, err: Exception) -> BucketError:
        return BucketError(f"bucket {self.name}: {what} {self.path(key)} failed: {err}")

    def upload(self, local: Path, key: str) -> int:
        """Copy the file ``local`` to ``key``; returns the bytes sent. FileNotFoundError: ``local`` is gone."""
        with local.open("rb") as src:
            try:
                with self.fs.open_output_stream(self.path(key)) as dst:
                    shutil.copyfileobj(src, dst, COPY_BUFFER)
            except OSError as err:
                raise self._fail("upload of", key, err) from err
            return src.tell()

    def put(self, key: str, data: bytes) -> None:
        """Write ``data`` as the object ``key``."""
        try:
            with self.fs.open_output_stream(self.path(key)) as dst:
                dst.write(data)
        except OSError as err:
            raise self._fail("write of", key, err) from err

    def get(self, key: str) -> bytes | None:
        """The object ``key``'s bytes; None when there is no such object."""
        try:
            with self.fs.open_input_stream(self.path(key)) as src:
                return bytes(src.read())
        except FileNotFoundError:
            return None
        except OSError as err:
            raise self._fail("read of", key, err) from err

    def download(self, key: str, local: Path) -> int:
        """Copy the object ``key`` to the file ``local`` (via ``<local>.tmp``); returns its size."""
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(local.name + ".tmp")
        try:
            with self.fs.open_input_stream(self.path(key)) as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst, COPY_BUFFER)
            os.replace(tmp, local)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise self._fail("download of", key, err) from err
        return local.stat().st_size

    def list(self, key: str = "", recursive: bool = False) -> list[pafs.FileInfo]:
        """Entries under ``key`` (a "directory"); with ``recursive`` every object below it. [] when empty."""
        selector = pafs.FileSelector(self.path(key), allow_not_found=True, recursive=recursive)
        try:
            return list(self.fs.get_file_info(selector))
        except OSError as err:
            raise self._fail("listing of", key, err) from err

    def relative(self, info: pafs.FileInfo) -> str:
        """The key (relative to the prefix) of a listed entry."""
        return info.path.removeprefix(self._root).lstrip("/")
