"""PromQL: Lark parser, AST, vectorised evaluator with Prometheus 3.x semantics (layer 2).

Subpackages: ``parser`` (text <-> AST), ``functions`` (the function table and implementations),
``engine`` (evaluation) and ``promqltest`` (the conformance runner). Shared by them: ``value`` (values,
annotations), ``result`` (the one query result type and converter) and ``kahan_kernels`` (compensated
summation for the numba kernels).

May import: layer 0 (``tsdb.errors``, ``tsdb.labels``, ``tsdb._numba``, ``tsdb.config``, ``tsdb.timefmt``)
and storage only through ``tsdb.storage.interfaces`` (``promqltest`` alone loads data into a real store).
"""
