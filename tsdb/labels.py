"""Label sets and label matchers.

:class:`Labels` is an immutable label set sorted by name, stored flat as ``(n1, v1, n2, v2, ...)`` so a
million of them stay small; it hashes and compares like a tuple. ``stable_hash()`` gives a 64-bit hash
that is the same in every process (Python's ``hash`` of strings is salted per process).

:class:`Matcher` implements PromQL's four matchers. Regular expressions are fully anchored and follow
RE2 syntax as Prometheus does (``.`` also matches a newline); constructs RE2 rejects (look-around,
back-references) are rejected with :class:`InvalidMatcherError`.
"""

from __future__ import annotations

import enum
import hashlib
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tsdb.errors import InvalidLabelsError, InvalidMatcherError
from tsdb.regex import AnchoredRegex, compile_anchored

METRIC_NAME = "__name__"
_LEGACY_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_LEGACY_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def is_legacy_label_name(name: str) -> bool:
    """True if ``name`` is a label name in the classic ``[a-zA-Z_][a-zA-Z0-9_]*`` charset."""
    return _LEGACY_NAME.fullmatch(name) is not None


def is_legacy_metric_name(name: str) -> bool:
    """True if ``name`` is a metric name in the classic ``[a-zA-Z_:][a-zA-Z0-9_:]*`` charset."""
    return _LEGACY_METRIC.fullmatch(name) is not None


