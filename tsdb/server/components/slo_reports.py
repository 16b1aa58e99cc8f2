"""SLO compliance reports as a server component: ``GET /api/v1/slos/report`` and the scheduled deliveries
of ``slos.reports`` (checked every minute, state in ``<data dir>/slo_reports/deliveries.sqlite``).

The report covers the SLOs of ``slos.files``; maintenance windows come from the notification system's
silences and time intervals. A reload re-reads the specs and the schedules.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tsdb.config import ServerConfig
from tsdb.errors import TsdbError
from tsdb.server.components.base import Reload, ServerContext, run_every
from tsdb.slo.config import SLOsConfig, load_slo_specs
from tsdb.slo.report import Report, ReportInputs, build_report, engine_query
from tsdb.slo.report_delivery import DeliveryStore, ReportScheduler
from tsdb.slo.report_period import Period, period_from
from tsdb.slo.report_render import filename, get_format, render
from tsdb.slo.spec import SLO

TICK_S = 60.0


def _slos(config: SLOsConfig) -> list[SLO]:
    return [slo for spec in load_slo_specs(config) for slo in spec.slos]


class SLOReportsComponent:
    name = "slo_reports"

    def __init__(self, context: ServerContext, clock: Callable[[], float] = time.time) -> None:
        self.context = context
        self.clock = clock
        self.config = SLOsConfig.from_raw(context.config.slos)
        self.slos = _slos(self.config)
        self.store = DeliveryStore(context.db.path / "slo_reports" / "deliveries.sqlite")
        self.scheduler = self._scheduler(self.config)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _scheduler(self, config: SLOsConfig) -> ReportScheduler:
        dispatcher = self.context.services.dispatcher
        global_config = dict(dispatcher.config.global_config) if dispatcher is not None else {}
        return ReportScheduler(config.reports, self.store, self.report, self.clock, self.context.executor,
                               global_config)

    def inputs(self) -> ReportInputs:
        """The server's engine, current silences and time intervals."""
        dispatcher = self.context.services.dispatcher
        if dispatcher is None:
            return ReportInputs(engine_query(self.context.query))
        return ReportInputs(engine_query(self.context.query), dispatcher.silences.all(),
                            dict(dispatcher.config.time_intervals))

    def report(self, period: Period, trend: int = 3) -> Report:
        """The report of the configured SLOs over ``period`` (blocking: runs queries)."""
        return build_report(self.slos, self.inputs(), period, trend, now=self.clock())

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/api/v1/slos/report", self.get_report)]

    async def get_report(self, request: web.Request) -> web.Response:
        """``?month=YYYY-MM`` or ``?start=&end=``, ``tz``, ``format`` (json), ``trend`` (3)."""
        q = request.query
        try:
            fmt = get_format(q.get("format") or "json")
            period = period_from(q.get("month"), q.get("start"), q.get("end"), q.get("tz") or "UTC")
            trend_text = q.get("trend") or "3"
            if not trend_text.isdigit() or int(trend_text) > 24:
                raise TsdbError(f"bad trend {trend_text!r}: expected a number of periods from 0 to 24")
            loop = asyncio.get_running_loop()
            report = await loop.run_in_executor(self.context.executor, self.report, period, int(trend_text))
            body = await loop.run_in_executor(self.context.executor, render, report, fmt.name)
        except TsdbError as err:
            return web.Response(status=400, content_type="application/json",
                                text=json.dumps({"status": "error", "errorType": "bad_data", "error": str(err)}))
        disposition = "inline" if fmt.inline else "attachment"
        return web.Response(body=body, headers={
            "Content-Type": fmt.content_type,
            "Content-Disposition": f'{disposition}; filename="{filename(report, fmt.name)}"'})

    async def start(self) -> None:
        if self.config.reports:
            self._task = asyncio.get_running_loop().create_task(
                run_every(self._stop, TICK_S, self._tick, "SLO report delivery"))

    async def _tick(self) -> None:
        await self.scheduler.tick()  # the scheduler in effect (a reload replaces it)

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        new = SLOsConfig.from_raw(config.slos)
        loop = asyncio.get_running_loop()
        slos = await loop.run_in_executor(self.context.executor, _slos, new)
        scheduler = self._scheduler(new)

        async def apply() -> None:
            self.config, self.slos, self.scheduler = new, slos, scheduler
            if new.reports and self._task is None:
                await self.start()

        return Reload(apply, changed=new != self.config)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        self.store.close()


def build(context: ServerContext) -> Any:
    return SLOReportsComponent(context)
