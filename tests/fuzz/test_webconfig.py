"""The web config file (tsdb.server.webconfig.parse_web_config): ConfigError naming the key, or a config."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.harness import doc_fuzzer, seed_fuzzer, text_fuzzer
from tests.fuzz.strategies import corpus_seeds, doc_blocks, dump_yaml, values
from tsdb.server.webconfig import _HTTP_KEYS, _TLS_KEYS, _TLS_UNSUPPORTED, _TOP, ALLOWED_HEADERS

KEYS = sorted({*_TOP, *_TLS_KEYS, *_TLS_UNSUPPORTED, *_HTTP_KEYS, *ALLOWED_HEADERS, "admin"})
SEEDS = [b for b in doc_blocks("yaml") if any(k in b for k in _TOP)] + corpus_seeds("webconfig")

tls = st.fixed_dictionaries({}, optional={
    "cert_file": st.sampled_from(["server.pem", "", "/nonexistent/x.pem"]), "key_file": st.just("server.key"),
    "client_auth_type": st.sampled_from(["NoClientCert", "RequireAndVerifyClientCert", "RequireClientCert", "x"]),
    "client_ca_file": st.just("ca.pem"), "min_version": st.sampled_from(["TLS12", "TLS13", "TLS9"]),
    "cipher_suites": st.one_of(st.just(["TLS_AES_128_GCM_SHA256"]), values(KEYS)),
    "curve_preferences": st.one_of(st.just(["X25519"]), values(KEYS)), "prefer_server_cipher_suites": values(KEYS)})
configs = st.fixed_dictionaries({}, optional={
    "tls_server_config": st.one_of(tls, values(KEYS)),
    "http_server_config": st.one_of(st.fixed_dictionaries({}, optional={
        "http2": values(KEYS), "headers": st.one_of(st.dictionaries(st.sampled_from(sorted(ALLOWED_HEADERS)),
                                                                    values(KEYS), max_size=3), values(KEYS))}),
        values(KEYS)),
    "basic_auth_users": st.one_of(st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), st.one_of(
        st.just("$2y$10$" + "a" * 53), st.just("$2y$99$" + "a" * 53), values(KEYS)), max_size=3), values(KEYS))})

test_arbitrary_text = text_fuzzer("webconfig", 60)
test_schema_documents = doc_fuzzer("webconfig", 100, configs, dump_yaml)
test_mutated_examples = seed_fuzzer("webconfig", 80, SEEDS, dump_yaml)
