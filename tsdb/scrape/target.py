"""Targets: discovery (static and file_sd), one scrape, and the per-target state Prometheus keeps.

:func:`discover` turns a job's static groups and file_sd files into targets after ``relabel_configs``
(with Prometheus's ``__address__``, ``__scheme__``, ``__metrics_path__``, ``__param_*`` handling; a file
that cannot be read keeps its last good targets). :meth:`Target.scrape` fetches and parses one exposition
(text format or OpenMetrics via prometheus_client's parsers), applies ``honor_labels``, limits and
``metric_relabel_configs``, and returns the samples plus the synthetic ``up``, ``scrape_duration_seconds``,
``scrape_samples_scraped``, ``scrape_samples_post_metric_relabeling`` and ``scrape_series_added``.
Series that disappeared since the previous scrape (or all of them when the target is down) get stale
markers, as Prometheus does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import yaml
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from tsdb.http_body import BodyTooLargeError, IncompleteBodyError, read_stream
from tsdb.scrape.config import JobConfig
from tsdb.scrape.exposition import parse_text
from tsdb.scrape.relabel import relabel
from tsdb.storage.interfaces import STALE_NAN
from tsdb.storage.metadata import MetricMetadata, normalise_type

log = logging.getLogger("tsdb.scrape")

ACCEPT = ("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1")
SeriesKey = tuple[tuple[str, str], ...]


def _key(labels: dict[str, str]) -> SeriesKey:
    return tuple(sorted(labels.items()))


class FileSD:
    """Reads file_sd files (JSON or YAML lists of ``{targets, labels}``), keeping the last good content."""

    def __init__(self) -> None:
        self.last: dict[str, list[dict[str, Any]]] = {}
        self.errors: dict[str, str] = {}

    def read(self, pattern: str) -> list[dict[str, Any]]:
        import glob

        groups: list[dict[str, Any]] = []
        for path in sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]:
            try:
                text = Path(path).read_text()
                data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
                if not isinstance(data, list):
                    raise ValueError("expected a list of target groups")
                self.last[path] = data
                self.errors.pop(path, None)
            except (OSError, ValueError, yaml.YAMLError) as err:
                self.errors[path] = str(err)
                log.error("file_sd file unreadable, keeping its last good targets",
                          extra={"file": path, "error": str(err)})
            groups.extend(self.last.get(path, []))
        return groups


@dataclass
class Target:
    """One scrape target and its state between scrapes."""

    job: JobConfig
    labels: dict[str, str]  # final target labels (job, instance, ...)
    discovered: dict[str, str]
    url: str
    health: str = "unknown"
    last_error: str = ""
    last_scrape: float = 0.0
    last_duration: float = 0.0
    last_series: set[SeriesKey] = field(default_factory=set)
    metadata: list[MetricMetadata] = field(default_factory=list)
    """``# HELP``/``# TYPE``/``# UNIT`` of the last good scrape."""

    @property
    def key(self) -> str:
        return self.url + "\x00" + json.dumps(sorted(self.labels.items()))

    def offset_s(self) -> float:
        """A stable phase within the interval, so targets spread out and keep their schedule."""
        digest = hashlib.blake2b(self.key.encode(), digest_size=8).digest()
        return (int.from_bytes(digest, "big") % max(1, self.job.interval_ms)) / 1000

    async def scrape(self, session: aiohttp.ClientSession, now: float) -> list[tuple[dict[str, str], float, float]]:
        """Scrape once; returns ``(labels, value, timestamp seconds)`` samples to store (incl. synthetic
        series and stale markers)."""
        job = self.job
        started = time.monotonic()
        samples: list[tuple[dict[str, str], float, float]] = []
        error = ""
        scraped = 0
        try:
            headers = {"Accept": ACCEPT, "X-Prometheus-Scrape-Timeout-Seconds": str(job.timeout_ms / 1000)}
            if job.bearer_token:
                headers["Authorization"] = f"Bearer {job.bearer_token}"
            if job.basic_auth:
                user, password = job.basic_auth
                headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            async with session.get(self.url, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=job.timeout_ms / 1000),
                                   ssl=job.verify_tls) as response:
                if response.status != 200:
                    raise ValueError(f"server returned HTTP status {response.status} {response.reason}")
                text = await self._read(response)
                content_type = response.headers.get("Content-Type", "")
            parsed = self._parse(text, content_type, now)
            scraped = len(parsed)
            samples = self._finish(parsed)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            error = str(err) or type(err).__name__
            samples = []
        duration = time.monotonic() - started
        self.last_scrape, self.last_duration = now, duration
        self.health, self.last_error = ("down", error) if error else ("up", "")
        current = {_key(lbls) for lbls, _, _ in samples}
        stale = [(dict(k), STALE_NAN, now) for k in self.last_series - current]
        added = len(current - self.last_series)
        self.last_series = current
        synthetic = [("up", 0.0 if error else 1.0), ("scrape_duration_seconds", duration),
                     ("scrape_samples_scraped", float(scraped)),
                     ("scrape_samples_post_metric_relabeling", float(len(samples))),
                     ("scrape_series_added", float(added))]
        return samples + stale + [({**self.labels, "__name__": name}, value, now) for name, value in synthetic]

    async def _read(self, response: aiohttp.ClientResponse) -> str:
        """The whole (decompressed) body as text, refused past the job's ``body_size_limit``."""
        limit = self.job.body_size_limit
        if not limit:
            return await response.text()
        try:
            body = await read_stream(response.content, limit)
        except BodyTooLargeError as err:
            raise ValueError(f"body size limit exceeded ({limit} bytes)") from err
        except IncompleteBodyError as err:
            raise ValueError(str(err)) from err
        return body.decode(response.get_encoding(), errors="replace")

    def _parse(self, text: str, content_type: str, now: float) -> list[tuple[dict[str, str], float, float]]:
        out: list[tuple[dict[str, str], float, float]] = []
        if "openmetrics" not in content_type:
            exposition = parse_text(text)  # raises ExpositionError (a ValueError) naming the bad line
            honor = self.job.honor_timestamps
            out = [(labels, value, stamp / 1000 if honor and stamp is not None else now)
                   for labels, value, stamp in exposition.samples]
            self.metadata = exposition.metadata
            return out
        metadata: list[MetricMetadata] = []
        try:
            for family in parse_openmetrics(text):
                metadata.append(family_metadata(family))
                for s in family.samples:
                    ts = now
                    stamp: Any = s.timestamp
                    if self.job.honor_timestamps and stamp is not None:
                        # OpenMetrics: a Timestamp(sec, nsec) or float seconds
                        ts = float(stamp.sec + stamp.nsec / 1e9) if hasattr(stamp, "sec") else float(stamp)
                    out.append(({**s.labels, "__name__": s.name}, float(s.value), ts))
        except Exception as err:  # the parsers raise ValueError and others on malformed input
            raise ValueError(f"invalid exposition: {err}") from err
        self.metadata = metadata
        return out

    def _finish(self, parsed: list[tuple[dict[str, str], float, float]]) -> list[tuple[dict[str, str], float, float]]:
        """Target labels (honor_labels), metric relabeling and limits."""
        job = self.job
        out = []
        for labels, value, ts in parsed:
            merged = dict(labels)
            for name, v in self.labels.items():
                if name in merged and not job.honor_labels:
                    merged[f"exported_{name}"] = merged[name]
                    merged[name] = v
                elif name not in merged:
                    merged[name] = v
            final = relabel(merged, job.metric_relabel) if job.metric_relabel else {
                k: v for k, v in merged.items() if v != ""}
            if final is None:
                continue
            self._check_limits(final)
            out.append((final, value, ts))
        if job.sample_limit and len(out) > job.sample_limit:
            raise ValueError(f"sample limit exceeded ({len(out)} > {job.sample_limit})")
        return out

    def _check_limits(self, labels: dict[str, str]) -> None:
        job = self.job
        if job.label_limit and len(labels) > job.label_limit:
            raise ValueError(f"label_limit exceeded (metric: {labels.get('__name__')}, number of labels: "
                             f"{len(labels)}, limit: {job.label_limit})")
        for name, value in labels.items():
            if job.label_name_length_limit and len(name) > job.label_name_length_limit:
                raise ValueError(f"label_name_length_limit exceeded (label name: {name})")
            if job.label_value_length_limit and len(value) > job.label_value_length_limit:
                raise ValueError(f"label_value_length_limit exceeded (label: {name})")

    def stale_all(self, now: float) -> list[tuple[dict[str, str], float, float]]:
        """Stale markers for every series of this target (it went away)."""
        names = ("up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
                 "scrape_series_added")
        out = [(dict(k), STALE_NAN, now) for k in self.last_series]
        out += [({**self.labels, "__name__": n}, STALE_NAN, now) for n in names]
        self.last_series = set()
        return out


