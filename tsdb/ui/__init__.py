"""The dashboards web UI's server side: the dashboard model, its store, Grafana import and export,
provisioned and built-in dashboards, and the HTTP routes (API and the static bundle)."""
