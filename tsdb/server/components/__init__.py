"""Server components: the pluggable parts of ``tsdb serve`` beyond the core (notifications, escalation,
incidents, rules, SLO reports, scrape, collect, ingest, dashboards, the TSDB admin API), one module each, and
their shared protocol (``base.py``).

This package owns each component's config section at run time (validating it at start-up and on reload),
its background work and its HTTP routes. It may import ``tsdb.config``, ``tsdb.errors``, ``tsdb.labels``,
the subsystems it wraps (``tsdb.alerting``, ``tsdb.rules``, ``tsdb.slo``, ``tsdb.scrape``, ``tsdb.ingest``),
``tsdb.storage.db`` for the DB handle (and ``tsdb.storage.snapshot`` for snapshot names), and from
``tsdb.server`` only ``backend``, ``params``, ``self_metrics``, ``write_limits`` and ``alertmanager_api``. It
must not import the HTTP edge or the composition root (``tsdb.server.app``, ``tsdb.server.http_api``):
``app.py`` builds the components, not the other way round.
"""
