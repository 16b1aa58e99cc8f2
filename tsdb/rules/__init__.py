"""Rule evaluation: Prometheus rule files, recording and alerting rules (DESIGN section 2)."""
