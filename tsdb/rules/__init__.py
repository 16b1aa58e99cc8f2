"""Rule evaluation: Prometheus rule files, recording and alerting rules."""
