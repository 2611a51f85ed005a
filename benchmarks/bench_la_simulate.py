"""Finite-N gradient descent with the normalised loss l_a (E4a) and the chosen step
(issue 11 item 3): N = 1000, alpha = 6, a = 0.01, t_max = 10, eta=None.

    PYTHONPATH=$PWD python benchmarks/bench_la_simulate.py [--t-max T] [--seeds S]

Prints the chosen eta (and what set it), lambda_max at the start, the number of steps, the
wall time (and per step), the final m, e, mu with their standard errors and the status.
"""

from __future__ import annotations

import argparse
import time

from dmft.losses import get_loss
from dmft.simulate import simulate


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--N", type=int, default=1000)
    p.add_argument("--alpha", type=float, default=6.0)
    p.add_argument("--a", type=float, default=0.01)
    p.add_argument("--t-max", type=float, default=10.0)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--record-every", type=float, default=0.5)
    args = p.parse_args()
    t0 = time.perf_counter()
    r = simulate(args.alpha, args.N, t_max=args.t_max, seeds=args.seeds,
                 loss=get_loss("phase_retrieval", a=args.a), record_every=args.record_every)
    wall = time.perf_counter() - t0
    meta = r.metadata
    steps = meta["n_steps"] * args.seeds
    print(f"N={args.N} alpha={args.alpha:g} a={args.a:g} t_max={args.t_max:g} "
          f"seeds={args.seeds}")
    print(f"eta={meta['eta']:.4g} (set by {meta['eta_chosen_from']}; lambda_max(0)="
          f"{meta['lambda_max_start']:.4g}) steps={meta['n_steps']} per dataset")
    print(f"wall={wall:.1f} s ({1e3 * wall / steps:.2f} ms/step)")
    for k in range(0, r.t.size, max(1, r.t.size // 10)):
        print(f"  t={r.t[k]:<6g} m={r.m_mean[k]:.4f} e={r.e_mean[k]:.5g} mu={r.mu_mean[k]:.5g}")
    print(f"final: t={r.t[-1]:g} m={r.m_mean[-1]:.4f}+-{r.m_sem[-1]:.4f} "
          f"e={r.e_mean[-1]:.5g}+-{r.e_sem[-1]:.2g} mu={r.mu_mean[-1]:.5g} "
          f"status={r.status.name} ({r.message})")


if __name__ == "__main__":
    main()