def _escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Labels(tuple[str, ...]):
    """An immutable label set sorted by name; flat ``(name, value, name, value, ...)`` storage.

    Build one with ``Labels({"a": "1"})``, ``Labels([("a", "1")])`` or ``Labels.from_strings("a", "1")``.
    Duplicate names raise :class:`InvalidLabelsError`. Labels with an empty value are dropped, as
    Prometheus treats an empty value as an absent label. Thread-safe (immutable).
    """

    __slots__ = ()

    def __new__(cls, source: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> Labels:
        items = source.items() if isinstance(source, Mapping) else source
        pairs = sorted((n, v) for n, v in items if v != "")
        flat: list[str] = []
        previous = None
        for name, value in pairs:
            if name == previous:
                raise InvalidLabelsError(f"duplicate label name {name!r}")
            previous = name
            flat.append(sys.intern(name))
            flat.append(value)
        return tuple.__new__(cls, flat)

    @classmethod
    def from_strings(cls, *name_values: str) -> Labels:
        """Labels from alternating names and values: ``Labels.from_strings("a", "1", "b", "2")``."""
        if len(name_values) % 2:
            raise InvalidLabelsError("from_strings needs an even number of strings")
        return cls(zip(name_values[::2], name_values[1::2], strict=True))

    @classmethod
    def from_sorted_flat(cls, flat: Iterable[str]) -> Labels:
        """Wrap an already sorted, duplicate-free flat tuple without checking (hot paths only)."""
        return tuple.__new__(cls, flat)

    # -- access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return tuple.__len__(self) // 2

    def __iter__(self) -> Iterator[str]:
        """Iterate label names (like a mapping)."""
        return iter(tuple.__getitem__(self, slice(0, None, 2)))

    def __contains__(self, name: object) -> bool:
        return name in tuple.__getitem__(self, slice(0, None, 2))

    def __getitem__(self, name: str) -> str:  # type: ignore[override]
        value = self.get(name, None)
        if value is None:
            raise KeyError(name)
        return value

    def get(self, name: str, default: Any = "") -> Any:
        """The value of ``name``, or ``default`` (empty string) when absent."""
        flat = tuple.__getitem__(self, slice(None))
        for i in range(0, len(flat), 2):
            if flat[i] == name:
                return flat[i + 1]
        return default

    def names(self) -> tuple[str, ...]:
        return tuple.__getitem__(self, slice(0, None, 2))

    def values(self) -> tuple[str, ...]:
        return tuple.__getitem__(self, slice(1, None, 2))

    def items(self) -> Iterator[tuple[str, str]]:
        flat = tuple.__getitem__(self, slice(None))
        return zip(flat[::2], flat[1::2], strict=True)

    def to_dict(self) -> dict[str, str]:
        return dict(self.items())

    @property
    def metric_name(self) -> str:
        """The value of ``__name__`` ("" when absent)."""
        return str(self.get(METRIC_NAME, ""))

    # -- derivation -----------------------------------------------------------------------------
    def with_labels(self, updates: Mapping[str, str]) -> Labels:
        """A copy with ``updates`` applied; an empty value removes the label."""
        merged = self.to_dict()
        merged.update(updates)
        return Labels(merged)

    def without(self, names: Iterable[str]) -> Labels:
        """A copy without the given label names."""
        drop = set(names)
        return Labels.from_sorted_flat(_flatten((n, v) for n, v in self.items() if n not in drop))

    def keep(self, names: Iterable[str]) -> Labels:
        """A copy with only the given label names."""
        wanted = set(names)
        return Labels.from_sorted_flat(_flatten((n, v) for n, v in self.items() if n in wanted))

    def without_metric_name(self) -> Labels:
        return self.without((METRIC_NAME,)) if METRIC_NAME in self else self

    # -- identity -------------------------------------------------------------------------------
    def stable_hash(self) -> int:
        """A 64-bit unsigned hash of the label set, the same in every process and version."""
        digest = hashlib.blake2b(self.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little")

    def encode(self) -> bytes:
        """Names and values joined by 0xff bytes (unambiguous: 0xff never occurs in UTF-8)."""
        return b"\xff".join(s.encode() for s in tuple.__getitem__(self, slice(None)))

    def validate(self, scheme: str = "utf8") -> None:
        """Raise :class:`InvalidLabelsError` naming the offending label when the set is invalid.

        ``scheme="utf8"`` (Prometheus 3.x default) accepts any non-empty name; ``"legacy"`` also
        requires the classic charset. Names starting with ``__`` other than ``__name__`` are allowed
        (Prometheus uses them internally) but ``__name__`` must not be empty when present.
        """
        if not len(self):
            raise InvalidLabelsError("empty label set")
        for name, value in self.items():
            if name == "":
                raise InvalidLabelsError(f"empty label name in {self}")
            if scheme == "legacy":
                ok = is_legacy_metric_name(value) if name == METRIC_NAME else is_legacy_label_name(name)
                if not ok:
                    what = "metric name" if name == METRIC_NAME else "label name"
                    raise InvalidLabelsError(f"invalid {what} {value if name == METRIC_NAME else name!r}"
                                             f" in {self}")

    def __str__(self) -> str:
        name = self.metric_name
        rest = ", ".join(
            f'{n if is_legacy_label_name(n) else chr(34) + _escape_value(n) + chr(34)}="{_escape_value(v)}"'
            for n, v in self.items()
            if n != METRIC_NAME
        )
        if name and not is_legacy_metric_name(name):
            return "{" + ", ".join(filter(None, [f'"{_escape_value(name)}"', rest])) + "}"
        if name and not rest:
            return name
        return f"{name}{{{rest}}}"

    def __repr__(self) -> str:
        return f"Labels({self.to_dict()!r})"

    def __reduce__(self) -> tuple[Any, tuple[tuple[str, ...]]]:
        return (Labels.from_sorted_flat, (tuple.__getitem__(self, slice(None)),))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Labels) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)

    def __lt__(self, other: tuple[str, ...]) -> bool:
        return compare_labels(self, other) < 0  # type: ignore[arg-type]

    def __le__(self, other: tuple[str, ...]) -> bool:
        return compare_labels(self, other) <= 0  # type: ignore[arg-type]

    def __gt__(self, other: tuple[str, ...]) -> bool:
        return compare_labels(self, other) > 0  # type: ignore[arg-type]

    def __ge__(self, other: tuple[str, ...]) -> bool:
        return compare_labels(self, other) >= 0  # type: ignore[arg-type]


def compare_labels(a: Labels, b: Labels) -> int:
    """Prometheus's label-set order: pairwise by name then value; a prefix sorts first."""
    fa = tuple.__getitem__(a, slice(None))
    fb = tuple.__getitem__(b, slice(None))
    for i in range(0, min(len(fa), len(fb)), 2):
        if fa[i] != fb[i]:
            return -1 if fa[i] < fb[i] else 1
        if fa[i + 1] != fb[i + 1]:
            return -1 if fa[i + 1] < fb[i + 1] else 1
    return (len(fa) > len(fb)) - (len(fa) < len(fb))


