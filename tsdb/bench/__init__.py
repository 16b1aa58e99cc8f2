"""``tsdb bench``: drive any Prometheus-compatible server from outside and measure it.

* :mod:`tsdb.bench.workload`: the seeded node-exporter-like workload generator (also used by
  ``benchmarks/``).
* :mod:`tsdb.bench.encode`: the workload cut into pre-encoded remote-write requests (before timing).
* :mod:`tsdb.bench.ingest`: K concurrent senders over HTTP remote-write or gRPC; samples/s, latencies,
  the server's CPU seconds and peak RSS (:mod:`tsdb.bench.procstat`).
* :mod:`tsdb.bench.query`: the dashboard query set, median latencies, cross-checks between targets.
* :mod:`tsdb.bench.disk`: bytes on disk per sample.
* :mod:`tsdb.bench.servers`: start Prometheus, VictoriaMetrics or tsdb on 127.0.0.1 with a temp dir.
* :mod:`tsdb.bench.peers`: runs all of the above against every available target and tabulates it.
* :mod:`tsdb.bench.report`: text summaries, PASS/FAIL lines, the optional PNG chart;
  :mod:`tsdb.bench.progress`: progress bars; :mod:`tsdb.bench.commands`: the CLI subcommands.
"""
