"""The fuzz targets: one entry point per parser family, and the contract each must keep.

A target takes text, runs the parser on it and returns normally when the parser returned a value or raised
the parser's documented error with a non-empty message. Any other exception propagates, and so does an
:class:`AssertionError` for an empty message or a parse that took longer than :data:`HANG_SECONDS`. Used by
the hypothesis fuzzers, the corpus replay and the optional atheris harness alike.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tsdb.alerting.config import parse_config
from tsdb.alerting.matchers import parse_matchers
from tsdb.alerting.silences import recurrence_of
from tsdb.config import load_server_config
from tsdb.errors import ConfigError, DashboardError, InvalidArgumentError
from tsdb.rules.config import RulesConfig
from tsdb.rules.loader import parse_rule_text
from tsdb.scrape.config import parse_scrape_section
from tsdb.scrape.exposition import ExpositionError, parse_text
from tsdb.server.components.dashboards import DashboardsConfig
from tsdb.server.params import parse_duration, parse_limit, parse_time
from tsdb.server.webconfig import parse_web_config
from tsdb.slo.config import SLOsConfig
from tsdb.slo.spec import SpecError, parse_specs
from tsdb.ui.grafana import import_grafana
from tsdb.ui.model import normalise

MAX_INPUT = 20_000
"""Longer inputs are cut: every target must answer a bounded input in bounded time."""
HANG_SECONDS = float(os.environ.get("TSDB_FUZZ_HANG_SECONDS", "10"))

_TMP = Path(tempfile.mkdtemp(prefix="tsdb-fuzz-"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)


def _rules(text: str) -> None:
    parse_rule_text(text, "fuzz-rules.yml")


def _alertmanager(text: str) -> None:
    parse_config(text, "fuzz-alertmanager.yml")


def _webconfig(text: str) -> None:
    # certificate paths resolve against a directory with no certificates: a TLS section fails to load
    parse_web_config(text, str(_TMP / "web.yml"))


def _tsdb_yml(text: str) -> None:
    """The server config file, then each component section as the server validates it when it starts."""
    path = _TMP / "tsdb.yml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    config = load_server_config(path)
    RulesConfig.from_raw(config.rules)
    scrape = config.scrape
    if isinstance(scrape, dict):  # config_file names a file to read: the fuzzer reads no arbitrary paths
        scrape = {k: v for k, v in scrape.items() if k != "config_file"}
    parse_scrape_section(scrape)
    SLOsConfig.from_raw(config.slos)
    DashboardsConfig.parse(config.dashboards)


def _exposition(text: str) -> None:
    parse_text(text)


def _slo(text: str) -> None:
    parse_specs(text, "fuzz-slo.yml")


def _dashboard(text: str) -> None:
    """A Grafana import and the tsdb model check; text that is not JSON is the HTTP layer's business."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        return
    import_grafana(raw)
    normalise(raw)


def _matchers(text: str) -> None:
    """Matcher lists (silences, filters, routes); a JSON array is a silence's ``tsdbRecurrence``."""
    try:
        parse_matchers(text)
    except ConfigError as err:
        assert str(err), "parse_matchers: empty error message"
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        return
    recurrence_of(raw)


def _params(text: str) -> None:
    for parse in (parse_time, parse_duration):
        try:
            parse(text, "fuzz")
        except InvalidArgumentError as err:
            assert str(err), f"{parse.__name__}: empty error message"
    parse_limit(text)


Target = Callable[[str], None]
TARGETS: dict[str, tuple[Target, tuple[type[BaseException], ...]]] = {
    "rules": (_rules, (ConfigError,)),
    "alertmanager": (_alertmanager, (ConfigError,)),
    "webconfig": (_webconfig, (ConfigError,)),
    "tsdb_yml": (_tsdb_yml, (ConfigError,)),
    "exposition": (_exposition, (ExpositionError,)),
    "slo": (_slo, (SpecError,)),
    "dashboard": (_dashboard, (DashboardError,)),
    "matchers": (_matchers, (ConfigError,)),
    "params": (_params, (InvalidArgumentError,)),
}
"""Parser family -> (target, the documented error types)."""


def check(name: str, text: str) -> None:
    """Run target ``name`` on ``text`` (cut to :data:`MAX_INPUT`) and assert its contract."""
    target, errors = TARGETS[name]
    text = text[:MAX_INPUT]
    start = time.monotonic()
    try:
        target(text)
    except errors as err:
        assert str(err).strip(), f"{name}: {type(err).__name__} with an empty message"
    elapsed = time.monotonic() - start
    assert elapsed < HANG_SECONDS, f"{name}: {elapsed:.1f} s for {len(text)} characters"


def check_bytes(name: str, data: bytes) -> None:
    """:func:`check` on bytes (corpus files, atheris), decoded as UTF-8 with undecodable bytes replaced."""
    check(name, data.decode("utf-8", errors="replace"))
