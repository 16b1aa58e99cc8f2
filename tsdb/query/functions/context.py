"""What a function implementation may ask of the evaluator running it (:class:`EvalContext`).

Implementations get the context, the function's name, its argument nodes and the step grid; they
evaluate the arguments they need through the context, so they never import the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from tsdb.labels import Labels
from tsdb.query.value import Annotations, StepArray, Value, VectorValue
from tsdb.storage.interfaces import SelectHints

MatrixInput = tuple[list[Labels], list[npt.NDArray[np.int64]], list[npt.NDArray[np.float64]],
                    npt.NDArray[np.bool_], StepArray, int]
"""A range vector's samples per series: (labels, ts, values, drop_name, window ends, range)."""


class EvalContext(Protocol):
    """The evaluator as seen by function implementations (one query, one step grid at a time)."""

    start_ms: int
    end_ms: int
    lookback_ms: int
    annotations: Annotations

    def eval(self, node: Any, steps: StepArray) -> Value: ...

    def scalar_arg(self, node: Any, steps: StepArray) -> npt.NDArray[np.float64]: ...

    def vector_arg(self, node: Any, steps: StepArray) -> VectorValue: ...

    def string_arg(self, node: Any, steps: StepArray) -> str: ...

    def instant_select(self, vs: Any, steps: StepArray) -> tuple[VectorValue, npt.NDArray[np.int64]]: ...

    def matrix_input(self, node: Any, steps: StepArray, hints: SelectHints | None = None) -> MatrixInput: ...

    def tier_hints(self, func: str, range_ms: int, aggregate: str) -> SelectHints | None: ...


Implementation = Callable[[EvalContext, str, list[Any], StepArray], Value]
"""``impl(context, name, argument nodes, steps)`` -> the function's value at every step."""