def family_metadata(family: Any) -> MetricMetadata:
    """An OpenMetrics family's metadata (prometheus_client's parser), under its family name as Prometheus
    reports OpenMetrics metadata."""
    return MetricMetadata(family.name, normalise_type(family.type), family.documentation or "", family.unit or "")


def discover(job: JobConfig, file_sd: FileSD) -> tuple[list[Target], list[dict[str, str]]]:
    """The job's targets after relabeling, and the dropped ones' discovered labels."""
    groups: list[tuple[tuple[str, ...], dict[str, str]]] = [(g.targets, g.labels) for g in job.static]
    for pattern in job.file_sd:
        for group in file_sd.read(pattern):
            if not isinstance(group, dict):
                continue
            groups.append((tuple(map(str, group.get("targets") or [])),
                           {str(k): str(v) for k, v in (group.get("labels") or {}).items()}))
    targets, dropped = [], []
    for addresses, group_labels in groups:
        for address in addresses:
            discovered = {"__address__": address, "__scheme__": job.scheme, "__metrics_path__": job.metrics_path,
                          "__scrape_interval__": f"{job.interval_ms // 1000}s",
                          "__scrape_timeout__": f"{job.timeout_ms // 1000}s", "job": job.job_name,
                          **{f"__param_{k}": v[0] for k, v in job.params.items() if v}, **group_labels}
            final = relabel(discovered, job.relabel) if job.relabel else dict(discovered)
            if final is None or not final.get("__address__"):
                dropped.append(discovered)
                continue
            params = {k: [final.get(f"__param_{k}", v[0]), *v[1:]] for k, v in job.params.items()}
            for name, value in final.items():
                if name.startswith("__param_") and name[8:] not in params:
                    params[name[8:]] = [value]
            query = ("?" + urlencode([(k, x) for k, vs in params.items() for x in vs])) if params else ""
            scheme, path = final.get("__scheme__", job.scheme), final.get("__metrics_path__", "/metrics")
            url = f"{scheme}://{final['__address__']}{path}{query}"
            labels = {k: v for k, v in final.items() if not k.startswith("__")}
            labels.setdefault("instance", final["__address__"])
            targets.append(Target(job, labels, discovered, url))
    return targets, dropped

