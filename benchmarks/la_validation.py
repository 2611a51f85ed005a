"""DMFT vs finite-N gradient descent for the paper's loss l_a (THEORY E4a), at equal step.

Prints one table row per (a, alpha, m0, N, t, observable): DMFT value +- s.e., GD value +-
s.e. over datasets, and z; then the dt -> 0 shifts of both routes; then the worst |z|.
Part ``main``: a = 0.01 (eta = dt = 1e-3, t <= 0.2, N = 1000 and 2000 at t <= 0.1) at
alpha = 2.5 and 6 (either side of alpha_BBP_init(0.01) ~ 3-4), and a = 1 (dt = 0.02,
t <= 1). Part ``prox``: the prox-gradient scheme (dmft.moreau) at dt = 5e-3, t <= 0.5,
N = 2000. Part ``shift``: x(dt) - x(dt/2) on both sides (explicit a = 0.01 and a = 1, prox
a = 0.01). Part ``limit``: DMFT of both schemes extrapolated to dt = 0 (gradient flow).
Run: ``python benchmarks/la_validation.py [main|prox|shift|limit|all]`` (default all;
~40 min on two loaded cores).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_la_dmft import compare, shift_rows  # noqa: E402

from dmft.losses import get_loss  # noqa: E402
from dmft.solver import solve  # noqa: E402

MAIN = (  # a, alpha, N, dt, times, seeds
    (0.01, 2.5, 1000, 1e-3, (0.05, 0.1, 0.2), 8),
    (0.01, 6.0, 1000, 1e-3, (0.05, 0.1, 0.2), 8),
    (0.01, 2.5, 2000, 1e-3, (0.05, 0.1), 6),
    (0.01, 6.0, 2000, 1e-3, (0.05, 0.1), 6),
    (1.0, 2.5, 1000, 0.02, (0.2, 0.5, 1.0), 8),
    (1.0, 6.0, 1000, 0.02, (0.2, 0.5, 1.0), 8),
)
PROX = (  # a, alpha, N, dt, times, seeds: scheme "prox" vs GD on the Moreau envelope
    (0.01, 2.5, 2000, 5e-3, (0.1, 0.25, 0.5), 6),
    (0.01, 6.0, 2000, 5e-3, (0.1, 0.25, 0.5), 6),
)
SHIFT = (  # scheme, a, alpha, N, (dt, dt/2), times, seeds
    ("explicit", 0.01, 6.0, 1000, (1e-3, 5e-4), (0.05, 0.1), 8),
    ("explicit", 1.0, 6.0, 1000, (0.04, 0.02), (0.2, 0.4, 0.8), 8),
    ("prox", 0.01, 6.0, 1000, (0.01, 0.005), (0.05, 0.1, 0.2), 8),
)
LIMIT = (  # a, alpha, m0, times, explicit dts, prox dts: both extrapolated to dt = 0
    (0.01, 6.0, 0.3, (0.05, 0.1), (1e-3, 5e-4), (0.01, 0.005, 0.0025)),
    (0.01, 2.5, 0.3, (0.05, 0.1), (1e-3, 5e-4), (0.01, 0.005, 0.0025)),
)


def _limit(a, alpha, m0, times, dts_explicit, dts_prox) -> None:
    """DMFT m(t) of both schemes and their linear extrapolations to dt = 0 (gradient flow):
    the two limits must agree (same seed, so the same initial population)."""
    loss = get_loss("phase_retrieval", a=a)
    out = {}
    for scheme, dts in (("explicit", dts_explicit), ("prox", dts_prox)):
        sols = [solve(alpha, m0, max(times), dt=dt, n_samples=16_000, seed=11, loss=loss,
                      n_response=None, n_groups=8, scheme=scheme) for dt in dts]
        for t in times:
            vals = [(s.m[int(round(t / s.dt))], s.m_sem[int(round(t / s.dt))]) for s in sols]
            (m1, e1), (m2, e2) = vals[-2], vals[-1]  # the two smallest steps
            out[scheme, t] = (2 * m2 - m1, float(np.hypot(2 * e2, e1)))
            print(f"# limit a={a:g} alpha={alpha:g} m0={m0:g} t={t:g} {scheme:>8}: m = "
                  + ", ".join(f"{m:.4f}+-{e:.4f} (dt={s.dt:g})"
                              for (m, e), s in zip(vals, sols, strict=True))
                  + f" -> dt=0: {out[scheme, t][0]:.4f}+-{out[scheme, t][1]:.4f}", flush=True)
    for t in times:
        (x, ex), (p, ep) = out["explicit", t], out["prox", t]
        print(f"# limit t={t:g}: explicit - prox = {x - p:+.4f} +- {np.hypot(ex, ep):.4f} "
              "(s.e. ignore the shared initial population: conservative)", flush=True)


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
    if part in ("prox", "all"):
        print("# scheme prox (dmft.moreau): DMFT vs GD on the Moreau envelope l_a^dt")
        for a, alpha, N, dt, times, seeds in PROX:
            t0 = time.perf_counter()
            rows = compare(a, alpha, N, dt, times, seeds=seeds, n_samples=16_000,
                           dtype=np.float32, scheme="prox")
            worst = max(worst, _print(a, rows, f"prox {dt:g}"))
            print(f"# {time.perf_counter() - t0:.0f} s", flush=True)
    if part in ("shift", "all"):
        print("# dt -> 0: values are x(dt) - x(dt/2) on each side")
        for scheme, a, alpha, N, dts, times, seeds in SHIFT:
            t0 = time.perf_counter()
            rows = shift_rows(a, alpha, N, dts, times, seeds=seeds, n_samples=16_000,
                              scheme=scheme)
            worst = max(worst, _print(a, rows, f"{scheme[0]} {dts[0]:g}->{dts[1]:g}"))
            print(f"# {time.perf_counter() - t0:.0f} s", flush=True)
    if part in ("limit", "all"):
        for args in LIMIT:
            _limit(*args)
    print(f"worst |z| = {worst:.2f}")


if __name__ == "__main__":
    main()
