"""Does the plain loss's late BBP outlier survive S -> infinity? (issue 15, THEORY T2/T3)

For each (alpha, S, seed) of the grid: the m = 0 DMFT (:func:`dmft.solver.solve`, plain
loss, explicit step) to ``--t-max`` with S paths (``--response`` of them for M_R, as the
shipped alpha_BBP_TS runs), and at every ``--every`` in ``[--t-from, --t-max]`` the BBP
outlier (H6) of the pooled sample law (H2, :meth:`dmft.spectrum.WeightLaw.from_solution`;
at m = 0 ``g = h* / rms(h*)``) for each law estimator of ``--estimators`` (``bins``:
histogram; ``kde``: the smooth law behind the shipped alpha_BBP_TS = 12.1). Per run it
records the fraction of times with the outlier (status not absent and margin > 0,
:attr:`dmft.spectrum.Outlier.present`), the median margin, and the lowest
sampled weight z_min (the plain z = 3h^2 - y has no lower end, so z_min falls with S: the
sample law's left edge follows it).

``--summary [MORE ...]`` prints, per (alpha, S), the presence fraction and median margin of
each estimator (mean and seed-to-seed sd over the seeds run), the median over seeds of each
run's median z_min over the window and of its lowest z_min.

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

from dmft._io import save_text
from dmft.losses import get_loss
from dmft.solver import solve
from dmft.spectrum import WeightLaw


def _outliers(sol, t: float, estimator: str) -> tuple[bool, float]:
    """(present, margin) of the pooled law (:meth:`WeightLaw.from_solution`) at time t."""
    out = WeightLaw.from_solution(sol, t, estimator=estimator).outlier()
    return out.present, float(out.margin)


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
        pm = [_outliers(sol, float(t), est) for t in sol.sample_times]
        present = np.array([p for p, _ in pm])
        margin = np.array([x for _, x in pm])
        row[est] = {"present": present.tolist(), "margin": margin.tolist(),
                    "fraction": float(present.mean()),
                    "median_margin": float(np.median(margin))}
    row["seconds"] = time.perf_counter() - t0
    return row


def _sd(x: np.ndarray) -> str:
    return f"{np.std(x, ddof=1):.2f}" if x.size > 1 else "-"


def summary(rows: list[dict], estimators) -> None:
    """Per (alpha, S): presence fraction and median margin, mean and sd over seeds."""
    keys = sorted({(r["alpha"], r["S"]) for r in rows})
    print(f"{'alpha':>5} {'S':>7} {'seeds':>5} " + " ".join(
        f"{e + ' present':>16} {e + ' margin':>15}" for e in estimators)
          + f" {'z_min':>6} {'lowest':>6}")
    for alpha, S in keys:
        sel = [r for r in rows if r["alpha"] == alpha and r["S"] == S]
        cells = []
        for e in estimators:
            f = np.array([r[e]["fraction"] for r in sel if e in r])
            m = np.array([r[e]["median_margin"] for r in sel if e in r])
            cells.append(f"{f.mean():>9.2f} +- {_sd(f):>4} {m.mean():>+8.2f} +- {_sd(m):>4}"
                         if f.size else f"{'-':>16} {'-':>15}")
        zmin = np.median([np.median(r["z_min"]) for r in sel])
        lowest = np.median([np.min(r["z_min"]) for r in sel])
        print(f"{alpha:>5g} {S:>7d} {len(sel):>5d} " + " ".join(cells)
              + f" {zmin:>6.1f} {lowest:>6.1f}")


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
    p.add_argument("--summary", nargs="*", type=Path, metavar="MORE",
                   help="print the table of --out (and of the MORE files, runs of parallel "
                        "jobs) and stop")
    args = p.parse_args()
    rows = json.loads(args.out.read_text())["runs"] if args.out.is_file() else []
    if args.summary is not None:
        summary(rows + [r for f in args.summary for r in json.loads(f.read_text())["runs"]],
                args.estimators)
        return
    done = {(r["alpha"], r["S"], r["seed"]) for r in rows}
    for S in args.samples:
        for seed in args.seeds:
            for alpha in args.alphas:
                if (alpha, S, seed) in done:
                    continue
                row = _run(alpha, S, seed, args)
                rows.append(row)
                save_text(args.out, json.dumps({"kind": "plain-late-outlier-s-scan",
                                                "params": {k: v for k, v in vars(args).items()
                                                           if k != "out"}, "runs": rows},
                                               indent=1, default=str))  # atomic
                print(f"alpha={alpha:g} S={S} seed={seed}: "
                      + ", ".join(f"{e} present {row[e]['fraction']:.0%} median margin "
                                  f"{row[e]['median_margin']:+.2f}" for e in args.estimators)
                      + f"; z_min {np.median(row['z_min']):.1f}; {row['seconds']:.0f} s",
                      flush=True)


if __name__ == "__main__":
    main()
