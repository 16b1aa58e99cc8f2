"""``tsdb test-rules``: run ``promtool test rules`` files with tsdb's rule evaluator.

A test file names ``rule_files`` (relative to it), an ``evaluation_interval`` (default 1m) and ``tests``:
``input_series`` in the expanding notation (``0+10x9``, ``_``, ``stale``) loaded at ``interval`` steps,
``alert_rule_test`` (the firing alerts of ``alertname`` at ``eval_time``: ``exp_labels`` without
``alertname``, ``exp_annotations``), ``promql_expr_test`` (``exp_samples`` of ``expr`` at ``eval_time``)
and ``external_labels``/``external_url`` (what templates see). Every group is evaluated at each multiple
of the evaluation interval from 0 to the last ``eval_time``, in file order, as promtool does. The report
follows promtool's shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tsdb.config import parse_duration_ms
from tsdb.errors import TsdbError
from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.parser import parse_matchers
from tsdb.query.promqltest import almost_equal, expand_values, split_series_line
from tsdb.rules.alerting import AlertingRuleState
from tsdb.rules.group import GroupState, vector_of
from tsdb.rules.loader import load_rule_files
from tsdb.storage.memory import MemoryStore

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when present: test files with many expected annotations load much faster."""


def _ms(value: Any, default: int = 0) -> int:
    return parse_duration_ms(value, "duration") if value not in (None, "") else default


def _load_series(store: MemoryStore, items: list[dict[str, Any]], interval: int) -> None:
    for item in items or []:
        labels, _, rest = split_series_line(str(item["series"]))
        text = str(item.get("values", "")) or rest
        slots = expand_values(text)
        ts = [k * interval for k, slot in enumerate(slots) if slot.value is not None]
        values = [slot.value for slot in slots if slot.value is not None]
        if ts:
            app = store.appender()
            app.append(labels, np.array(ts, np.int64), np.array(values, np.float64))
            app.commit()


