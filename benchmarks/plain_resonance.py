"""Why the plain loss's alpha_BBP_TS rises with S: the outlier is a resonance (issue 15, THEORY T3).

For a sample law of the weights the left branch of ``S_PV(s)`` ends at the pole of the
lowest sample, ``s = 1/z_min``, so the BBP outlier (H6), the root ``s*`` of ``S_PV`` on that
branch, exists only if no sample lies below ``z* = 1/s*``. The bulk of the late-time law
fixes ``z*(alpha, t)``; the plain ``z = 3 h^2 - y`` has an unbounded, exponential lower tail
``P(z < x) ~ A exp(x / ell)``, so a population of ``n`` independent weights keeps the
outlier with probability ``exp(-n P(z < z*))`` at a time whose bulk law has one (a fraction
``q`` of the times). With ``n -> infinity`` that goes to 0 at every alpha: at N = inf the
plain loss has a resonance, not an isolated outlier, and alpha_BBP_TS is a finite-size
threshold, where the presence falls to 1/2.

This script measures ``z*`` and the tail on m = 0 DMFT populations (plain loss, explicit
step, 2000 response paths, as ``plain_s_scan.py``) at ``--times``: per (alpha, seed, t) the
fewest lowest samples whose removal gives the law an outlier (bisection up to
``--k-max``; 0 when the full law has it) and ``z* = 1/s*`` of that law. At m = 0 the two
paths of an antithetic pair are identical (their forces are the same and ``rho = 0``), so
a population of S paths holds ``S/2`` independent weights. ``--summary`` compares the
predicted presence (the mean over times of ``exp(-(S/2) P(z < z*))``, 0 at times without a
bulk outlier) with the presence fractions measured at
S = 8000, 32000, 128000 (``data/plain_late_outlier_s_scan.json``) and prints the predicted
50 % point in alpha at each size, and for finite-N gradient descent (``n = alpha N``).

Run (one core, ~20 s per population)::

    python benchmarks/plain_resonance.py --alphas 12 13 14 15 16 --seeds 0 1 \
        --out data/plain_resonance.json
    python benchmarks/plain_resonance.py --out data/plain_resonance.json --summary
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from dmft._io import _atomic_write, save_text
from dmft._spectral_laws import dynamic_signal_weights
from dmft.losses import get_loss
from dmft.solver import solve
from dmft.spectrum import WeightLaw

_K_BULK = 16  # at most this many removed samples (8 pairs): the cut stays in the extreme tail
_TAIL_GRID = np.arange(-16.0, -3.9, 0.5)  # P(z < x) is stored on this grid (pair counts)
_TAIL_FIT = (-9.0, -4.5)  # and the exponential tail fitted on this window of it
_SCAN = Path(__file__).resolve().parents[1] / "data" / "plain_late_outlier_s_scan.json"


def _outlier(z, g, k: int, alpha: float, mu: float, t: float):
    keep = np.argsort(z, kind="stable")[k:]
    return WeightLaw.from_samples(z[keep], g[keep], alpha, mu, 0.0, t=t).outlier()


def _fewest_removed(z, g, alpha, mu, t, k_max: int):
    """Fewest lowest samples to remove for the law to have the outlier, and that law's
    outlier (``(None, None)``: more than k_max)."""
    found = _outlier(z, g, 0, alpha, mu, t)
    if found.present:
        return 0, found
    found = _outlier(z, g, k_max, alpha, mu, t)
    if not found.present:
        return None, None
    lo, hi = 0, k_max
    while hi - lo > 1:
        mid = (lo + hi) // 2
        o = _outlier(z, g, mid, alpha, mu, t)
        if o.present:
            hi, found = mid, o
        else:
            lo = mid
    return hi, found


def _run(alpha: float, seed: int, args) -> list[dict]:
    sol = solve(alpha, 0.0, max(args.times), dt=args.dt, n_samples=args.samples, seed=seed,
                sample_times=args.times, n_groups=4, n_response=2000, progress=False)
    if sol.status != 0:
        raise RuntimeError(f"alpha={alpha}, seed={seed}: {sol.message}")
    loss, rows = get_loss(sol.loss), []
    for k, t in enumerate(sol.sample_times):
        h = np.asarray(sol.h_samples[k])
        z = loss.fp(h, sol.y)
        g = dynamic_signal_weights(h, sol.h_star, 0.0)
        mu = float(np.interp(t, sol.t, sol.mu))
        removed, o = _fewest_removed(z, g, alpha, mu, float(t), args.k_max)
        pairs = z[0::2]  # one weight per antithetic pair
        row = {"alpha": alpha, "seed": seed, "t": float(t), "removed": removed,
               "z_min": float(pairs.min()),
               "tail": [int((pairs < x).sum()) for x in _TAIL_GRID]}
        if removed is not None:
            row.update(s_star=float(o.s_pv), z_star=float(1.0 / o.s_pv),
                       lam=float(o.lam_pv))
        rows.append(row)
    return rows


def _tail(rows: list[dict], n_pairs: int) -> tuple[float, float, float]:
    """(log A, ell, count below the fit window's lower end) of ``P(z < x) = A e^(x/ell)``
    from the pooled pair counts of ``rows`` on the fit window (Poisson-weighted log-linear
    fit)."""
    window = (_TAIL_GRID >= _TAIL_FIT[0] - 1e-9) & (_TAIL_GRID <= _TAIL_FIT[1] + 1e-9)
    counts = np.sum([np.asarray(r["tail"], float)[window] for r in rows], axis=0)
    x, ok = _TAIL_GRID[window], counts > 0
    slope, log_a = np.polyfit(x[ok], np.log(counts[ok] / (len(rows) * n_pairs)), 1,
                              w=np.sqrt(counts[ok]))
    return float(log_a), float(1.0 / slope), float(counts[0])


def predictions(rows: list[dict], n_pairs: int) -> list[dict]:
    """Per alpha: q (fraction of times whose bulk law has the outlier), z* (median,
    quartiles), the tail (ell), and ``P_star``: ``P(z < z*)`` of each such time (the
    others hold no outlier at any size)."""
    out = []
    for alpha in sorted({r["alpha"] for r in rows}):
        sel = [r for r in rows if r["alpha"] == alpha]
        bulk = np.array([r["z_star"] for r in sel
                         if r["removed"] is not None and r["removed"] <= _K_BULK])
        log_a, ell, n_low = _tail(sel, n_pairs)
        out.append({"alpha": alpha, "q": bulk.size / len(sel),
                    "z_star": float(np.median(bulk)) if bulk.size else float("nan"),
                    "z_star_quartiles": np.percentile(bulk, [25, 75]).tolist()
                    if bulk.size else None, "ell": ell, "n_below_fit": n_low,
                    "P_star": np.exp(log_a + bulk / ell).tolist(), "n_times": len(sel)})
    return out


def presence(p: dict, n: float) -> float:
    """Predicted fraction of times with the outlier for ``n`` independent weights:
    ``(1/n_times) sum over the times with a bulk outlier of exp(-n P(z < z*))``."""
    return float(np.sum(np.exp(-n * np.asarray(p["P_star"]))) / p["n_times"])


def _fifty(preds: list[dict], n_of_alpha) -> str:
    """alpha where the predicted presence crosses 1/2 upwards (linear interpolation), or
    where it lies beyond the alpha grid."""
    a = np.array([p["alpha"] for p in preds])
    pres = np.array([presence(p, n_of_alpha(p["alpha"])) for p in preds])
    for i in range(a.size - 1):
        if pres[i] < 0.5 <= pres[i + 1]:
            return f"{a[i] + (0.5 - pres[i]) * (a[i + 1] - a[i]) / (pres[i + 1] - pres[i]):.2f}"
    return f"> {a[-1]:g}" if pres[-1] < 0.5 else f"< {a[0]:g}"


def _measured(alpha: float) -> dict[int, list[float]]:
    """Presence fractions (binned law) of the S-scan at ``alpha``, per S, one per seed."""
    scan = json.loads(_SCAN.read_text())["runs"] if _SCAN.is_file() else []
    out: dict[int, list[float]] = {}
    for x in scan:
        if x["alpha"] == alpha:
            out.setdefault(x["S"], []).append(x["bins"]["fraction"])
    return out


def summary(rows: list[dict], n_pairs: int) -> None:
    preds = predictions(rows, n_pairs)
    sizes = (8000, 32000, 128000, 256000)
    print("alpha  q     z* (quartiles)          ell   P(z<z*) median   presence predicted / "
          "measured (binned law, seeds) at S = " + ", ".join(map(str, sizes)))
    for p in preds:
        cells, measured = [], _measured(p["alpha"])
        for S in sizes:
            meas = measured.get(S, [])
            pred = presence(p, S / 2)
            cells.append(f"{pred:.2f} / " + (f"{np.mean(meas):.2f} ({len(meas)})" if meas
                                             else "-"))
        qs = p["z_star_quartiles"] or [float("nan")] * 2
        print(f"{p['alpha']:>5g}  {p['q']:.2f}  {p['z_star']:6.2f} ({qs[0]:.2f}, {qs[1]:.2f})"
              f"  {p['ell']:.2f}  {np.median(p['P_star']) if p['P_star'] else np.nan:.2e}  "
              + "; ".join(cells))
    print("50 % point of the predicted presence: " + ", ".join(
        f"S = {S}: {_fifty(preds, lambda a, S=S: S / 2)}" for S in sizes + (10**6,)))
    print("finite-N gradient descent (n = alpha N): " + ", ".join(
        f"N = {N}: {_fifty(preds, lambda a, N=N: a * N)}" for N in (500, 1000, 2000,
                                                                         10**4, 10**5)))


def plot(rows: list[dict], n_pairs: int, path: Path) -> None:
    """Presence of the outlier against S: predicted curves, measured fractions (points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    preds = predictions(rows, n_pairs)
    S = np.geomspace(2000, 2e6, 200)
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, p in enumerate(preds):
        colour = f"C{i}"
        ax.plot(S, [presence(p, x / 2) for x in S], color=colour,
                label=f"alpha = {p['alpha']:g}")
        for size, f in sorted(_measured(p["alpha"]).items()):
            err = np.std(f, ddof=1) / np.sqrt(len(f)) if len(f) > 1 else 0.0
            ax.errorbar(size, np.mean(f), yerr=err, fmt="o", color=colour)
    ax.set_xscale("log")
    ax.set_xlabel("paths S (S/2 independent weights; finite N: alpha N weights)")
    ax.set_ylabel("fraction of late times with the BBP outlier")
    ax.set_title("plain loss, t in [5, 10]: lines: mean of exp(-(S/2) P(z < z*)), "
                 "points: S-scan", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    _atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=120))
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alphas", type=float, nargs="+", default=[12.0, 13.0, 14.0, 15.0, 16.0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--samples", type=int, default=32000)
    p.add_argument("--times", type=float, nargs="+", default=[5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    p.add_argument("--dt", type=float, default=0.02)
    p.add_argument("--k-max", type=int, default=128, help="most samples removed in the search")
    p.add_argument("--out", type=Path, default=Path("plain_resonance.json"))
    p.add_argument("--summary", action="store_true", help="print the table of --out, stop")
    p.add_argument("--plot", type=Path, default=None, help="also draw the presence figure")
    args = p.parse_args()
    doc = (json.loads(args.out.read_text()) if args.out.is_file()
           else {"kind": "plain-resonance", "params": {"samples": args.samples, "dt": args.dt,
                                                       "k_max": args.k_max}, "runs": []})
    n_pairs = doc["params"]["samples"] // 2
    if args.summary:
        summary(doc["runs"], n_pairs)
        if args.plot:
            plot(doc["runs"], n_pairs, args.plot)
        return
    if doc["params"]["samples"] != args.samples or doc["params"]["dt"] != args.dt:
        p.error(f"--out holds runs with {doc['params']}; use another file")
    done = {(r["alpha"], r["seed"]) for r in doc["runs"]}
    for seed in args.seeds:
        for alpha in args.alphas:
            if (alpha, seed) in done:
                continue
            t0 = time.perf_counter()
            rows = _run(alpha, seed, args)
            doc["runs"].extend(rows)
            save_text(args.out, json.dumps(doc, indent=1))  # atomic, after each population
            print(f"alpha={alpha:g} seed={seed}: z* = "
                  + " ".join(f"{r.get('z_star', float('nan')):.2f}" for r in rows)
                  + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
    summary(doc["runs"], n_pairs)


if __name__ == "__main__":
    main()
