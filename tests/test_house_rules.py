"""Project-wide rules enforced by walking the source: numba options in one place, one-way layering."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tsdb"

# Layer of each top-level part of the package: a module may import its own layer or lower.
LAYERS = {
    "tsdb.errors": 0, "tsdb.labels": 0, "tsdb._numba": 0, "tsdb.config": 0, "tsdb.http_body": 0, "tsdb.timefmt": 0,
    "tsdb.gotemplate": 0, "tsdb.secrets": 0, "tsdb.sqlite_store": 0, "tsdb.regex": 0, "tsdb.tls_client": 0,
    "tsdb.storage": 1,
    "tsdb.query": 2,
    "tsdb.rules": 3, "tsdb.alerting": 3, "tsdb.scrape": 3, "tsdb.slo": 3, "tsdb.ingest": 3, "tsdb.cluster": 3,
    "tsdb.server": 4, "tsdb.cli": 4, "tsdb.client": 4, "tsdb.embedded": 4,
    "tsdb.bench": 4, "tsdb.sdk": 4, "tsdb": 4,
}
# Explicit exceptions, each with its reason.
ALLOWED = {
    # the query engine sees storage only through the interfaces module ...
    ("tsdb.query", "tsdb.storage.interfaces"): "the query engine's one view of storage",
    # ... except the conformance runner, a tool that must load data into a real store
    ("tsdb.query.promqltest", "tsdb.storage"): "test runner loads data through the real Appender",
    ("tsdb.storage.remote", "tsdb.server.pb"): "the remote-read client speaks the generated protobuf messages",
}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if "pb" in parts:
            continue
        out.append((".".join(parts), path))
    return out


def _imports(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                package = base if path.name == "__init__.py" else base[:-1]
                prefix = ".".join(package[: len(package) - node.level + 1])
                found.append(f"{prefix}.{node.module}" if node.module else prefix)
            elif node.module:
                found.append(node.module)
    return [name for name in found if name == "tsdb" or name.startswith("tsdb.")]


def _layer(module: str) -> tuple[str, int]:
    best = ""
    for key in LAYERS:
        if (module == key or module.startswith(key + ".")) and len(key) > len(best):
            best = key
    return best, LAYERS[best]


def _allowed(importer: str, imported: str) -> bool:
    for (src, dst) in ALLOWED:
        if (importer == src or importer.startswith(src + ".")) and (
            imported == dst or imported.startswith(dst + ".")
        ):
            return True
    return False


def test_imports_go_one_way() -> None:
    violations = []
    for module, path in _modules():
        src_key, src_layer = _layer(module)
        for imported in _imports(path, module):
            dst_key, dst_layer = _layer(imported)
            if dst_layer > src_layer and not _allowed(module, imported):
                violations.append(f"{module} (layer {src_layer}) imports {imported} (layer {dst_layer})")
            elif (
                src_key == "tsdb.query" and dst_key == "tsdb.storage" and not _allowed(module, imported)
            ):
                violations.append(f"{module} imports {imported}: query sees storage only via interfaces")
    assert not violations, "\n".join(violations)


# Stages inside storage (tsdb/storage/__init__.py): a stage imports only lower stages (and itself); the
# on-disk formats (wal, chunks, index) do not import each other; foundation modules only each other.
STORAGE_STAGES = {
    "crc": 0, "crc_kernels": 0, "encoding": 0, "fileutil": 0, "ulid": 0, "dirlock": 0, "interfaces": 0,
    "memory": 0, "metadata": 0, "merge_kernels": 0, "limits": 0, "interrupt": 0,
    "wal": 1, "chunks": 1, "index": 1,
    "head": 2,
    "block": 3, "merge": 3,
    "compact": 4, "tiers": 4, "snapshot": 4, "remote": 4,
    "db": 5,
    "bucket": 6,
}


def _storage_stage(module: str) -> tuple[str, int] | None:
    parts = module.split(".")
    if parts[:2] != ["tsdb", "storage"] or len(parts) < 3:
        return None
    return parts[2], STORAGE_STAGES[parts[2]]


def test_storage_stages_import_one_way() -> None:
    violations = []
    for module, path in _modules():
        src = _storage_stage(module)
        if src is None:
            continue
        for imported in _imports(path, module):
            dst = _storage_stage(imported)
            if dst is None or dst[0] == src[0] or dst[1] < src[1] or src[1] == dst[1] == 0:
                continue
            violations.append(f"{module} (stage {src[0]}={src[1]}) imports {imported} (stage {dst[0]}={dst[1]})")
    assert not violations, "\n".join(violations)


def test_every_storage_part_has_a_stage() -> None:
    storage = PACKAGE / "storage"
    parts = {p.stem for p in storage.glob("*.py") if p.stem != "__init__"}
    parts |= {p.name for p in storage.iterdir() if (p / "__init__.py").exists()}
    assert parts == set(STORAGE_STAGES)


def test_package_inits_say_what_they_own() -> None:
    """Every package's __init__ opens with a docstring and holds nothing else (no re-export chains)."""
    offenders = []
    for init in sorted((PACKAGE / "storage").rglob("__init__.py")):
        tree = ast.parse(init.read_text())
        if ast.get_docstring(tree) is None or len(tree.body) != 1:
            offenders.append(str(init.relative_to(ROOT)))
    assert not offenders, offenders