def _label_text(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _setup(test: dict[str, Any], rule_files: list[str], eval_interval: int,
           base: Path) -> tuple[Engine, MemoryStore, dict[str, str], str, list[GroupState]]:
    interval = _ms(test.get("interval"), eval_interval)
    store = MemoryStore()
    _load_series(store, test.get("input_series") or [], interval)
    external = {str(k): str(v) for k, v in (test.get("external_labels") or {}).items()}
    external_url = str(test.get("external_url") or "")
    groups = [GroupState.build(g, eval_interval, {}) for g in load_rule_files(rule_files, base)]
    return Engine(store), store, external, external_url, groups


def firing_alerts(path: Path, at_ms: int, test_index: int = 0) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(alertname, labels, annotations) of the alerts firing at ``at_ms`` in one test of a test file, after
    evaluating as :func:`run_file` does: what ``exp_alerts`` would have to say."""
    doc = yaml.load(path.read_text(), Loader=_LOADER) or {}
    eval_interval = _ms(doc.get("evaluation_interval"), 60_000)
    test = (doc.get("tests") or [])[test_index]
    engine, store, external, url, groups = _setup(test, [str(f) for f in doc.get("rule_files") or []],
                                                  eval_interval, path.parent)
    t = 0
    while t <= at_ms:
        for group in groups:
            group.evaluate(t, engine.instant, store, external, url)
        t += eval_interval
    return [(state.rule.name, a.labels.to_dict(), dict(a.annotations)) for group in groups for state in group.rules
            if isinstance(state, AlertingRuleState) for a in state.alerts.values() if a.state == "firing"]


def _run_test(test: dict[str, Any], rule_files: list[str], eval_interval: int, base: Path) -> list[str]:
    engine, store, external, external_url, groups = _setup(test, rule_files, eval_interval, base)
    alert_tests = test.get("alert_rule_test") or []
    expr_tests = test.get("promql_expr_test") or []
    times = [_ms(t.get("eval_time")) for t in alert_tests + expr_tests]
    last = max(times, default=0)
    errors: list[str] = []
    checks: dict[int, list[dict[str, Any]]] = {}
    for t in alert_tests:
        checks.setdefault(_ms(t.get("eval_time")), []).append(t)
    t = 0
    while t <= last:
        for group in groups:
            group.evaluate(t, engine.instant, store, external, external_url)
        window_end = t + eval_interval
        for check_time in sorted(k for k in checks if t <= k < window_end):
            for case in checks[check_time]:
                errors.extend(_check_alerts(groups, case, check_time))
        t += eval_interval
    for case in expr_tests:
        errors.extend(_check_expr(engine, case))
    return errors


def _check_alerts(groups: list[GroupState], case: dict[str, Any], at: int) -> list[str]:
    name = str(case.get("alertname", ""))
    got = []
    for group in groups:
        for state in group.rules:
            if isinstance(state, AlertingRuleState) and state.rule.name == name:
                got += [(a.labels.to_dict(), a.annotations) for a in state.alerts.values() if a.state == "firing"]
    expected = [({**{str(k): str(v) for k, v in (e.get("exp_labels") or {}).items()}, "alertname": name},
                 {str(k): str(v) for k, v in (e.get("exp_annotations") or {}).items()})
                for e in case.get("exp_alerts") or []]
    key = lambda la: (_label_text(la[0]), _label_text(la[1]))  # noqa: E731
    if sorted(map(key, got)) == sorted(map(key, expected)):
        return []
    fmt = lambda items: "[" + ", ".join(f"{{Labels:{_label_text(la)} Annotations:{_label_text(an)}}}"  # noqa: E731
                                        for la, an in sorted(items, key=key)) + "]"
    return [f"    alertname: {name}, time: {at / 1000:g}s, \n        exp:{fmt(expected)}, \n        got:{fmt(got)}"]


def _check_expr(engine: Engine, case: dict[str, Any]) -> list[str]:
    expr = str(case.get("expr", ""))
    at = _ms(case.get("eval_time"))
    try:
        got = vector_of(engine.instant(expr, at))
    except TsdbError as err:
        return [f"    expr: {expr!r}, time: {at / 1000:g}s, err: {err}"]
    expected = []
    for sample in case.get("exp_samples") or []:
        text = str(sample.get("labels") or "{}")
        labels = Labels({m.name: m.value for m in parse_matchers(text)}) if text.strip() not in ("", "{}") else Labels()
        expected.append((labels, float(sample.get("value", 0))))
    ok = len(got) == len(expected) and all(
        any(gl == el and almost_equal(gv, ev) for gl, gv in got) for el, ev in expected)
    if ok:
        return []
    fmt = lambda items: "[" + ", ".join(f"{{Labels:{_label_text(lb.to_dict())} Value:{v:g}}}"  # noqa: E731
                                        for lb, v in items) + "]"
    return [f"    expr: {expr!r}, time: {at / 1000:g}s,\n        exp: {fmt(expected)}\n        got: {fmt(got)}"]


def run_file(path: Path) -> tuple[bool, list[str]]:
    """Run one test file; (passed, report lines)."""
    lines = [f"Unit Testing:  {path}"]
    try:
        doc = yaml.load(path.read_text(), Loader=_LOADER) or {}
        eval_interval = _ms(doc.get("evaluation_interval"), 60_000)
        rule_files = [str(f) for f in doc.get("rule_files") or []]
        errors: list[str] = []
        for test in doc.get("tests") or []:
            problems = _run_test(test, rule_files, eval_interval, path.parent)
            if problems:
                errors.append(f"  FAILED:\n    name: {test.get('name', '')}," if test.get("name") else "  FAILED:")
                errors.extend(problems)
    except (OSError, yaml.YAMLError, TsdbError, KeyError, TypeError, ValueError) as err:
        return False, [*lines, f"  FAILED:\n{err}"]
    if errors:
        return False, lines + errors
    return True, [*lines, "  SUCCESS"]


def main(files: Sequence[str]) -> int:
    """Run the files; print the report; 0 when all pass, 1 otherwise."""
    failed = False
    for name in files:
        ok, lines = run_file(Path(name))
        print("\n".join(lines) + "\n")
        failed = failed or not ok
    return 1 if failed else 0