def _flatten(pairs: Iterable[tuple[str, str]]) -> list[str]:
    flat: list[str] = []
    for name, value in pairs:
        flat.append(name)
        flat.append(value)
    return flat


EMPTY_LABELS = Labels()


class MatchType(enum.Enum):
    """The four PromQL matcher operators."""

    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


_LITERAL_RE = re.compile(r"[^\\.^$|?*+()\[\]{}]*")


class Matcher:
    """A label matcher ``name op value``. Immutable and hashable; regexes compile once.

    A missing label has the value "", so ``{a=""}`` matches series without ``a`` and ``{a!=""}``
    those having it, exactly as in PromQL.
    """

    __slots__ = ("_literals", "_regex", "name", "type", "value")

    def __init__(self, type: MatchType | str, name: str, value: str) -> None:
        try:
            mtype = type if isinstance(type, MatchType) else MatchType(type)
        except ValueError as err:
            raise InvalidMatcherError(f"unknown matcher operator {type!r} for label {name!r}") from err
        self.type = mtype
        self.name = name
        self.value = value
        self._regex: AnchoredRegex | None = None
        self._literals: frozenset[str] | None = None
        if mtype in (MatchType.REGEX, MatchType.NOT_REGEX):
            self._regex = compile_anchored(value)
            alternatives = value.split("|")
            if all(_LITERAL_RE.fullmatch(a) for a in alternatives):
                self._literals = frozenset(alternatives)

    @classmethod
    def equal(cls, name: str, value: str) -> Matcher:
        return cls(MatchType.EQUAL, name, value)

    def matches(self, value: str) -> bool:
        """True if a label value (``""`` for absent) satisfies the matcher."""
        t = self.type
        if t is MatchType.EQUAL:
            return value == self.value
        if t is MatchType.NOT_EQUAL:
            return value != self.value
        if self._literals is not None:
            hit = value in self._literals
        else:
            assert self._regex is not None
            hit = self._regex.fullmatch(value) is not None
        return hit if t is MatchType.REGEX else not hit

    def matches_empty(self) -> bool:
        """True if the matcher also selects series lacking the label."""
        return self.matches("")

    def set_matches(self) -> frozenset[str] | None:
        """For ``=`` and literal-alternation ``=~``: the exact values matched; else None."""
        if self.type is MatchType.EQUAL:
            return frozenset((self.value,))
        if self.type is MatchType.REGEX:
            return self._literals
        return None

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Matcher)
            and (self.type, self.name, self.value) == (other.type, other.name, other.value)
        )

    def __hash__(self) -> int:
        return hash((self.type, self.name, self.value))

    def __str__(self) -> str:
        name = self.name if is_legacy_label_name(self.name) else f'"{_escape_value(self.name)}"'
        return f'{name}{self.type.value}"{_escape_value(self.value)}"'

    def __repr__(self) -> str:
        return f"Matcher({self.type.value!r}, {self.name!r}, {self.value!r})"


def matches_all(matchers: Iterable[Matcher], labels: Labels) -> bool:
    """True if ``labels`` satisfies every matcher."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


class LabelsCache:
    """A bounded map from a series' raw key (its labels as sent) to its :class:`Labels`; thread-safe.

    Lookups are plain dict operations (atomic under the GIL), so a request's series are resolved in one
    C-level pass. When the map grows past ``capacity`` it is emptied: a sender (remote-write, line protocols)
    re-sends the same series every interval, so the working set refills at once, without per-lookup LRU
    bookkeeping.
    """

    def __init__(self, capacity: int = 1_000_000) -> None:
        self.capacity = capacity
        self._entries: dict[bytes, Labels] = {}

    def get(self, key: bytes) -> Labels | None:
        return self._entries.get(key)

    def get_many(self, keys: list[bytes]) -> list[Labels | None]:
        """The cached Labels of each key (None when absent), in one C-level pass."""
        return list(map(self._entries.get, keys))

    def put(self, key: bytes, labels: Labels) -> None:
        if len(self._entries) >= self.capacity:
            self._entries = {}
        self._entries[key] = labels

    def __len__(self) -> int:
        return len(self._entries)
