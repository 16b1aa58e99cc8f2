"""The pre-encoded remote-write requests decode to exactly the workload, in per-series time order."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.bench.encode import SHAPES, encode_entries, generate_workload, label_fields, plan_requests, uvarint
from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels
from tsdb.server.remote_write import decode_body, decode_write_request, encode_write_request


def _decoded_by_series(plan: Any) -> dict[Labels, list[tuple[np.ndarray, np.ndarray]]]:
    out: dict[Labels, list[tuple[np.ndarray, np.ndarray]]] = {}
    for sender in plan.senders:
        for epoch in sender:
            for request in epoch:
                decoded = decode_body(request.body)
                assert decoded.num_samples == request.samples
                for i, labels in enumerate(decoded.labels):
                    s, e = decoded.offsets[i], decoded.offsets[i + 1]
                    out.setdefault(labels, []).append((decoded.ts[s:e], decoded.values[s:e]))
    return out


@settings(max_examples=25)
@given(series=st.integers(0, 30), slots=st.integers(0, 50), senders=st.integers(1, 5),
       shape=st.sampled_from(SHAPES), per_request=st.integers(1, 90), epoch=st.integers(1, 20))
def test_plan_round_trips_in_time_order(series: int, slots: int, senders: int, shape: str, per_request: int,
                                        epoch: int) -> None:
    workload = generate_workload(series, slots * 15_000, seed=3, end_ms=1_790_000_000_000)
    plan = plan_requests(workload, senders, shape, per_request, epoch_slots=epoch)
    assert plan.num_samples == workload.num_samples
    assert sum(r.samples for s in plan.senders for e in s for r in e) == workload.num_samples
    assert len({len(s) for s in plan.senders}) <= 1  # every sender passes the same number of barriers
    got = _decoded_by_series(plan)
    assert len(got) == series
    for i, labels in enumerate(workload.labels):
        ts = np.concatenate([t for t, _ in got[labels]])
        values = np.concatenate([v for _, v in got[labels]])
        want_ts, want_values = workload.series(i)
        np.testing.assert_array_equal(ts, want_ts)  # sent in time order, nothing lost or repeated
        np.testing.assert_array_equal(values.view(np.uint64), want_values.view(np.uint64))


def test_queue_shape_has_one_sample_per_series_per_request() -> None:
    workload = generate_workload(25, 20 * 15_000, seed=2, end_ms=1_790_000_000_000)
    plan = plan_requests(workload, 2, "queue", 10)
    for sender in plan.senders:
        for epoch in sender:
            for request in epoch:
                decoded = decode_write_request(request.payload)
                assert len(set(decoded.labels)) == len(decoded.labels) == request.samples <= 10


def test_backfill_shape_sends_many_samples_per_series() -> None:
    workload = generate_workload(10, 80 * 15_000, seed=2, end_ms=1_790_000_000_000)
    plan = plan_requests(workload, 1, "backfill", 100, epoch_slots=40)
    first = decode_write_request(plan.senders[0][0][0].payload)
    assert list(np.diff(first.offsets)) == [40, 40]  # 100 // 40 series of 40 samples each


def test_matches_the_protobuf_encoder_including_zero_and_negative() -> None:
    labels = [Labels({"__name__": "a", "x": "é"}), Labels({"__name__": "b"})]
    ts = np.array([0, 1, -5, 2**40, 127, 128], dtype=np.int64)
    values = np.array([0.0, -0.0, np.nan, 1.5, np.inf, -2.25])
    fields = [label_fields(lb) for lb in labels]
    ours = decode_write_request(encode_entries(fields, [(0, 0, 2), (1, 2, 1), (0, 3, 3)], ts, values))
    theirs = decode_write_request(encode_write_request(
        [(labels[0], ts[:2], values[:2]), (labels[1], ts[2:3], values[2:3]), (labels[0], ts[3:], values[3:])]))
    assert ours.labels == theirs.labels
    np.testing.assert_array_equal(ours.offsets, theirs.offsets)
    np.testing.assert_array_equal(ours.ts, theirs.ts)
    np.testing.assert_array_equal(ours.values.view(np.uint64), theirs.values.view(np.uint64))


def test_extra_labels_make_distinct_series() -> None:
    workload = generate_workload(3, 4 * 15_000, seed=2, end_ms=1_790_000_000_000)
    plan = plan_requests(workload, 1, "queue", extra_labels={"bench_pass": "grpc"})
    decoded = decode_write_request(plan.senders[0][0][0].payload)
    assert all(lb["bench_pass"] == "grpc" for lb in decoded.labels)
    assert plan.extra_labels == {"bench_pass": "grpc"}


@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 2**35, 2**63 - 1])
def test_uvarint(n: int) -> None:
    out = uvarint(n)
    assert all(b & 0x80 for b in out[:-1]) and not out[-1] & 0x80
    assert sum((b & 0x7F) << (7 * i) for i, b in enumerate(out)) == n
    assert len(uvarint(-1)) == 10


def test_bodies_only_plan() -> None:
    workload = generate_workload(3, 4 * 15_000, seed=2, end_ms=1_790_000_000_000)
    plan = plan_requests(workload, 1, "queue", keep_payloads=False)
    request = plan.senders[0][0][0]
    assert request.payload == b"" and decode_body(request.body).num_samples == request.samples == 3
    assert not plan.has_payloads


def test_bad_arguments() -> None:
    workload = generate_workload(2, 60_000, end_ms=1_790_000_000_000)
    with pytest.raises(InvalidArgumentError, match="shape"):
        plan_requests(workload, 1, "bulk")
    with pytest.raises(InvalidArgumentError, match="senders"):
        plan_requests(workload, 0)
