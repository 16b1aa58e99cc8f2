"""Service level objectives: Sloth ``prometheus/v1`` specs turned into Prometheus rule files (docs/slo.md)."""
