"""PromQL text <-> AST: the Lark grammar (``promql.lark``), the parser (:mod:`.parser`, with the semantic
checks Prometheus's parser does), the AST (:mod:`.ast`), its printer (:mod:`.printer`) and duck-typed
node helpers for the evaluator (:mod:`.nodes`).

May import: ``tsdb.errors``, ``tsdb.labels``, ``tsdb.timefmt`` and the function table's signatures
(:mod:`tsdb.query.functions.table`). Never the engine or storage. This ``__init__`` imports nothing, so
``tsdb.query.functions`` can use :mod:`.nodes` without a cycle.
"""
