"""The TLS context of an outgoing connection, from Prometheus's ``tls_config`` settings."""

from __future__ import annotations

import ssl


def client_ssl_context(ca_file: str = "", cert_file: str = "", key_file: str = "",
                       insecure_skip_verify: bool = False) -> ssl.SSLContext:
    """A client context trusting ``ca_file`` (else the system's CAs), presenting ``cert_file``/``key_file``
    when given (mTLS), and verifying neither certificate nor host name with ``insecure_skip_verify``."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    if insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
