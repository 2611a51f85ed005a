"""Does the plain loss's late BBP outlier survive S -> infinity? (issue 15, THEORY T2/T3)

For each (alpha, S, seed) of the grid: the m = 0 DMFT (:func:`dmft.solver.solve`, plain
loss, explicit step) to ``--t-max`` with S paths (``--response`` of them for M_R, as the
shipped alpha_BBP_TS runs), and at every ``--every`` in ``[--t-from, --t-max]`` the BBP
outlier (H6) of the pooled sample law (H2; ``g = h* / rms(h*)`` at m = 0) for each law
estimator of ``--estimators`` (``bins``: histogram; ``kde``: the smooth law behind the
shipped alpha_BBP_TS = 12.1). Per run it records the fraction of times with the outlier
(status not absent and margin > 0, as :meth:`dmft.spectrum.SpectrumTrajectory._present`),
the median margin, and the lowest sampled weight z_min (the plain z = 3h^2 - y has no lower
end, so z_min falls with S: the sample law's left edge follows it).

Resumable: the JSON at ``--out`` holds one entry per finished run and is rewritten
atomically after each; a rerun skips the entries present.

Run (one core; S = 128000 takes the longest)::

    python benchmarks/plain_s_scan.py --alphas 12 14 16 --samples 8000 32000 \
        --seeds 0 1 --out data/plain_late_outlier_s_scan.json
    python benchmarks/plain_s_scan.py --alphas 12 14 16 --samples 128000 --seeds 0 \
        --out data/plain_late_outlier_s_scan.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from dmft.losses import get_loss
from dmft.solver import solve
from dmft.spectrum import WeightLaw


def _outliers(sol, k: int, estimator: str) -> tuple[bool, float]:
    """(present, margin) of the pooled law at sample index k."""
    loss = get_loss(sol.loss)
    h, hs, y = sol.h_samples[k], sol.h_star, sol.y
    i = int(np.argmin(np.abs(sol.t - sol.sample_times[k])))
    law = WeightLaw.from_samples(loss.fp(h, y), hs / np.sqrt(np.mean(hs**2)), sol.alpha,
                                 float(np.mean(sol.mu_groups[:, i])), 0.0,
                                 t=float(sol.sample_times[k]), estimator=estimator)
    out = law.outlier()
    return bool(out.status != "absent" and out.margin > 0), float(out.margin)


def _run(alpha: float, S: int, seed: int, args) -> dict:
    times = np.arange(args.t_from, args.t_max + 1e-9, args.every)
    t0 = time.perf_counter()
    sol = solve(alpha, 0.0, args.t_max, dt=args.dt, n_samples=S, seed=seed,
                sample_times=times, n_groups=4, n_response=args.response, progress=False)
    if sol.status != 0:
        raise RuntimeError(f"alpha={alpha}, S={S}, seed={seed}: {sol.message}")
    loss = get_loss(sol.loss)
    row = {"alpha": alpha, "S": S, "seed": seed, "t": sol.sample_times.tolist(),
           "z_min": [float(loss.fp(h, sol.y).min()) for h in sol.h_samples],
           "solve_s": time.perf_counter() - t0}
    for est in args.estimators:
        pm = [_outliers(sol, k, est) for k in range(sol.sample_times.size)]
        present = np.array([p for p, _ in pm])
        margin = np.array([x for _, x in pm])
        row[est] = {"present": present.tolist(), "margin": margin.tolist(),
                    "fraction": float(present.mean()),
                    "median_margin": float(np.median(margin))}
    row["seconds"] = time.perf_counter() - t0
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alphas", type=float, nargs="+", default=[12.0, 14.0, 16.0])
    p.add_argument("--samples", type=int, nargs="+", default=[8000, 32000])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--t-max", type=float, default=10.0)
    p.add_argument("--t-from", type=float, default=5.0)
    p.add_argument("--every", type=float, default=0.25)
    p.add_argument("--dt", type=float, default=0.02)
    p.add_argument("--response", type=int, default=2000)
    p.add_argument("--estimators", nargs="+", default=["bins", "kde"],
                   choices=("bins", "kde"))
    p.add_argument("--out", type=Path, default=Path("plain_s_scan.json"))
    args = p.parse_args()
    rows = json.loads(args.out.read_text())["runs"] if args.out.is_file() else []
    done = {(r["alpha"], r["S"], r["seed"]) for r in rows}
    for S in args.samples:
        for seed in args.seeds:
            for alpha in args.alphas:
                if (alpha, S, seed) in done:
                    continue
                row = _run(alpha, S, seed, args)
                rows.append(row)
                tmp = args.out.with_suffix(".json.tmp")
                tmp.write_text(json.dumps({"kind": "plain-late-outlier-s-scan",
                                           "params": {k: v for k, v in vars(args).items()
                                                      if k != "out"}, "runs": rows},
                                          indent=1, default=str))
                tmp.replace(args.out)
                print(f"alpha={alpha:g} S={S} seed={seed}: "
                      + ", ".join(f"{e} present {row[e]['fraction']:.0%} median margin "
                                  f"{row[e]['median_margin']:+.2f}" for e in args.estimators)
                      + f"; z_min {np.median(row['z_min']):.1f}; {row['seconds']:.0f} s",
                      flush=True)


if __name__ == "__main__":
    main()
