"""PromQL: Lark parser, AST, vectorised evaluator with Prometheus 3.x semantics."""
