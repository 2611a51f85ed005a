"""Finite-N success probability of gradient descent vs alpha, and alpha_50(N) vs DMFT (T4).

For each N, ``runs`` uniformly random starts (independent datasets) per alpha through
:func:`dmft.success.success_probability` (cached, so a rerun only prints); prints the
success rate with its Wilson 95 % interval per (N, alpha), the empirical 50 % point
alpha_50(N) +- its standard error, the rate at t_max / 2 (to show t_max is long enough),
and the DMFT prediction alpha_alg(N) of :func:`dmft.growth.invert_growth` on the
shipped growth factors (``data/growth_factor.npz``; no solve needed).

Run: ``python benchmarks/success_rates.py [--N 250 500 1000 2000] [--runs 40] ...``
(``--help`` for the options). Defaults use one worker: the machine is shared.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from dmft.growth import invert_growth, reference_growth
from dmft.success import success_probability


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--N", type=int, nargs="+", default=[250, 500, 1000, 2000])
    p.add_argument("--alphas", type=float, nargs="+",
                   default=[3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    p.add_argument("--runs", type=int, default=40)
    p.add_argument("--t-max", type=float, default=20.0)
    p.add_argument("--eta", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "dmft_success_rates"))
    return p.parse_args()


def _prediction(Ns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    g = reference_growth()
    th = invert_growth(Ns, np.array([x.alpha for x in g]), np.array([x.log_G_max for x in g]),
                       np.array([x.log_G_max_sem for x in g]))
    return th.alpha_alg, th.alpha_alg_err


def _print_curve(c) -> None:
    half = c.rate_at(c.t_max / 2)
    print(f"\nN = {c.N}: {c.trials[0]} runs per alpha, t_max = {c.t_max:g}, eta = {c.eta:g}")
    print(f"{'alpha':>6} {'k/n':>7} {'rate':>6} {'Wilson 95%':>16} {'rate(t_max/2)':>14}")
    for i, a in enumerate(c.alphas):
        print(f"{a:>6g} {c.successes[i]:>3d}/{c.trials[i]:<3d} {c.rate[i]:>6.3f} "
              f"[{c.ci_low[i]:.3f}, {c.ci_high[i]:.3f}] {half[i]:>14.3f}")
    t_esc = c.t_hit[np.isfinite(c.t_hit)]
    half_fit = c.fit_at(c.t_max / 2)
    print(f"escape time (first |m| > {c.success_threshold:g}) of successful runs: median "
          f"{np.median(t_esc):.2f}, 90% {np.quantile(t_esc, 0.9):.2f}, max {t_esc.max():.2f}; "
          f"alpha_50 at t_max/2: {half_fit.alpha_50:.3f} +- {half_fit.alpha_50_err:.3f}")
    tag = " (separated: bound, not s.e.)" if c.separated else ""
    print(f"alpha_50({c.N}) = {c.alpha_50:.3f} +- {c.alpha_50_err:.3f}{tag}; logistic width "
          f"{c.width:.3f}, deviance {c.deviance:.2f} on {len(c.alphas) - 2} d.o.f.",
          flush=True)


def main() -> None:
    args = _args()
    curves = []
    with ProcessPoolExecutor(max_workers=args.workers) as ex:
        for N in args.N:
            t0 = time.perf_counter()
            c = success_probability(N, args.alphas, runs=args.runs, t_max=args.t_max,
                                    eta=args.eta, seed=args.seed, executor=ex,
                                    cache_dir=args.cache_dir)
            _print_curve(c)
            print(f"({time.perf_counter() - t0:.0f} s)", flush=True)
            curves.append(c)
    pred, pred_err = _prediction([c.N for c in curves])
    print("\nN      alpha_50 (GD)       alpha_alg (DMFT, c = 1, m_escape = 0.5)")
    for c, p, e in zip(curves, pred, pred_err, strict=True):
        print(f"{c.N:<6d} {c.alpha_50:6.3f} +- {c.alpha_50_err:5.3f}   {p:6.3f} +- {e:5.3f}")


if __name__ == "__main__":
    main()
