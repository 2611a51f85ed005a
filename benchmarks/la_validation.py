"""DMFT vs finite-N gradient descent for the paper's loss l_a (THEORY E4a), at equal step.

Prints one table row per (a, alpha, m0, N, t, observable): DMFT value +- s.e., GD value +-
s.e. over datasets, and z; then the dt -> 0 shifts of both routes; then the worst |z|.
Part ``main``: a = 0.01 (eta = dt = 1e-3, t <= 0.2, N = 1000 and 2000 at t <= 0.1) at
alpha = 2.5 and 6 (either side of alpha_BBP_init(0.01) ~ 3-4), and a = 1 (dt = 0.02,
t <= 1). Part ``shift``: a = 0.01, dt 1e-3 -> 5e-4; a = 1, dt 0.04 -> 0.02.
Run: ``python benchmarks/la_validation.py [main|shift|all]`` (default all; ~15 min on two
loaded cores).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_la_dmft import compare, shift_rows  # noqa: E402

MAIN = (  # a, alpha, N, dt, times, seeds
    (0.01, 2.5, 1000, 1e-3, (0.05, 0.1, 0.2), 8),
    (0.01, 6.0, 1000, 1e-3, (0.05, 0.1, 0.2), 8),
    (0.01, 2.5, 2000, 1e-3, (0.05, 0.1), 6),
    (0.01, 6.0, 2000, 1e-3, (0.05, 0.1), 6),
    (1.0, 2.5, 1000, 0.02, (0.2, 0.5, 1.0), 8),
    (1.0, 6.0, 1000, 0.02, (0.2, 0.5, 1.0), 8),
)
SHIFT = (  # a, alpha, N, (dt, dt/2), times, seeds
    (0.01, 6.0, 1000, (1e-3, 5e-4), (0.05, 0.1), 8),
    (1.0, 6.0, 1000, (0.04, 0.02), (0.2, 0.4, 0.8), 8),
)


def _print(a, rows, dt_label) -> float:
    worst = 0.0
    for r in rows:
        worst = max(worst, abs(r.z))
        print(f"{a:>5g} {r.alpha:>5g} {r.m0:>4g} {r.N:>5d} {dt_label:>11} {r.t:>5g} "
              f"{r.name:>3} {r.dmft:>9.4f}+-{r.dmft_se:<7.4f} {r.gd:>9.4f}+-{r.gd_se:<7.4f} "
              f"{r.z:>6.2f}", flush=True)
    return worst


def main() -> None:
    part = sys.argv[1] if len(sys.argv) > 1 else "all"
    print(f"{'a':>5} {'alpha':>5} {'m0':>4} {'N':>5} {'dt':>11} {'t':>5} {'obs':>3} "
          f"{'DMFT':>17} {'GD':>17} {'z':>6}")
    worst = 0.0
    if part in ("main", "all"):
        for a, alpha, N, dt, times, seeds in MAIN:
            t0 = time.perf_counter()
            rows = compare(a, alpha, N, dt, times, seeds=seeds, n_samples=16_000,
                           dtype=np.float32)
            worst = max(worst, _print(a, rows, f"{dt:g}"))
            print(f"# {time.perf_counter() - t0:.0f} s", flush=True)
    if part in ("shift", "all"):
        print("# dt -> 0: values are x(dt) - x(dt/2) on each side")
        for a, alpha, N, dts, times, seeds in SHIFT:
            t0 = time.perf_counter()
            rows = shift_rows(a, alpha, N, dts, times, seeds=seeds, n_samples=16_000)
            worst = max(worst, _print(a, rows, f"{dts[0]:g}->{dts[1]:g}"))
            print(f"# {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"worst |z| = {worst:.2f}")


if __name__ == "__main__":
    main()
