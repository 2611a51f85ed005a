"""Time ``dmft figures --quick`` (target: under a minute on 2 cores, issue 14 row 12).

Run: ``python benchmarks/bench_figures.py [--full]``; prints the wall and CPU time of
:func:`dmft.figures.make_figures` (each figure's own time is printed by the function as it
is written) and exits 1 if the quick run exceeds ``--budget`` seconds of wall time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--full", action="store_true", help="the full-size figures instead")
    p.add_argument("--budget", type=float, default=60.0, help="wall-time budget, seconds")
    args = p.parse_args()
    from dmft.figures import make_figures

    with tempfile.TemporaryDirectory() as out:
        wall, cpu = time.perf_counter(), time.process_time()
        make_figures(out, quick=not args.full)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"make_figures(quick={not args.full}): {wall:.1f} s wall, {cpu:.1f} s CPU")
    return int(not args.full and wall > args.budget)


if __name__ == "__main__":
    sys.exit(main())
