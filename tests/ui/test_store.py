"""The SQLite dashboard store: optimistic concurrency (409s), versions, diff, restore, delete, search, and
durability across reopening."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tsdb.errors import DashboardConflictError, DashboardError, DashboardNotFoundError
from tsdb.ui.store import DashboardStore


@pytest.fixture
def store(tmp_path: Path) -> DashboardStore:
    s = DashboardStore(tmp_path / "ui" / "dashboards.sqlite")
    yield s  # type: ignore[misc]
    s.close()


def _dash(uid: str, title: str, **extra: object) -> dict[str, object]:
    return {"uid": uid, "title": title, "panels": [{"type": "stat", "title": "p"}], **extra}


def test_create_save_and_conflicts(store: DashboardStore) -> None:
    first = store.save(_dash("a", "Alpha"), "created")
    assert first["version"] == 1 and first["panels"][0]["id"] == 1
    with pytest.raises(DashboardConflictError, match="already exists"):
        store.save(_dash("a", "Other"))  # no version: the uid is taken
    second = store.save({**first, "title": "Alpha 2"}, "renamed")
    assert second["version"] == 2
    with pytest.raises(DashboardConflictError, match=r"dashboard.version: 1 is not the stored version 2"):
        store.save({**first, "title": "stale"})
    assert store.save({**first, "title": "forced"}, overwrite=True)["version"] == 3
    model, meta = store.get("a")
    assert model["title"] == "forced" and meta["version"] == 3 and meta["created"] <= meta["updated"]
    with pytest.raises(DashboardError, match="title"):
        store.save({"uid": "b", "title": ""})
    with pytest.raises(DashboardNotFoundError):
        store.get("nope")


def test_concurrent_saves_of_one_version_one_wins(store: DashboardStore) -> None:
    base = store.save(_dash("c", "Concurrent"))
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def save(n: int) -> None:
        barrier.wait()
        try:
            store.save({**base, "title": f"writer {n}"})
            result = "ok"
        except DashboardConflictError:
            result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
    assert store.get("c")[1]["version"] == 2 and len(store.versions("c")) == 2


def test_versions_diff_restore(store: DashboardStore) -> None:
    v1 = store.save(_dash("d", "Diff", tags=["x"]), "one")
    v2 = store.save({**v1, "title": "Diff 2", "panels": [*v1["panels"], {"type": "text"}], "tags": []}, "two")
    assert [v["version"] for v in store.versions("d")] == [2, 1]
    assert store.versions("d")[0]["message"] == "two"
    assert store.version("d", 1)["dashboard"]["title"] == "Diff"
    with pytest.raises(DashboardNotFoundError, match="no version 9"):
        store.version("d", 9)
    result = store.diff("d", 1, 2)
    assert result["from"] == 1 and result["to"] == 2
    assert '-  "title": "Diff",' in result["diff"] and '+  "title": "Diff 2",' in result["diff"]
    changes = {c["path"]: c for c in result["changes"]}
    assert changes["title"] == {"path": "title", "op": "replace", "old": "Diff", "new": "Diff 2"}
    assert changes["panels[1]"]["op"] == "add" and changes["panels[1]"]["new"]["type"] == "text"
    assert changes["tags[0]"] == {"path": "tags[0]", "op": "remove", "old": "x", "new": None}
    restored = store.restore("d", 1)
    assert restored["version"] == 3 and restored["title"] == "Diff"
    assert store.versions("d")[0]["message"] == "restored version 1"
    assert store.diff("d", 1, 3)["changes"] == [{"path": "version", "op": "replace", "old": 1, "new": 3}]
    assert v2["version"] == 2


def test_search_delete_and_durability(tmp_path: Path) -> None:
    path = tmp_path / "ui" / "dashboards.sqlite"
    store = DashboardStore(path)
    store.save(_dash("n1", "Node exporter", tags=["linux", "node"]))
    store.save(_dash("n2", "nginx", tags=["web"]))
    store.save(_dash("k", "Kafka", tags=["linux"]))
    assert [d["uid"] for d in store.search()] == ["k", "n2", "n1"]
    assert [d["uid"] for d in store.search("N")] == ["n2", "n1"]
    assert [d["uid"] for d in store.search(tags=["linux"])] == ["k", "n1"]
    assert [d["uid"] for d in store.search("node", ["linux", "node"])] == ["n1"]
    store.delete("n2")
    with pytest.raises(DashboardNotFoundError):
        store.delete("n2")
    with pytest.raises(DashboardNotFoundError):
        store.versions("n2")
    store.close()
    reopened = DashboardStore(path)
    try:
        assert [d["uid"] for d in reopened.search()] == ["k", "n1"]
        assert reopened.get("n1")[0]["tags"] == ["linux", "node"]
        assert reopened.exists("k") and not reopened.exists("n2")
        assert reopened.save({**reopened.get("k")[0], "title": "Kafka 2"})["version"] == 2
    finally:
        reopened.close()
    assert (path.parent / "dashboards.sqlite-wal").exists() or path.exists()
