"""The web config file applied to the gRPC service: TLS/mTLS credentials and basic auth with roles.

TLS uses the same ``cert_file``/``key_file``; ``client_ca_file`` with ``RequireAndVerifyClientCert`` makes
a client certificate mandatory (with ``VerifyClientCertIfGiven`` gRPC asks for none: its server
credentials can only require one or not ask). Certificates and CAs are re-read with the file, for the
next new connection. Users send ``authorization: Basic base64(user:password)`` metadata; a missing or
wrong one ends the call with ``UNAUTHENTICATED``, a missing role (``Write``/``WriteStream`` need
``write``, everything else ``read``) with ``PERMISSION_DENIED``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from tsdb.errors import ConfigError
from tsdb.server.auth import Access, has_role
from tsdb.server.webconfig import TlsServerConfig, WebConfig, WebConfigWatcher

WRITE_METHODS = frozenset({"/tsdb.v1.TSDB/Write", "/tsdb.v1.TSDB/WriteStream",
                           "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"})


def _certificate_configuration(tls: TlsServerConfig, path: str) -> Any:
    try:
        key, cert = Path(tls.key_file).read_bytes(), Path(tls.cert_file).read_bytes()
        ca = Path(tls.client_ca_file).read_bytes() if tls.client_ca_file else None
    except OSError as err:
        raise ConfigError(f"{path}: tls_server_config: cannot read {err.filename}: {err.strerror}") from err
    return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)


def server_credentials(watcher: WebConfigWatcher) -> grpc.ServerCredentials | None:
    """TLS credentials from the web config file (None for plain gRPC), re-read with the file."""
    config = watcher.current()
    if config is None or config.tls is None:
        return None
    served: list[WebConfig] = [config]

    def fetch() -> Any:  # called by gRPC for each new connection; None keeps the current certificates
        current = watcher.current()
        if current is None or current.tls is None or current is served[0]:
            return None
        served[0] = current
        return _certificate_configuration(current.tls, watcher.path)

    return grpc.dynamic_ssl_server_credentials(
        _certificate_configuration(config.tls, watcher.path), fetch,
        require_client_authentication=config.tls.client_auth_type == "RequireAndVerifyClientCert")


def _denied(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as ``handler`` that ends the call with ``code``."""
    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)

    async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(code, message)
        yield None  # never reached: abort raises

    kwargs = {"request_deserializer": handler.request_deserializer,
              "response_serializer": handler.response_serializer}
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(streaming, **kwargs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(unary, **kwargs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(streaming, **kwargs)
    return grpc.unary_unary_rpc_method_handler(unary, **kwargs)


class BasicAuthInterceptor(grpc.aio.ServerInterceptor):
    """Checks each call's ``authorization`` metadata and role (see the module doc)."""

    def __init__(self, access: Access, roles: Callable[[], Mapping[str, str]]) -> None:
        self.access = access
        self.roles = roles

    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails],
                                                             Awaitable[grpc.RpcMethodHandler]],
                                handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        config = self.access.config()
        if config is None:  # the web config file became invalid: fail closed
            return _denied(handler, grpc.StatusCode.UNAVAILABLE, "web config file invalid")
        if not config.users:
            return handler
        metadata = {str(k): v for k, v in (handler_call_details.invocation_metadata or ())}
        user = await self.access.authenticate(config, str(metadata.get("authorization", "")))
        if user is None:
            return _denied(handler, grpc.StatusCode.UNAUTHENTICATED, "basic auth credentials missing or wrong")
        method = str(handler_call_details.method)
        needed = "write" if method in WRITE_METHODS else "read"
        if not has_role(self.roles(), user, needed):
            return _denied(handler, grpc.StatusCode.PERMISSION_DENIED, f"user {user!r} lacks the {needed} role")
        return handler
