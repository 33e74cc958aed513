#!/usr/bin/env python3
"""Reads the key<TAB>value files the runs of `scripts/bench.sh matrix` wrote
(<profile>-<mode>-<run>.tsv in DIR) and prints one table of every combination's ratios.

Each ratio is computed inside one run (the contenders measured back to back on the same
machine state); the table shows the median of those per-run ratios and every run's value,
so noise is visible. Full mode writes one file per profile whose times are already the
medians of its alternating runs.

usage: matrix.py DIR PAR_THREADS PAR_MODE
"""
import glob
import os
import statistics
import sys


def read(path):
    """A run's figures: key -> list of values (a key may repeat, e.g. per-run RSS)."""
    d = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            d.setdefault(k, []).append(v)
    return d


def num(d, k):
    v = d.get(k)
    return float(v[-1]) if v else None


def main():
    top, par_threads, par_mode = sys.argv[1], sys.argv[2], sys.argv[3]
    runs = {}
    for p in sorted(glob.glob(os.path.join(top, "*.tsv"))):
        prof, mode, _ = os.path.basename(p)[:-4].rsplit("-", 2)
        runs.setdefault((prof, mode), []).append(read(p))

    rows = []  # (profile, work, compared with, per-run ratios, goal)
    rss = {}
    lag_rows = []  # (profile, [(p99 ms, rate)])
    for (prof, mode), rs in sorted(runs.items()):
        if mode == "full":
            for d in rs:
                rss.setdefault(prof, []).extend(float(x) for x in d.get("full_rss", []))
                rows.append((prof, "full copy", "mydumper+myloader",
                             [float(x) for x in d.get("full_run_vs_anchor", [])], 0.9))
                if d.get("full_run_vs_floor"):
                    rows.append((prof, "full copy", "parallel LOAD DATA floor",
                                 [float(x) for x in d["full_run_vs_floor"]], 1.1))
            continue
        for name, label, goal in (
            ("rserial", "native serial, log_slave_updates", 0.8),
            ("rserial_nolsu", "native serial, no log_slave_updates", 0.8),
            ("rpar", f"native parallel ({par_threads}, {par_mode}), log_slave_updates", 1.0),
            ("rpar_nolsu", f"native parallel ({par_threads}, {par_mode}), no log_slave_updates", 1.0),
        ):
            ratios = [num(d, "incr_dmkit_s") / num(d, f"incr_{name}_s") for d in rs if num(d, f"incr_{name}_s")]
            if ratios:
                rows.append((prof, "binlog catch-up", label, ratios, goal))
        for d in rs:
            rss.setdefault(prof, []).extend(float(x) for x in d.get("incr_dmkit_rss", []))
        lags = [(num(d, "lag_dmkit_p99"), num(d, "lag_rate")) for d in rs if num(d, "lag_dmkit_p99") is not None]
        if lags:
            lag_rows.append((prof, lags))

    print("== matrix: ratio dmkit / other (medians of per-run ratios; < 1 is faster)")
    fmt = "%-9s %-16s %-52s %7s %6s %-5s %s"
    print(fmt % ("profile", "work", "compared with", "median", "goal", "met", "every run"))
    for prof, work, other, ratios, goal in rows:
        m = statistics.median(ratios)
        print(fmt % (prof, work, other, f"{m:.2f}", f"{goal:.2f}", "yes" if m <= goal else "NO",
                     " ".join(f"{r:.2f}" for r in ratios)))
    for prof, lags in lag_rows:
        p99 = statistics.median(p for p, _ in lags)
        print(f"steady-state lag ({prof}): dmkit p99 median {p99:.0f} ms (goal < 1000) at "
              + ", ".join(f"{r:.0f} tps" for _, r in lags) + "; every run: " + " ".join(f"{p:.0f}" for p, _ in lags))
    for prof, v in sorted(rss.items()):
        if v:
            print(f"dm-server peak RSS ({prof}): max {max(v):.0f} MiB over {len(v)} runs (goal <= 256)")


if __name__ == "__main__":
    main()
