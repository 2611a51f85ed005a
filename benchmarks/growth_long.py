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
from dmft.growth import GrowthFactor, growth_factor, reference_growth


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
    arrays = {"alphas": np.array([alpha]), "t": g.t[::every], "G": g.G[None, ::every],
              "G_sem": g.G_sem[None, ::every]}
    if g.log_G_groups is not None:
        arrays["log_G_groups"] = g.log_G_groups[None, :, ::every]
    save_npz(path, "reference-growth", arrays, meta)
    _report(g, meta["seconds"])
    return path


def _report(g: GrowthFactor, seconds) -> None:
    """log G at t = 10, 20, 50, 100 (mean over the groups +- s.e. when they are kept, else
    log of the group mean +- G_sem/G) and the late growth law on [t_max/2, t_max]."""
    t, logG, err = g.t, g.log_G, g.log_G_sem
    marks = [f"t={x:g}: {logG[i]:.2f}+-{err[i]:.2f}"
             for x in (10, 20, 50, 100) if x <= t[-1] + 1e-9
             for i in [int(np.argmin(np.abs(t - x)))]]
    late = t >= t[-1] / 2
    rate, rate_err = g.rate(t[-1] / 2, t[-1])
    power = np.polyfit(np.log(t[late]), logG[late], 1)[0]
    print(f"alpha {g.alpha:g} ({seconds:.0f} s): log G {'; '.join(marks)}; late d log G/dt = "
          f"{rate:.3f} +- {rate_err:.3f}, d log G/d log t = {power:.2f}", flush=True)


def _combine(args) -> None:
    files = sorted(args.out.glob("growth_long_alpha*.npz"),
                   key=lambda p: float(p.stem.removeprefix("growth_long_alpha")))
    if not files:
        raise SystemExit(f"no growth_long_alpha*.npz in {args.out}")
    loaded = [load_npz(p, kind="reference-growth") for p in files]
    t = loaded[0][0]["t"]
    keys = ["alphas", "G", "G_sem"]
    if all("log_G_groups" in a for a, _ in loaded):
        keys.append("log_G_groups")
    arrays = {"t": t, **{k: np.concatenate([a[k] for a, _ in loaded]) for k in keys}}
    meta = {k: v for k, v in loaded[0][1].items() if k not in ("alpha", "seconds")}
    meta["seconds"] = {str(m["alpha"]): m["seconds"] for _, m in loaded}
    save_npz(args.combine, "reference-growth", arrays, meta)
    for g, (_, m) in zip(reference_growth(args.combine), loaded, strict=True):
        _report(g, m["seconds"])
    print(f"wrote {args.combine}")


def _scan_json(args) -> None:
    """The per-alpha files of several ``--out`` folders (e.g. one per S) in one JSON (runs
    already in an existing JSON and not redone by the folders are kept): per run
    alpha, S, seed, t_max, log G and G_sem/G every unit of time, and d log G/dt per window
    of 10 (the growth route of alpha_BBP_TS against S, THEORY T3); for files that keep the
    groups' log G also its group mean and standard error, and the rates are fitted per
    group (mean, with ``rate_sem_per_window``)."""
    import json

    runs = []
    for folder in args.scan_dirs:
        for path in sorted(folder.glob("growth_long_alpha*.npz")):
            meta = load_npz(path, kind="reference-growth")[1]
            (g,) = reference_growth(path)
            t = g.t
            k = np.unique(np.searchsorted(t, np.arange(0.0, t[-1] + 1e-9, 1.0)))
            windows = {f"{w0}-{w0 + 10}": g.rate(w0, w0 + 10)
                       for w0 in range(10, int(t[-1] + 1e-9), 10)}
            run = {"alpha": g.alpha, "S": meta["n_samples"], "seed": meta["seed"],
                   "n_groups": meta["n_groups"], "n_response": meta["n_response"],
                   "t_max": meta["t_max"], "dt": meta["dt"], "seconds": meta["seconds"],
                   "t": t[k].tolist(), "log_G": np.log(g.G[k]).tolist(),
                   "rel_sem": (g.G_sem[k] / g.G[k]).tolist(),
                   "rate_per_window": {w: r for w, (r, _) in windows.items()}}
            if g.log_G_groups is not None:  # the group-mean of log G and its errors
                run["log_G_group_mean"] = g.log_G[k].tolist()
                run["log_G_group_sem"] = g.log_G_sem[k].tolist()
                run["rate_sem_per_window"] = {w: e for w, (_, e) in windows.items()}
            runs.append(run)
    if args.scan_json.is_file():  # keep the runs of the file that the folders do not redo
        def key(r):
            return r["alpha"], r["S"], r["seed"], r["t_max"]

        done = {key(r) for r in runs}
        old = json.loads(args.scan_json.read_text())["runs"]
        runs += [r for r in old if key(r) not in done]
    runs.sort(key=lambda r: (r["alpha"], r["S"]))
    save_text(args.scan_json, json.dumps({"kind": "plain-growth-s-scan", "runs": runs},
                                         indent=1))
    for r in runs:
        sems = r.get("rate_sem_per_window", {})
        print(f"alpha {r['alpha']:g} S {r['S']}: d log G/dt "
              + ", ".join(f"[{w}] {v:.2f}" + (f" +- {sems[w]:.2f}" if w in sems else "")
                          for w, v in r["rate_per_window"].items()))
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
