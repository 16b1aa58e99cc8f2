"""Evaluating PromQL: the engine (:mod:`.engine`: parse, plan selection hints, run, check limits and
timeouts, shape the result), the evaluator (:mod:`.evaluator`: walks the AST over a step grid, selects
series), binary operators (:mod:`.binary`), aggregations (:mod:`.aggregate`) and their numba kernels
(``*_kernels.py``).

May import: ``tsdb.errors``, ``tsdb.labels``, ``tsdb._numba``, ``tsdb.config``, ``tsdb.query.parser``,
``tsdb.query.functions``, ``tsdb.query.value`` and storage only through ``tsdb.storage.interfaces``.
"""
