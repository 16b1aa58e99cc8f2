"""PromQL functions: the one table of signatures and implementations (:mod:`.table`), and the
implementations by kind: instant-vector functions (:mod:`.instant`), range-vector functions
(:mod:`.range` over the rollup kernels of :mod:`.rollup`), ``info()`` (:mod:`.info`) and tsdb's anomaly
functions (:mod:`.anomaly`). Implementations see the evaluator only as :class:`.context.EvalContext`.

May import: ``tsdb.errors``, ``tsdb.labels``, ``tsdb._numba``, ``tsdb.query.value``,
``tsdb.query.kahan_kernels``, ``tsdb.query.parser.nodes`` and ``tsdb.storage.interfaces``. Never the
engine (it calls in here) nor the rest of the parser (which reads the table).
"""
