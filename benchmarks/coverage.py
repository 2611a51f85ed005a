"""Coverage check of the DMFT error bars (issue 15): do ``m_sem`` and ``e_sem`` cover?

``--seeds`` short runs of :func:`dmft.solver.solve` at ``--samples`` paths are compared
with one long reference run at ``--ref-samples`` paths (same alpha, m0, dt, different
seed). At each time of ``--times`` and for m and e::

    z = (x_seed - x_ref) / sqrt(sem_seed^2 + sem_ref^2)

and the table gives the fraction of seeds with ``|z| < 2`` (with its 95 % Wilson
interval), the mean and the standard deviation of z. For correct error bars the fraction is
``P(|t_{G-1}| < 2)`` (the sem is estimated from ``G`` groups, so z follows Student's t with
``G - 1`` degrees of freedom, about 0.914 for G = 8; 0.954 for a known sem), the mean of z
is 0 (no bias: a finite-population bias of the DMFT that the groups do not see would show
here) and its standard deviation ``sqrt((G-1)/(G-3))`` (1.18 for G = 8). The issue's
acceptance band is 90-98 %.

Run: ``python benchmarks/coverage.py [--seeds 40] [--samples 4000] [--ref-samples 100000]``
(CPU heavy: the reference and ``seeds`` short runs; about a minute per 20 seeds on 2 busy
cores at the defaults, plus the reference).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy import stats

from dmft.solver import solve


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial fraction k / n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def z_scores(args) -> tuple[dict, dict, int, float]:
    """{(observable, time): z over seeds}, {same: (values, sems, reference value, its sem)},
    the number of groups, the reference's seconds."""
    kw = dict(dt=args.dt, n_groups=args.n_groups)
    t0 = time.perf_counter()
    ref = solve(args.alpha, args.m0, args.t_max, n_samples=args.ref_samples,
                n_response=args.ref_response, seed=10_000, **kw)
    ref_seconds = time.perf_counter() - t0
    if not ref.success:
        raise SystemExit(f"the reference run stopped: {ref.message}")
    idx = [int(np.argmin(np.abs(ref.t - t))) for t in args.times]
    keys = [(obs, k) for obs in ("m", "e") for k in idx]
    z = {key: [] for key in keys}
    raw = {(obs, k): ([], [], getattr(ref, obs)[k], getattr(ref, f"{obs}_sem")[k])
           for obs, k in keys}
    groups = 0
    for seed in range(args.seeds):
        s = solve(args.alpha, args.m0, args.t_max, n_samples=args.samples,
                  n_response=args.response, seed=seed, **kw)
        groups = s.metadata["n_groups"]
        if not s.success:
            print(f"# seed {seed} stopped: {s.message} (counted as |z| = inf)")
        for obs, k in keys:
            if k >= s.t.size:
                z[(obs, k)].append(np.inf)
                continue
            x, sem = getattr(s, obs)[k], getattr(s, f"{obs}_sem")[k]
            _, _, x_ref, sem_ref = raw[(obs, k)]
            z[(obs, k)].append((x - x_ref) / np.hypot(sem, sem_ref))
            raw[(obs, k)][0].append(x)
            raw[(obs, k)][1].append(sem)
    t_of = {k: float(ref.t[k]) for k in idx}
    z = {(obs, t_of[k]): v for (obs, k), v in z.items()}
    raw = {(obs, t_of[k]): v for (obs, k), v in raw.items()}
    return {key: np.array(v) for key, v in z.items()}, raw, groups, ref_seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alpha", type=float, default=3.0)
    p.add_argument("--m0", type=float, default=0.3)
    p.add_argument("--dt", type=float, default=0.02)
    p.add_argument("--t-max", type=float, default=2.0)
    p.add_argument("--times", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0])
    p.add_argument("--seeds", type=int, default=40)
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--response", type=int, default=2000)
    p.add_argument("--ref-samples", type=int, default=100_000)
    p.add_argument("--ref-response", type=int, default=20_000)
    p.add_argument("--n-groups", type=int, default=None, help="default: the solver's")
    args = p.parse_args()
    print(f"# {_load()}")
    t0 = time.perf_counter()
    z, raw, G, ref_seconds = z_scores(args)
    expected = stats.t.cdf(2.0, G - 1) - stats.t.cdf(-2.0, G - 1)
    print(f"alpha={args.alpha:g} m0={args.m0:g} dt={args.dt:g}: {args.seeds} seeds at "
          f"S={args.samples} (S_R={args.response}) vs a reference at S={args.ref_samples} "
          f"(S_R={args.ref_response}, {ref_seconds:.0f} s); G={G} groups, expected "
          f"P(|z|<2) = {expected:.3f} (t with {G - 1} dof), sd(z) = "
          f"{np.sqrt((G - 1) / (G - 3)) if G > 3 else np.inf:.2f}")
    print("sd/sem: spread of x over seeds / rms of the seeds' sem (1 for calibrated sems; "
          "needs no reference); bias: (mean over seeds - reference) / its standard error")
    print(f"{'obs':>4} {'t':>5} {'|z|<2':>7} {'95% interval':>15} {'mean z':>7} {'sd z':>6} "
          f"{'sd/sem':>7} {'bias':>6}")
    inside = total = 0
    for (obs, t), v in z.items():
        k = int(np.sum(np.abs(v) < 2))
        lo, hi = _wilson(k, v.size)
        finite = v[np.isfinite(v)]
        x, sem, x_ref, sem_ref = raw[(obs, t)]
        x, sem = np.array(x), np.array(sem)
        bias = (x.mean() - x_ref) / np.hypot(x.std(ddof=1) / np.sqrt(x.size), sem_ref)
        print(f"{obs:>4} {t:>5.2f} {k / v.size:>7.3f} [{lo:.3f}, {hi:.3f}] "
              f"{finite.mean():>7.2f} {finite.std(ddof=1):>6.2f} "
              f"{x.std(ddof=1) / np.sqrt(np.mean(sem**2)):>7.2f} {bias:>6.1f}")
        inside, total = inside + k, total + v.size
    print(f"all: {inside}/{total} = {inside / total:.3f} inside |z| < 2 (the times of one "
          "seed are correlated, so the pooled fraction is less precise than its count says)")
    print(f"# {_load()}; {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
