#!/usr/bin/python3
"""How many of probe's checks ran on time, from the slow server's arrival log alone.

The benchmark's load section (tests/bench/run.sh --only load) points N targets at
probe-bench-slow-server, one URL path each (PREFIX0 .. PREFIX<N-1>), and marks its measuring
window with two requests of its own (/-/mark/start, /-/mark/end). The server writes one
"path ns" line per request (the kernel's receive time, CLOCK_MONOTONIC). Nothing here reads
probe's metrics.

On time. A target checked every INTERVAL should be asked on a fixed-rate grid,
anchor + k * INTERVAL. Its phase is probe's to choose (first runs are spread), so the grid is
anchored, per target, at one of its own arrivals in the window: the one whose grid puts the
most due times on time; among those, the one fewest other arrivals come before (the least late:
a scheduler never fires early, so the least late arrival is the best estimate of the true
grid), then the earliest. The due times counted are the grid's points in
[window start, window end - INTERVAL] (the last second's checks could still be on their way).
A due time is on time when an arrival falls in [due - 5 ms, due + 100 ms]. Its lateness is
that of the first arrival in [due - 5 ms, next due - 5 ms); a due time with none is missed
(its lateness counts as infinite in the percentiles). A target that never arrives in the
window misses all its due times. Lateness is measured from the anchor arrival, so it is the
spread of the arrivals around the target's own grid, not lateness against probe's internal
clock, which cannot be seen from outside.

Why this anchor. (a) The first arrival: a late first run (start-up is the busiest moment)
shifts the whole grid, and every later run that is exactly on time then reads early. (b) The
least late arrival alone (the phase after the widest empty stretch of the circle): exact for a
scheduler that never fires early, but one stray run (a second run of a target, at any phase)
moves the anchor and turns every honoured due time late. (c) The best of the target's own
arrivals, as here, ignores stray runs; it can only flatter a scheduler that scatters its runs
over the interval (by choosing the luckiest phase). Simulated with 30 due times per target:
runs late by 0-2 ms, 1 % by up to 300 ms: 99.3 % for the true grid, (c) and (b) alike; half the
runs skipped, the rest late by 0-2 ms or (23 %) 0-500 ms: 41.0 % true, 41.1 % (c); runs late
uniformly over 0-900 ms: 11.1 % true, 24.6 % (c), 14.4 % (b); one stray run per target: 100 %
true and (c), 60 % (b). So near the goal (>= 99 %) the figure is the true one.

As a cross-check the same count is made with the grid anchored at the target's first arrival
in the whole log (a): a late first run shifts that grid, so it reads lower whenever the first
run was late.

Prints one line of key=value figures:
  targets due on_time percent median_ms p99_ms missed arrivals first_anchor_percent

  on_time.py LOG --targets N [--prefix /t/] [--interval 1] [--early-ms 5] [--late-ms 100]
"""
import argparse
import bisect
import sys

MARK_START = "/-/mark/start"
MARK_END = "/-/mark/end"
MAX_LINES = 20_000_000  # the server caps its log at 5 M records by default


def read_log(path, prefix, targets):
    """Arrival times (ns, ascending) per target index, and the window marks."""
    arrivals = [[] for _ in range(targets)]
    marks = {}
    with open(path, encoding="utf-8", errors="replace") as log:
        for number, line in enumerate(log):
            if number >= MAX_LINES:
                break
            fields = line.split()
            if len(fields) != 2:
                continue
            where, ns = fields[0], int(fields[1])
            if where in (MARK_START, MARK_END):
                marks.setdefault(where, ns)
            elif where.startswith(prefix):
                index = where[len(prefix):]
                if index.isdigit() and int(index) < targets:
                    arrivals[int(index)].append(ns)
    for times in arrivals:
        times.sort()
    return arrivals, marks


def best_anchor(times, start, end, interval, early, late):
    """The arrival of `times` in [start - interval, end] the target's grid goes through."""
    window = [t for t in times if start - interval <= t <= end]
    if not window:
        return None
    phases = sorted(((t - start) % interval, t) for t in window)
    ring = [p - interval for p, _ in phases] + [p for p, _ in phases] + [p + interval for p, _ in phases]
    best = None
    for phase, t in phases:
        covered = bisect.bisect_right(ring, phase + late) - bisect.bisect_left(ring, phase - early)
        before = bisect.bisect_left(ring, phase) - bisect.bisect_left(ring, phase - early)
        key = (-covered, before, t)
        if best is None or key < best[0]:
            best = (key, t)
    return best[1]


def grid_dues(anchor, start, end, interval):
    """The grid's points in [start, end - interval]."""
    first = anchor + -((anchor - start) // interval) * interval  # first point >= start
    if first < start:
        first += interval
    last_allowed = end - interval
    count = 0 if first > last_allowed else (last_allowed - first) // interval + 1
    return [first + k * interval for k in range(count)]


def lateness_of(times, due, interval, early):
    """Lateness (ns) of the first arrival in [due - early, due + interval - early), or None."""
    i = bisect.bisect_left(times, due - early)
    if i < len(times) and times[i] < due + interval - early:
        return times[i] - due
    return None


def percentile(sorted_values, fraction):
    """Nearest rank; None (missed) sorts last."""
    if not sorted_values:
        return None
    rank = max(1, -(-int(fraction * 1000) * len(sorted_values) // 1000))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log")
    parser.add_argument("--targets", type=int, required=True)
    parser.add_argument("--prefix", default="/t/")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds")
    parser.add_argument("--early-ms", type=float, default=5.0)
    parser.add_argument("--late-ms", type=float, default=100.0)
    args = parser.parse_args()
    interval = int(args.interval * 1e9)
    early = int(args.early_ms * 1e6)
    late = int(args.late_ms * 1e6)

    arrivals, marks = read_log(args.log, args.prefix, args.targets)
    if MARK_START not in marks or MARK_END not in marks:
        print(f"on_time.py: {args.log}: no {MARK_START} and {MARK_END} requests", file=sys.stderr)
        return 1
    start, end = marks[MARK_START], marks[MARK_END]

    latenesses = []  # ns, or None for a missed due time
    on_time = first_anchor_on_time = seen = 0
    for times in arrivals:
        seen += sum(1 for t in times if start <= t <= end)
        anchor = best_anchor(times, start, end, interval, early, late)
        for due in grid_dues(anchor if anchor is not None else start, start, end, interval):
            lateness = lateness_of(times, due, interval, early) if anchor is not None else None
            latenesses.append(lateness)
            on_time += lateness is not None and lateness <= late
        if times:  # the cross-check: the grid through the first arrival
            for due in grid_dues(times[0], start, end, interval):
                lateness = lateness_of(times, due, interval, early)
                first_anchor_on_time += lateness is not None and lateness <= late

    due = len(latenesses)
    missed = sum(1 for v in latenesses if v is None)
    ordered = sorted(latenesses, key=lambda v: (v is None, v if v is not None else 0))

    def ms(value):
        return "missed" if value is None else f"{value / 1e6:.1f}"

    print(
        f"targets={args.targets} due={due} on_time={on_time}"
        f" percent={100 * on_time / due if due else 0:.2f}"
        f" median_ms={ms(percentile(ordered, 0.5))} p99_ms={ms(percentile(ordered, 0.99))}"
        f" missed={missed} arrivals={seen}"
        f" first_anchor_percent={100 * first_anchor_on_time / due if due else 0:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
