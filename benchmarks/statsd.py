"""StatsD parsing and aggregation throughput: lines per second for one-line datagrams handled in batches (as the
listener does) and for 120-line DogStatsD datagrams, and datagrams received over UDP from a sender process.
``python -m benchmarks statsd [--seconds 2]``; never asserts."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

from tsdb.ingest.statsd import StatsdAggregator, StatsdListener


def _lines_per_s(agg: StatsdAggregator, batch: list[bytes], lines: int, seconds: float) -> float:
    agg.ingest_many(batch)  # compile and create the series first
    rounds, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        agg.ingest_many(batch)
        rounds += 1
    return rounds * lines / (time.perf_counter() - started)


class _Discard:
    def appender(self) -> object:
        raise RuntimeError("the benchmark never flushes")


async def _udp(count: int) -> tuple[int, float]:
    listener = StatsdListener(_Discard(), udp="127.0.0.1:0")  # type: ignore[arg-type]
    await listener.start()
    sender = (f"import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
              f"for i in range({count}):\n"
              f"    s.sendto(b'svc.req:1|c|#host:web-%d' % (i % 50), ('127.0.0.1', {listener.udp_port}))\n"
              f"    if i % 2000 == 1999: time.sleep(0.005)\n")
    started = time.perf_counter()
    await asyncio.get_running_loop().run_in_executor(None, lambda: subprocess.run([sys.executable, "-c", sender],
                                                                                  check=True, timeout=120))
    took = time.perf_counter() - started
    await asyncio.sleep(0.3)
    listener.drain()
    received = int(listener.aggregator._value[:50].sum())
    listener._receiving.clear()
    for thread in listener._threads:
        thread.join(timeout=5)
    return received, took


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks statsd")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--datagrams", type=int, default=100_000)
    args = parser.parse_args(argv)
    one = [b"svc.req.count:1|c|#env:prod,host:web-%d" % (i % 50) for i in range(256)]
    rate = _lines_per_s(StatsdAggregator(), one, len(one), args.seconds)
    print(f"one-line datagrams, 256 per batch: {rate:,.0f} lines/s")
    lines = []
    for i in range(40):
        lines += [b"svc.req.count:1|c|#env:prod,host:web-%d,route:/api/%d" % (i % 8, i % 5),
                  b"svc.latency:%d:%d|ms|@0.5|#route:/api/%d" % (i, i * 2, i % 5),
                  b"svc.queue:%d|g|#host:web-%d" % (i, i % 8)]
    rate = _lines_per_s(StatsdAggregator(), [b"\n".join(lines)], len(lines), args.seconds)
    print(f"120-line DogStatsD datagrams (counters, packed timers, gauges): {rate:,.0f} lines/s")
    received, took = asyncio.run(_udp(args.datagrams))
    print(f"UDP from another process: {args.datagrams / took:,.0f} datagrams/s sent, {received / args.datagrams:.1%} "
          f"received")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
