"""Cost of the built-in host collector: CPU seconds per collection and as a share of one core at a 15 s
interval (goal < 2 %). ``python -m benchmarks host_collector [--rounds 50]``; never asserts."""

from __future__ import annotations

import argparse
import sys
import time

from tsdb.scrape.host import collect_host


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks host_collector")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--interval", type=float, default=15.0)
    args = parser.parse_args(argv)
    collect_host()  # warm up (imports, first /proc reads)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    samples = 0
    for _ in range(args.rounds):
        samples = len(collect_host())
    cpu = (time.process_time() - cpu0) / args.rounds
    wall = (time.perf_counter() - wall0) / args.rounds
    print(f"host collector: {samples} samples per collection, {cpu * 1000:.1f} ms CPU ({wall * 1000:.1f} ms wall); "
          f"{cpu / args.interval * 100:.3f} % of one core at a {args.interval:g} s interval (goal < 2 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
