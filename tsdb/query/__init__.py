"""PromQL: Lark parser, AST, vectorised evaluator with Prometheus 3.x semantics.

Subpackages: ``parser`` (text <-> AST), ``functions`` (the function table and implementations),
``engine`` (evaluation) and ``promqltest`` (the conformance runner). Shared by them: ``value`` (values,
annotations) and ``kahan_kernels`` (compensated summation for the numba kernels).
"""
