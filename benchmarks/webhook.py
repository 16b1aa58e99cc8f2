"""A webhook receiver on 127.0.0.1 recording every Alertmanager-format notification it gets (benchmarks,
examples and tests share it)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """One notification: when it arrived (monotonic seconds), its group labels, status, the sender's external
    URL, its group key and its alerts' names (sorted)."""

    at: float
    group_labels: dict[str, str]
    status: str
    sender: str
    group_key: str = ""
    alertnames: tuple[str, ...] = ()


class WebhookReceiver:
    """Answers 200 to every POST on any path and records it; :meth:`close` stops it. Thread-safe."""

    def __init__(self) -> None:
        self._got: list[Delivery] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                names = tuple(sorted(str(a.get("labels", {}).get("alertname", "")) for a in body.get("alerts") or []))
                receiver._record(Delivery(time.monotonic(), dict(body.get("groupLabels") or {}),
                                          str(body.get("status", "")), str(body.get("externalURL", "")),
                                          str(body.get("groupKey", "")), names))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True).start()

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self._got.append(delivery)

    def deliveries(self, status: str = "firing", **group_labels: str) -> list[Delivery]:
        """The notifications with ``status`` whose group labels include ``group_labels``, oldest first."""
        with self._lock:
            return [d for d in self._got if d.status == status
                    and all(d.group_labels.get(k) == v for k, v in group_labels.items())]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
