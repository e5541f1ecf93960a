"""Rotating rounds: every command runs once per round, the starting command rotating each round.

Used by the bench areas (not a bench area itself: it has no .sh suffix). A machine shared with
compiles drifts over seconds; within one round all commands see the same load, so the per-round
difference against the baseline is a fair comparison even when absolute times move.

    python3 rounds.py MEASURE SPEC.json ROUNDS OUT.json

MEASURE is measure.c built static: it forks, execs, waits and reports wall time, peak RSS and
faults, so neither Python's start-up nor its RSS is in any figure.

SPEC is a list of {"name", "argv", "env" (optional, else inherited), "reset" (optional dir that
is removed and recreated, empty and 0700, before each run; not timed)}. OUT gets, per command,
the wall times (ms), peak RSS (MiB) and minor page faults (both from wait4) of every run.
"""

import json
import os
import shutil
import subprocess
import sys


def run_once(measure, c):
    if c.get("reset"):
        shutil.rmtree(c["reset"], ignore_errors=True)
        os.mkdir(c["reset"], 0o700)
    p = subprocess.run([measure, *c["argv"]], env=c.get("env", os.environ), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, check=True)
    ns, rss_kib, minflt, status = (int(x) for x in p.stdout.split()[-4:])
    if status != 0:
        sys.exit(f"{c['name']}: wait status {status}: {' '.join(c['argv'])}")
    return ns / 1e6, rss_kib / 1024, minflt


def main():
    measure = sys.argv[1]
    spec = json.load(open(sys.argv[2]))
    rounds = int(sys.argv[3])
    out = {c["name"]: {"ms": [], "rss": [], "minflt": []} for c in spec}
    for c in spec:  # warm-up: page cache, dentries, the binaries' pages
        for _ in range(5):
            run_once(measure, c)
    for r in range(rounds):
        k = r % len(spec)
        for c in spec[k:] + spec[:k]:
            ms, rss, flt = run_once(measure, c)
            out[c["name"]]["ms"].append(ms)
            out[c["name"]]["rss"].append(rss)
            out[c["name"]]["minflt"].append(flt)
    json.dump(out, open(sys.argv[4], "w"))


if __name__ == "__main__":
    main()
