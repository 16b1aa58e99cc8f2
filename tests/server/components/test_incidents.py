"""Reload of the correlation and flap detection component: new window, labels and thresholds apply in
place (incidents kept); bad settings, and turning it off while running, raise before anything changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.server.components.context import server_context, with_sections
from tsdb.errors import ConfigError
from tsdb.server.components import incidents, notifications


def test_incidents_reload(tmp_path: Path) -> None:
    async def scenario() -> None:
        with server_context(tmp_path) as context:
            notifications.build(context)
            component = incidents.build(context)
            assert component is not None and component.correlator.window_s == 300
            section = {"correlation": {"window": "10m", "labels": ["cluster"], "flapping": {"changes": 6}}}
            await (await component.prepare_reload(with_sections(context, notifications=section))).apply()
            assert component.correlator.window_s == 600 and component.correlator.labels == ("cluster",)
            assert component.flapping.changes == 6 and component.flapping.window_s == 3600
            for bad in ({"correlation": {"window": "later"}}, {"correlation": {"bogus": 1}},
                        {"correlation": {"enabled": False}}):
                with pytest.raises(ConfigError):
                    await component.prepare_reload(with_sections(context, notifications=bad))
            assert component.correlator.window_s == 600

    asyncio.run(scenario())
