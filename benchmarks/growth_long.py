"""Growth factor G(t; alpha) to long horizons (issue 15: "G(t) to t = 100").

The m = 0 DMFT with its tangent equations (``solve(tangent=True)`` through
:func:`dmft.growth.growth_factor`), which rescales the odd part so that G can grow without
leaving the linear regime. Per alpha one file ``<out>/growth_long_alpha<alpha>.npz`` (format
of ``data/README.md``, readable by :func:`dmft.growth.reference_growth`), written when the
alpha is done, so an interrupted sweep keeps the finished ones; ``--combine FILE`` merges
them into one file (the shipped ``data/growth_factor_t100.npz``).

Printed per alpha: log G at t = 10, 20, 50, 100 with its standard error and the late
growth law, ``d log G / dt`` (an exponential rate, the signature of an outlier that
survives: alpha > alpha_BBP_TS) against ``d log G / d log t`` (a power of t: marginal
states, alpha < alpha_BBP_TS), both fitted on ``t`` in [t_max/2, t_max].

Run (defaults = the shipped data; about 20 min per alpha on one core beside another job)::

    python benchmarks/growth_long.py --out /tmp/g100
    python benchmarks/growth_long.py --combine data/growth_factor_t100.npz --out /tmp/g100

The growth route against S (``data/plain_growth_s_scan.json``): one folder per S, e.g.
``--alphas 12 13 --t-max 50 --samples S --every 5 --out g50_S<S>`` for S = 8000, 32000,
128000 (and ``--alphas 14 --t-max 25``), then ``--scan-json data/plain_growth_s_scan.json
--scan-dirs g50_S8000 ...``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from dmft._io import load_npz, save_npz, save_text
from dmft.growth import growth_factor


def _run(alpha: float, args) -> Path:
    t0 = time.perf_counter()
    g = growth_factor(alpha, t_max=args.t_max, dt=args.dt, n_samples=args.samples,
                      seed=args.seed, n_response=args.response, n_groups=args.groups,
                      progress=True)
    every = args.every
    meta = {"alpha": alpha, "t_max": args.t_max, "dt": args.dt, "n_samples": args.samples,
            "n_response": args.response, "n_groups": args.groups, "seed": args.seed,
            "every": every, "a": None, "scheme": "explicit", "loss": "phase_retrieval",
            "tangent": True, "seconds": time.perf_counter() - t0}
    path = args.out / f"growth_long_alpha{alpha:g}.npz"
    save_npz(path, "reference-growth", {"alphas": np.array([alpha]), "t": g.t[::every],
                                        "G": g.G[None, ::every],
                                        "G_sem": g.G_sem[None, ::every]}, meta)
    _report(alpha, g.t, g.G, g.G_sem, meta["seconds"])
    return path


def _report(alpha, t, G, G_sem, seconds) -> None:
    logG, err = np.log(G), G_sem / G
    marks = [f"t={x:g}: {logG[i]:.2f}+-{err[i]:.2f}"
             for x in (10, 20, 50, 100) if x <= t[-1] + 1e-9
             for i in [int(np.argmin(np.abs(t - x)))]]
    late = t >= t[-1] / 2
    rate = np.polyfit(t[late], logG[late], 1)[0]
    power = np.polyfit(np.log(t[late]), logG[late], 1)[0]
    print(f"alpha {alpha:g} ({seconds:.0f} s): log G {'; '.join(marks)}; late d log G/dt = "
          f"{rate:.3f}, d log G/d log t = {power:.2f}", flush=True)


def _combine(args) -> None:
    files = sorted(args.out.glob("growth_long_alpha*.npz"),
                   key=lambda p: float(p.stem.removeprefix("growth_long_alpha")))
    if not files:
        raise SystemExit(f"no growth_long_alpha*.npz in {args.out}")
    loaded = [load_npz(p, kind="reference-growth") for p in files]
    t = loaded[0][0]["t"]
    arrays = {"alphas": np.concatenate([a["alphas"] for a, _ in loaded]), "t": t,
              "G": np.concatenate([a["G"] for a, _ in loaded]),
              "G_sem": np.concatenate([a["G_sem"] for a, _ in loaded])}
    meta = {k: v for k, v in loaded[0][1].items() if k not in ("alpha", "seconds")}
    meta["seconds"] = {str(m["alpha"]): m["seconds"] for _, m in loaded}
    save_npz(args.combine, "reference-growth", arrays, meta)
    for a, m in loaded:
        _report(float(a["alphas"][0]), a["t"], a["G"][0], a["G_sem"][0], m["seconds"])
    print(f"wrote {args.combine}")


def _scan_json(args) -> None:
    """The per-alpha files of several ``--out`` folders (e.g. one per S) in one JSON: per run
    alpha, S, seed, t_max, log G and G_sem/G every unit of time, and d log G/dt per window
    of 10 (the growth route of alpha_BBP_TS against S, THEORY T3)."""
    import json

    runs = []
    for folder in args.scan_dirs:
        for path in sorted(folder.glob("growth_long_alpha*.npz")):
            arrays, meta = load_npz(path, kind="reference-growth")
            t, G, sem = arrays["t"], arrays["G"][0], arrays["G_sem"][0]
            k = np.unique(np.searchsorted(t, np.arange(0.0, t[-1] + 1e-9, 1.0)))
            rates = {}
            for w0 in range(10, int(t[-1] + 1e-9), 10):
                w = (t >= w0) & (t <= w0 + 10)
                rates[f"{w0}-{w0 + 10}"] = float(np.polyfit(t[w], np.log(G[w]), 1)[0])
            runs.append({"alpha": float(arrays["alphas"][0]), "S": meta["n_samples"],
                         "seed": meta["seed"], "n_groups": meta["n_groups"],
                         "n_response": meta["n_response"], "t_max": meta["t_max"],
                         "dt": meta["dt"], "seconds": meta["seconds"],
                         "t": t[k].tolist(), "log_G": np.log(G[k]).tolist(),
                         "rel_sem": (sem[k] / G[k]).tolist(), "rate_per_window": rates})
    runs.sort(key=lambda r: (r["alpha"], r["S"]))
    save_text(args.scan_json, json.dumps({"kind": "plain-growth-s-scan", "runs": runs},
                                         indent=1))
    for r in runs:
        print(f"alpha {r['alpha']:g} S {r['S']}: d log G/dt "
              + ", ".join(f"[{w}] {v:.2f}" for w, v in r["rate_per_window"].items()))
    print(f"wrote {args.scan_json}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alphas", type=float, nargs="+", default=[12.0, 14.0])
    p.add_argument("--t-max", type=float, default=100.0)
    p.add_argument("--dt", type=float, default=0.02)
    p.add_argument("--samples", type=int, default=20_000)
    p.add_argument("--response", type=int, default=2000)
    p.add_argument("--groups", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=int, default=10, help="keep every k-th time point")
    p.add_argument("--out", type=Path, default=Path("growth_long"))
    p.add_argument("--combine", type=Path, help="merge the per-alpha files into this file")
    p.add_argument("--scan-json", type=Path,
                   help="collect the per-alpha files of --scan-dirs into this JSON")
    p.add_argument("--scan-dirs", type=Path, nargs="+", default=[])
    args = p.parse_args()
    if args.scan_json:
        _scan_json(args)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    if args.combine:
        _combine(args)
        return
    for alpha in args.alphas:
        _run(alpha, args)


if __name__ == "__main__":
    main()
