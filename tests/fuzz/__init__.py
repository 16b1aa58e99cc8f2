"""Fuzzers for tsdb's parsers (docs/security.md, "Fuzzing"): one module per parser family, a replayed corpus."""