def test_layering_check_catches_violations(tmp_path: Path) -> None:
    """The checker itself: an upward import is a violation, an allowed one is not."""
    assert _layer("tsdb.storage.head.head") == ("tsdb.storage", 1)
    assert _storage_stage("tsdb.storage.wal.writer") == ("wal", 1)
    assert _storage_stage("tsdb.storage") is None
    assert _layer("tsdb.query.engine")[1] > _layer("tsdb.storage.db")[1]
    assert _allowed("tsdb.query.engine", "tsdb.storage.interfaces")
    assert not _allowed("tsdb.query.engine", "tsdb.storage.head.head")
    bad = tmp_path / "bad.py"
    bad.write_text("from tsdb.query import engine\nimport os\nfrom . import sibling\n")
    assert _imports(bad, "tsdb.storage.bad") == ["tsdb.query", "tsdb.storage"]


def _numba_decorations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "numba"
            and node.attr in {"njit", "jit", "vectorize", "guvectorize", "cfunc", "generated_jit"}
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} numba.{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module == "numba":
            for alias in node.names:
                if alias.name in {"njit", "jit", "vectorize", "guvectorize", "cfunc"}:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} from numba import {alias.name}")
    return found


def test_numba_options_are_set_in_one_place() -> None:
    offenders = []
    for _, path in _modules():
        if path.name == "_numba.py":
            continue
        offenders.extend(_numba_decorations(path))
    assert not offenders, "use tsdb._numba.njit instead:\n" + "\n".join(offenders)


def test_numba_checker_catches_direct_use(tmp_path: Path) -> None:
    bad = tmp_path / "k.py"
    bad.write_text("import numba\nfrom numba import njit\n@numba.njit\ndef f(): pass\n")
    bad = bad.rename(ROOT / "tests" / "_tmp_numba_probe.py")
    try:
        assert len(_numba_decorations(bad)) == 2
    finally:
        bad.unlink()


def test_kernels_live_in_kernel_modules() -> None:
    """Only ``*_kernels.py`` modules (and _numba itself) may use the njit decorator."""
    offenders = []
    for _, path in _modules():
        if path.name.endswith("_kernels.py") or path.name == "_numba.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for dec in node.decorator_list:
                    if isinstance(dec, ast.Name) and dec.id == "njit":
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not offenders, "move these kernels into a *_kernels.py module:\n" + "\n".join(offenders)


def test_numba_options() -> None:
    from tsdb._numba import NUMBA_OPTIONS, jit_enabled, njit

    assert NUMBA_OPTIONS["cache"] is True and NUMBA_OPTIONS["nogil"] is True
    assert NUMBA_OPTIONS["fastmath"] is False

    def add(a: float, b: float) -> float:
        return a + b

    compiled = njit(add)
    assert compiled(1.5, 2.0) == 3.5
    assert isinstance(jit_enabled(), bool)


@pytest.mark.parametrize("name", ["utils.py", "core.py", "helpers.py", "misc.py"])
def test_no_grab_bag_modules(name: str) -> None:
    assert not list(PACKAGE.rglob(name)), f"no {name} grab bags: name a module after what it holds"
