"""Collection: scraping Prometheus targets and built-in host metrics."""
