"""alpha_BBP_TS as t -> infinity from the late BBP margin (issue 15, THEORY T3).

Part ``run`` (one background job per alpha, resumable): the DMFT from ``m0 = 0`` exactly
(the m = 0 dynamics, which the antithetic pairs keep at m = 0 to round-off: no leaving of
the linear regime, unlike ``m0 = 1e-10`` whose ``m0 G(t)`` reaches O(1) before t = 50 at
alpha >= 12) to ``--t-max`` with ``--samples`` paths, the population's fields kept every
``--every`` (2000 response paths and 4 groups by default, for cost); per time the BBP margin
``max S_PV`` of the Hessian law
(H2, H6) of the pooled samples, with a jackknife standard error over the sub-populations
(leave-one-group-out pooled laws). Saved to
``<out>/ts_alpha<alpha>.npz`` (``dmft._io``, atomic).

Part ``fit``: per alpha, the margin on ``t >= --t-fit`` is fitted by the algebraic approach

    margin(t) = margin_inf + b t^(-gamma)

(weighted least squares, gamma on a grid in [0.25, 2] profiled, so gamma, b and margin_inf
are all fitted). Why algebraic: below alpha_BBP_TS the dynamics ages among marginal states
and one-time observables (e(t), the left edge, hence the margin) approach their threshold
values as powers of t, with no time scale of their own (THEORY T3/T4: G grows as a power of
t there); an exponential approach would need a gap, which marginal states do not have. The
quoted error of margin_inf combines the fit's error and the change of margin_inf between
``t >= t_fit`` and ``t >= 2 t_fit`` (the extrapolation's systematic); ``--horizon-sys`` also
adds, to the root's error, its distance from the zero at the longest finite horizon (used
for l_a at a = 0.01, where gamma sits at the ends of its grid and the weighted line is pulled
by the far alphas). alpha_BBP_TS is the
zero of margin_inf(alpha), by the weighted line through the bracketing alphas (as in
:func:`dmft.bbp.alpha_bbp_ts`), and is printed with the finite-horizon values
(the margin averaged over ``[t_max/2, t_max]``) for t_max = 10, 20, 50 and the longest
common horizon, to show the drift.
``--plot`` writes the extrapolation figure (margin vs t^(-gamma) and margin_inf(alpha)).

Run: ``python benchmarks/ts_extrapolation.py run --alpha 12 [--t-max 50 --samples 20000]``
then ``python benchmarks/ts_extrapolation.py fit [--plot docs/figures/ts_extrapolation.png]``.
For l_a: ``run --a 0.01 --scheme prox --dt 0.01 --response 0 --alpha 3.75 --out ts_la``
(the margins use the Hessian of l_a itself, H2 with ``z = l_a''(h)``).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from dmft import _io
from dmft.losses import get_loss
from dmft.solver import solve
from dmft.spectrum import WeightLaw


def _margins(sol, k: int, n_groups: int, estimator: str = "bins") -> np.ndarray:
    """BBP margin at sample time index k (m = 0: g = h*) of the pooled law of all paths
    (entry 0) and of the pooled laws leaving out one sub-population (entries 1..G, for
    the jackknife). Pooled, because a sample law's margin is biased upward at small sample
    size when the lower tail of z is unbounded (THEORY 6), so per-group margins would be
    biased more than their mean."""
    loss = get_loss(sol.loss)
    h, hs, y = sol.h_samples[k], sol.h_star, sol.y
    size = h.size // n_groups
    tk = float(sol.sample_times[k])
    i = int(np.argmin(np.abs(sol.t - tk)))
    z = loss.fp(h, y)
    group = np.arange(h.size) // size
    out = np.empty(n_groups + 1)
    for g in range(-1, n_groups):
        keep = group != g
        mu = float(np.mean(np.delete(sol.mu_groups[:, i], g) if g >= 0 else sol.mu_groups[:, i]))
        law = WeightLaw.from_samples(z[keep], hs[keep] / np.sqrt(np.mean(hs[keep] ** 2)),
                                     sol.alpha, mu, 0.0, t=tk, estimator=estimator)
        out[g + 1] = law.outlier().margin
    return out


def run(args) -> None:
    out = Path(args.out) / f"ts_alpha{args.alpha:g}.npz"
    times = np.arange(0.0, args.t_max + 1e-9, args.every)
    t0 = time.perf_counter()
    loss = get_loss("phase_retrieval", a=args.a)
    sol = solve(args.alpha, 0.0, args.t_max, dt=args.dt, n_samples=args.samples,
                seed=args.seed, sample_times=times, n_groups=args.groups,
                n_response=args.response or None, progress=True, loss=loss,
                scheme=args.scheme)
    seconds = time.perf_counter() - t0
    if sol.status != 0:
        print(f"alpha={args.alpha:g}: the DMFT stopped: {sol.message} (keeping the part done)")
    G = args.groups
    ks = range(1, sol.sample_times.size)  # t = 0 is the exact law: no outlier sampling
    margins = np.array([_margins(sol, k, G) for k in ks])
    _io.save_npz(out, "ts_margin", {"t": sol.sample_times[1:], "margin": margins[:, 0],
                                    "margin_loo": margins[:, 1:], "e": sol.e, "mu": sol.mu,
                                    "t_solver": sol.t, "h_samples": sol.h_samples,
                                    "h_star": sol.h_star, "y": sol.y,
                                    "mu_groups": sol.mu_groups},
                 {"alpha": args.alpha, "t_max": args.t_max, "dt": args.dt,
                  "n_samples": args.samples, "seed": args.seed, "n_groups": G,
                  "status": int(sol.status) if sol.status != "interrupted" else -2,
                  "message": sol.message, "seconds": seconds,
                  "response_tol": sol.metadata["response_tol"],
                  "n_response": sol.metadata["n_response"], "loss": loss.name,
                  "a": loss.a, "scheme": args.scheme})
    print(f"alpha={args.alpha:g}: {seconds:.0f} s, saved {out}")


def remargin(args) -> None:
    """Margins again from the saved samples with another law estimator (``--estimator
    kde``: the smooth estimate of :mod:`dmft._smooth_law`), at the times ``>= --t-from``
    every ``--stride``-th one; written next to the input as ``ts_<estimator>_alpha*.npz``
    (an output newer than its input is kept unless ``--redo``)."""
    from types import SimpleNamespace

    for path in sorted(Path(args.out).glob("ts_alpha*.npz")):
        out = path.with_name(path.name.replace("ts_", f"ts_{args.estimator}_"))
        if out.is_file() and out.stat().st_mtime > path.stat().st_mtime and not args.redo:
            print(f"{out} is newer than {path.name}: kept (--redo to recompute)")
            continue
        arrays, meta = _io.load_npz(path, "ts_margin")
        t_all = np.concatenate([[0.0], arrays["t"]])
        sol = SimpleNamespace(loss=meta.get("loss", "phase_retrieval"),
                              h_samples=arrays["h_samples"],
                              h_star=arrays["h_star"], y=arrays["y"], sample_times=t_all,
                              t=arrays["t_solver"], mu_groups=arrays["mu_groups"],
                              alpha=meta["alpha"])
        ks = [k for k in range(1, t_all.size) if t_all[k] >= args.t_from][::args.stride]
        margins = np.array([_margins(sol, k, meta["n_groups"], args.estimator) for k in ks])
        _io.save_npz(out, "ts_margin", {"t": t_all[ks], "margin": margins[:, 0],
                                        "margin_loo": margins[:, 1:]},
                     {**meta, "estimator": args.estimator})
        print(f"alpha={meta['alpha']:g}: {len(ks)} times, saved {out}", flush=True)


def _fit_power(t, y, err) -> tuple[float, float, float, float]:
    """margin_inf, its error, gamma, chi2/dof of ``y = c + b t^-gamma`` (gamma profiled);
    NaNs with fewer than five times."""
    if t.size < 5:
        return math.nan, math.nan, math.nan, math.nan
    best = None
    w = 1.0 / err**2
    for gamma in np.linspace(0.25, 2.0, 36):
        A = np.vstack([np.ones(t.size), t ** (-gamma)]).T
        cov = np.linalg.inv(A.T @ (A * w[:, None]))
        c = cov @ (A.T @ (w * y))
        chi2 = float(np.sum(w * (y - A @ c) ** 2))
        if best is None or chi2 < best[0]:
            best = (chi2, c[0], math.sqrt(cov[0, 0]), gamma)
    chi2, c0, c0_err, gamma = best
    dof = max(1, t.size - 3)
    return c0, c0_err * math.sqrt(max(1.0, chi2 / dof)), gamma, chi2 / dof


def _load(folder: Path, prefix: str = "ts_") -> list[dict]:
    rows = []
    for path in sorted(folder.glob(f"{prefix}alpha*.npz")):
        arrays, meta = _io.load_npz(path, "ts_margin")
        rows.append({**arrays, **meta})
    return sorted(rows, key=lambda r: r["alpha"])


def _root(alphas, y, err) -> tuple[float, float]:
    from dmft.bbp import _root_linear

    return _root_linear(np.asarray(alphas), np.asarray(y), np.asarray(err))


def _horizons(rows) -> list[float]:
    """Finite horizons t_max of the window means: 10, 20, 50 and the longest common one."""
    longest = min(float(r["t"][-1]) for r in rows)
    return sorted({T for T in (10.0, 20.0, 50.0) if T <= longest} | {round(longest, 6)})


def fit(args) -> None:
    rows = _load(Path(args.out), "ts_" if args.estimator == "bins" else f"ts_{args.estimator}_")
    if not rows:
        raise SystemExit(f"no ts_alpha*.npz in {args.out}: run the 'run' part first")
    table = []
    for r in rows:
        t, mean, loo = r["t"], r["margin"], r["margin_loo"]
        G = loo.shape[1]  # jackknife over the sub-populations
        sem = np.sqrt((G - 1) / G * np.sum((loo - loo.mean(axis=1, keepdims=True)) ** 2,
                                           axis=1))
        sel = t >= args.t_fit
        c0, c0_err, gamma, rchi2 = _fit_power(t[sel], mean[sel], sem[sel])
        sel2 = t >= 2 * args.t_fit
        c2 = _fit_power(t[sel2], mean[sel2], sem[sel2])[0] if sel2.sum() > 4 else math.nan
        sys_err = abs(c2 - c0) if math.isfinite(c2) else 0.0
        late = {T: mean[(t >= T / 2) & (t <= T)].mean() for T in _horizons(rows)}
        table.append((r["alpha"], c0, math.hypot(c0_err, sys_err), gamma, rchi2, late, t, mean,
                      sem))
        print(f"alpha={r['alpha']:g}: margin_inf = {c0:.3f} +- {c0_err:.3f} (fit) +- "
              f"{sys_err:.3f} (t_fit -> 2 t_fit); gamma = {gamma:.2f}, chi2/dof = {rchi2:.2f}; "
              "late means " + ", ".join(f"[{T / 2:g},{T:g}]: {v:.3f}" for T, v in late.items()))
    a = [row[0] for row in table]
    root, fit_err = _root(a, [row[1] for row in table], [row[2] for row in table])
    finite = {}
    for T in _horizons(rows):
        vals = [row[5].get(T, math.nan) for row in table]
        errs = [float(np.mean(row[8][(row[6] >= T / 2) & (row[6] <= T)])) for row in table]
        finite[T] = _root(a, vals, errs)[0]
        print(f"  finite horizon t_max={T:g}: zero of the late margin at {finite[T]:.2f}")
    # the extrapolation's own systematic: its distance from the longest finite horizon
    horizon_sys = abs(root - finite[max(finite)]) if finite else 0.0
    root_err = math.hypot(fit_err, horizon_sys) if args.horizon_sys else fit_err
    print(f"alpha_BBP_TS (t -> inf, algebraic extrapolation) = {root:.2f} +- {root_err:.2f} "
          f"(fit {fit_err:.2f}, distance to the longest horizon {horizon_sys:.2f}"
          f"{', added' if args.horizon_sys else ', not added'})")
    if args.plot:
        _plot(table, root, root_err, args.plot)
    if args.json:
        keep = ("t_max", "dt", "n_samples", "seed", "n_groups", "n_response",
                "response_tol", "status", "seconds", "loss", "a", "scheme")
        runs = {str(r["alpha"]): {k: r[k] for k in keep if k in r} for r in rows}
        payload = {"alpha_bbp_ts": [root, root_err], "estimator": args.estimator,
                   "t_fit": args.t_fit, "method": __doc__.split("Part ``fit``")[1].strip(),
                   "fit_error": fit_err, "horizon_sys": horizon_sys,
                   "horizon_sys_added": bool(args.horizon_sys),
                   "finite_horizon_roots": {f"{k:g}": v for k, v in finite.items()},
                   "runs": runs,
                   "alphas": [{"alpha": r[0], "margin_inf": r[1], "margin_inf_err": r[2],
                               "gamma": r[3], "chi2_dof": r[4],
                               "late_means": {f"{k:g}": v for k, v in r[5].items()},
                               "t": r[6].tolist(), "margin": r[7].tolist(),
                               "margin_sem": r[8].tolist()} for r in table]}
        if args.caveat:
            payload["caveat"] = args.caveat
        _io.save_text(args.json, _io.dumps_strict(payload, indent=1))  # atomic
        print(f"wrote {args.json}")


def _plot(table, root, root_err, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for alpha, c0, _, gamma, _, _, t, mean, sem in table:
        line = ax1.errorbar(t, mean, sem, fmt=".", ms=3,
                            label=f"alpha={alpha:g}: margin_inf {c0:.2f} (gamma={gamma:.2f})")
        ax1.axhline(c0, color=line[0].get_color(), ls="--", lw=0.8)
    ax1.axhline(0.0, color="k", lw=0.5)
    ax1.set(xscale="log", xlabel="t", ylabel="BBP margin max S_PV (jackknife s.e.)",
            title="late margin at m = 0; dashed: fitted t -> inf limit")
    ax1.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax1.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax1.legend(fontsize=7)
    ax2.errorbar([r[0] for r in table], [r[1] for r in table], [r[2] for r in table], fmt="o")
    ax2.axhline(0.0, color="k", lw=0.5)
    ax2.axvspan(root - root_err, root + root_err, alpha=0.2,
                label=f"alpha_BBP_TS = {root:.2f} +- {root_err:.2f}")
    ax2.set(xlabel="alpha", ylabel="margin_inf", title="extrapolated margin")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="part", required=True)
    r = sub.add_parser("run")
    r.add_argument("--alpha", type=float, required=True)
    r.add_argument("--t-max", type=float, default=50.0)
    r.add_argument("--dt", type=float, default=0.02)
    r.add_argument("--samples", type=int, default=20_000)
    r.add_argument("--groups", type=int, default=4)
    r.add_argument("--response", type=int, default=2000,
                   help="response paths (default 2000: every path costs ~10x at S = 2e4; "
                        "0: all, which l_a needs)")
    r.add_argument("--a", type=float, default=None,
                   help="l_a (E4a) with this a; default the plain loss")
    r.add_argument("--scheme", default="explicit", choices=("explicit", "prox"),
                   help="step of the DMFT (prox for l_a at small a, dmft.solver.solve)")
    r.add_argument("--every", type=float, default=1.0)
    r.add_argument("--seed", type=int, default=0)
    g = sub.add_parser("remargin")
    g.add_argument("--estimator", default="kde")
    g.add_argument("--t-from", type=float, default=10.0)
    g.add_argument("--stride", type=int, default=2)
    g.add_argument("--redo", action="store_true", help="also the alphas already remargined")
    f = sub.add_parser("fit")
    f.add_argument("--estimator", default="bins", help="margins of 'remargin' (e.g. kde)")
    f.add_argument("--t-fit", type=float, default=10.0)
    f.add_argument("--plot", default="")
    f.add_argument("--json", default="", help="write the table and fit here (atomic)")
    f.add_argument("--caveat", default="",
                   help="what the value is not, in words (stored as 'caveat'; `dmft "
                        "thresholds` prints it; the plain loss's, THEORY T3)")
    f.add_argument("--horizon-sys", action="store_true",
                   help="add the distance between the extrapolated root and the root at the "
                        "longest finite horizon to the error (when gamma is not constrained)")
    for q in (r, f, g):
        q.add_argument("--out", default="ts_runs")
    args = p.parse_args()
    {"run": run, "fit": fit, "remargin": remargin}[args.part](args)


if __name__ == "__main__":
    main()
