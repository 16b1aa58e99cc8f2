"""Rule groups spread over the members of a notification cluster (``cluster.rule_groups: spread``).

Each group is evaluated by one live member, chosen by rendezvous hashing of its key over the members read
from etcd (every node computes the same placement; when a member joins or leaves only its share moves). The
evaluator publishes the group's alert state to the cluster (namespace ``rule_groups``) whenever an alert
appears, changes state or goes; a node that takes a group over starts from that copy, so a firing alert stays
firing and a pending one keeps its ``for`` clock, as after a restart. A node evaluates nothing before it has
read the members and the shared state once (a node starting while etcd is down waits for it; running nodes
keep their placement through an etcd outage).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from tsdb.server.components.cluster import ClusterComponent

_IDENTITY = ("labels", "active_at", "state", "fired_at", "resolved_at", "keep_firing_since")
"""What makes an alert state worth publishing again (its value and last send time change every evaluation)."""


class ClusterPlacement:
    """A :class:`tsdb.rules.manager.GroupPlacement` over a cluster's members. Thread-safe."""

    NAMESPACE = "rule_groups"

    def __init__(self, cluster: ClusterComponent) -> None:
        self.cluster = cluster
        self._shared: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._published: dict[str, str] = {}
        self._lock = threading.Lock()
        cluster.state.register(self.NAMESPACE, self._apply)

    def _apply(self, key: str, value: Any) -> None:
        with self._lock:
            if value is None:
                self._shared.pop(key, None)
            else:
                self._shared[key] = value

    def evaluator(self, key: str) -> str:
        if not self.cluster.members_known():
            return ""
        return self.cluster.owner_of(key)

    def evaluates(self, key: str) -> bool:
        return self.cluster.state.ready and self.evaluator(key) == self.cluster.node

    def saved(self, key: str) -> dict[str, list[dict[str, Any]]] | None:
        with self._lock:
            return self._shared.get(key)

    def save(self, key: str, state: dict[str, list[dict[str, Any]]]) -> None:
        identity = json.dumps({rule: [{k: a.get(k) for k in _IDENTITY} for a in alerts]
                               for rule, alerts in state.items()}, sort_keys=True)
        with self._lock:
            if self._published.get(key) == identity:
                return
            self._published[key] = identity
            self._shared[key] = state
        self.cluster.state.publish(self.NAMESPACE, key, state)
