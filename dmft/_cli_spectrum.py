"""``dmft thresholds`` and ``dmft spectrum``: the random-matrix side of the command line
(THEORY H1-H8, T1), registered in :mod:`dmft.cli`."""

from __future__ import annotations

import argparse

import numpy as np

from dmft._cli_support import (
    Command,
    a_argument,
    call_reporting_warnings,
    check_output,
    emit_json,
    loss_a,
    save_plot,
)

COMMANDS: list[Command] = []

# --- thresholds / spectrum -----------------------------------------------------------------


def _thresholds_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--m", type=float, default=0.0, help="overlap of the start (T1: 0)")
    a_argument(p)
    p.add_argument("--peak", action="store_true",
                   help="also locate where nu_e first shows a separate peak (slow, minutes)")
    p.add_argument("--recompute-ts", action="store_true",
                   help="recompute alpha_BBP_TS (T3) with dmft.bbp.alpha_bbp_ts instead of "
                   "reading the shipped data/bbp_times[_la<a>].json (minutes; small sizes)")
    p.add_argument("--ts-alphas", type=float, nargs="+", default=None,
                   help="--recompute-ts: sample ratios to bracket alpha_BBP_TS (default: the "
                   "shipped file's, else for l_a alpha_BBP_init(a) x 1.1..5.6, for the plain "
                   "loss 9..13; measured alpha_BBP_TS / alpha_BBP_init = 1.3, 2.1, 4.3 at "
                   "a = 0.01, 0.1, 1)")
    p.add_argument("--ts-t-max", type=float, default=None,
                   help="--recompute-ts: horizon of the m0 -> 0+ runs (default 5)")
    p.add_argument("--ts-samples", type=int, default=None,
                   help="--recompute-ts: paths per run (default 2000)")
    p.add_argument("--ts-dt", type=float, default=None,
                   help="--recompute-ts: step (default: prox 0.01 for l_a, explicit 0.02 "
                   "for the plain loss; l_a at small a is stiff, THEORY E5a)")
    p.add_argument("--json", action="store_true", help="print a JSON document on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _shipped_ts(a: float | None) -> dict:
    """alpha_BBP_TS shipped for ``a`` (the t -> infinity extrapolation when shipped, else
    the finite-horizon value, :func:`dmft.bbp.shipped_alpha_bbp_ts`), or null with the
    reason (never absent)."""
    from dmft._data import reference_a_values
    from dmft.bbp import shipped_alpha_bbp_ts

    try:
        ts = shipped_alpha_bbp_ts(a=a)
    except FileNotFoundError:
        have = ", ".join(f"{x:g}" for x in reference_a_values("bbp_times", ".json"))
        return {"alpha_bbp_ts": None, "alpha_bbp_ts_err": None, "alpha_bbp_ts_source": None,
                "alpha_bbp_ts_note": f"no shipped alpha_BBP_TS for a = {a:g} (shipped: a = "
                f"{have or 'none'} and the plain loss); use --recompute-ts"}
    value, err = ts["value"], ts["error"]
    out = {"alpha_bbp_ts": value, "alpha_bbp_ts_err": err,
           "alpha_bbp_ts_source": f"shipped {ts['source']}",
           "alpha_bbp_ts_horizon": ts["horizon"],
           "alpha_bbp_ts_finite_horizon": ts["finite_horizon"]}
    if ts["caveat"]:
        out["alpha_bbp_ts_caveat"] = ts["caveat"]
    if value is None or not np.isfinite(value):  # the file says why (data/README.md)
        out["alpha_bbp_ts_note"] = (f"{ts['source']} holds no finite alpha_BBP_TS (see "
                                    "data/README.md)")
    return out


def _recomputed_ts(args: argparse.Namespace, a: float | None, alpha_init: float) -> dict:
    """alpha_BBP_TS recomputed with :func:`dmft.bbp.alpha_bbp_ts` at the sizes of the
    ``--ts-*`` options (alphas and steps defaulting to the shipped file's, if any)."""
    from dmft.bbp import alpha_bbp_ts, reference_bbp

    try:
        shipped = reference_bbp(a=a).get("alpha_bbp_ts_routes", {})
    except FileNotFoundError:
        shipped = {}
    scheme = shipped.get("params", {}).get("scheme", "explicit" if a is None else "prox")
    dt = args.ts_dt or shipped.get("params", {}).get("dt", 0.02 if a is None else 0.01)
    alphas = args.ts_alphas or shipped.get("alphas") or (
        [9.0, 10.0, 11.0, 12.0, 13.0] if a is None
        else [round(alpha_init * f, 3) for f in (1.1, 1.3, 1.6, 2.0, 2.6, 3.4, 4.4, 5.6)])
    ts = alpha_bbp_ts(alphas, t_max=args.ts_t_max or 5.0, dt=dt,
                      n_samples=args.ts_samples or 2000,
                      executor=None, progress=not args.no_progress, a=a, scheme=scheme)
    out = {"alpha_bbp_ts": ts.alpha, "alpha_bbp_ts_err": ts.error,
           "alpha_bbp_ts_source": "recomputed", "alpha_bbp_ts_params": ts.params}
    if not np.isfinite(ts.alpha):
        out["alpha_bbp_ts_note"] = (f"recomputed: neither order parameter changes sign over "
                                    f"alphas {alphas}; widen --ts-alphas")
    return out


def _thresholds_handler(args: argparse.Namespace) -> int:
    from dmft.thresholds import thresholds_summary

    a = loss_a(args)
    if not args.recompute_ts and any(
            v is not None for v in (args.ts_alphas, args.ts_dt, args.ts_t_max, args.ts_samples)):
        raise ValueError("--ts-alphas/--ts-dt/--ts-t-max/--ts-samples need --recompute-ts")
    out = thresholds_summary(m=args.m, separate_peak=args.peak, a=a,
                             progress=not args.no_progress)
    out.update(_recomputed_ts(args, a, out["alpha_bbp_init"]) if args.recompute_ts
               else _shipped_ts(a))
    if args.json:
        emit_json(out)
        return 0
    if a is not None:
        print(f"{out['loss']}: alpha_BBP_init = {out['alpha_bbp_init']:.8f} "
              f"(+- {out['alpha_bbp_init_error']:.1e}; outlier leaves the "
              f"{'hard edge' if out['alpha_bbp_init_kind'] == 'edge' else 'end of the support'}"
              f", kind {out['alpha_bbp_init_kind']}) at lam = {out['lam_threshold']:.4f}")
    else:
        ac = ", ".join(f"N={k}: {v:.3f}" for k, v in out["alpha_c"].items())
        print(f"alpha_BBP_init = {out['alpha_bbp_init']:.8f} "
              f"(+- {out['alpha_bbp_init_error']:.1e}); 1/S' < 1 above "
              f"{out['alpha_overlap_below_one']:.4f}; alpha_c(N): {ac}")
    ts = out["alpha_bbp_ts"]
    print(f"alpha_BBP_TS = {ts:.2f} +- {out['alpha_bbp_ts_err']:.2f} "
          f"({out['alpha_bbp_ts_source']}; {out.get('alpha_bbp_ts_horizon', 'recomputed')})"
          if ts is not None and np.isfinite(ts)
          else f"alpha_BBP_TS: {out['alpha_bbp_ts_note']}")
    if "alpha_bbp_ts_caveat" in out:
        print(f"  caveat: {out['alpha_bbp_ts_caveat']}")
    return 0


COMMANDS.append(
    ("thresholds", "thresholds at the random start (T1): alpha_BBP_init with its error, "
     "1/S' < 1, alpha_c(N); alpha_BBP_TS (T3) shipped or recomputed",
     _thresholds_arguments, _thresholds_handler)
)


def _spectrum_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alpha", type=float, default=None,
                   help="sample ratio M/N (t = 0 quadrature; required without --solution)")
    p.add_argument("--solution", default=None,
                   help="saved DMFT Solution (.npz from `dmft solve --out`); use with --times")
    p.add_argument("--times", type=float, nargs="+", default=None,
                   help="times along the solution (must be among its sample times)")
    p.add_argument("--t", type=float, default=None,
                   help="time (only t = 0 without --solution; default 0)")
    p.add_argument("--m", type=float, default=None, help="overlap at t = 0 (default 0)")
    p.add_argument("--N", type=int, default=None,
                   help="size N of the finite-N levels (H8): tail start (expected count of "
                   "bulk eigenvalues below it = 1) and quantiles of the lowest eigenvalue")
    a_argument(p)
    p.add_argument("--plot", default=None,
                   help="write an image: density and nu_e at t = 0, or with --solution the "
                   "outlier and left edge along the times")
    p.add_argument("--json", action="store_true", help="print a JSON document on stdout")


def _spectrum_along_handler(args: argparse.Namespace) -> int:
    from dmft.solver import Solution
    from dmft.spectrum import n_groups, spectrum_along

    refused = {"--alpha": args.alpha is not None and "alpha is the solution's own",
               "--t": args.t is not None and "use --times along a solution",
               "--m": args.m is not None and "m(t) is the solution's own",
               "--a": args.a is not None and "the loss is the solution's own"}
    for option, why in refused.items():
        if why:
            raise ValueError(f"{option} cannot be used with --solution: {why}")
    if args.plot:
        check_output("--plot", args.plot)
    sol = call_reporting_warnings("spectrum", Solution.load, args.solution)
    times = args.times if args.times is not None else sol.sample_times
    for t in times:
        sol.samples_at(t)  # clear error when t is not a kept sample time
    tr = spectrum_along(sol, times, N=args.N, group_errors=n_groups(sol) >= 2)
    payload = {"t": tr.t, "mu": tr.mu, "m": tr.m, "lam_out": tr.lam_out,
               "overlap2": tr.overlap2, "width": tr.width, "status": tr.status,
               "hard_edge": tr.hard_edge, "hard_edge_kind": tr.hard_edge_kind,
               "right_edge": tr.right_edge, "z_min": tr.z_min, "t_bbp": tr.t_bbp(),
               "N": tr.N, "tail_start": tr.tail_start, "lowest_q16": tr.lowest_q16,
               "lowest_median": tr.lowest_median, "lowest_q84": tr.lowest_q84,
               "errors": tr.errors}
    if args.plot:
        payload["plot"] = save_plot(args.plot, "plot_outlier_along", tr, sol.alpha,
                                     tr.t_bbp())
    if args.json:
        emit_json(payload)
    else:
        for k in range(tr.t.size):
            line = (f"t={tr.t[k]:g} m={tr.m[k]:.4f} mu={tr.mu[k]:.4g}: outlier {tr.status[k]} "
                    f"{tr.lam_out[k]:.4g}, hard edge ({tr.hard_edge_kind[k]}) "
                    f"{tr.hard_edge[k]:.4g}")
            if tr.N is not None:
                pm = {key: (f" +- {v[k]:.2g}" if np.isfinite(v[k]) and v[k] > 0 else "")
                      for key, v in tr.errors.items()}
                line += (f", tail start (N={tr.N}) {tr.tail_start[k]:.4g}"
                         f"{pm.get('tail_start', '')}, lowest eigenvalue median "
                         f"{tr.lowest_median[k]:.4g}{pm.get('lowest_median', '')}")
            print(line)
        print(f"t_BBP = {tr.t_bbp():g}" + (f"; plot in {args.plot}" if args.plot else ""))
    return 0


def _spectrum_handler(args: argparse.Namespace) -> int:
    from dmft.losses import get_loss
    from dmft.spectrum import WeightLaw, spectrum_curves

    if args.solution is not None:
        return _spectrum_along_handler(args)
    if args.alpha is None:
        raise ValueError("give --alpha (t = 0) or --solution FILE [--times ...]")
    if args.t not in (None, 0.0):
        raise ValueError("only --t 0 is available without a saved solution")
    if args.times is not None:
        raise ValueError("--times needs --solution (times along a saved DMFT solution)")
    a = loss_a(args)
    if a is not None and args.N is not None:
        raise ValueError("--N cannot be used with --a: the finite-N picture (H8) is for the "
                         "plain loss's unbounded tail; l_a has a hard left edge")
    if args.plot:
        check_output("--plot", args.plot)
    m = 0.0 if args.m is None else args.m
    law = WeightLaw.gaussian(args.alpha, m) if a is None else WeightLaw.normalised(args.alpha, a, m)
    out = law.outlier()
    he = law.hard_edge()
    re_ = law.right_edge()
    payload = {"loss": get_loss("phase_retrieval", a=a).name, "a": a, "alpha": law.alpha,
               "m": law.m, "mu": law.mu, "status": out.status,
               "lam_out": out.lam, "overlap2": out.overlap2, "width": out.width,
               "lam_out_pv": out.lam_pv, "overlap2_pv": out.overlap2_pv,
               "outlier_reason": out.reason,
               "hard_edge": he.lam, "hard_edge_kind": he.kind, "pv_turn": he.pv,
               "right_edge": re_.lam if re_.kind in ("hard", "support") else None,
               "right_edge_kind": re_.kind}
    if args.N is not None:
        fn = law.finite_n(args.N)
        payload.update({"N": args.N, "tail_start": fn.tail_start,
                        "lowest_quantiles": {"q16": fn.lowest_quantiles[0],
                                             "median": fn.lowest_quantiles[1],
                                             "q84": fn.lowest_quantiles[2]},
                        "lam_low_expected": fn.lam_low,
                        "p_outlier_lowest": fn.p_outlier_lowest,
                        "overlap2_lowest_expected": fn.overlap2_lowest})
    if args.plot:
        payload["plot"] = save_plot(args.plot, "plot_spectrum", spectrum_curves(law))
    if args.json:
        emit_json(payload)
        return 0
    _spectrum_print(payload, a, he, re_, args.plot)
    return 0


def _spectrum_print(payload: dict, a: float | None, he, re_, plot: str | None) -> None:
    prefix = "" if a is None else f"l_a (a={a:g}) "
    edge = (f"hard left edge ({he.kind}) {he.lam:.4f}" if np.isfinite(he.lam) else
            f"no hard left edge ({he.kind}: z unbounded below; the PV turning point "
            f"{he.pv:.4f} lies inside the bulk)")
    print(f"{prefix}alpha={payload['alpha']:g} m={payload['m']:g} mu={payload['mu']:.4g}: "
          f"outlier {payload['status']} at {payload['lam_out']:.4f} (overlap^2 "
          f"{payload['overlap2']:.3f}, width {payload['width']:.3g}); {edge}, right edge "
          f"{re_.kind} {re_.lam:.4f}")
    if "N" in payload:
        q = payload["lowest_quantiles"]
        print(f"N={payload['N']} (H8): tail start (expected count of bulk eigenvalues below "
              f"it = 1) {payload['tail_start']:.4f}; lowest eigenvalue median {q['median']:.4f} "
              f"(16-84 %: {q['q16']:.4f} .. {q['q84']:.4f}); expected lowest eigenvalues "
              f"{np.array2string(np.asarray(payload['lam_low_expected']), precision=4)}, "
              f"P(lowest is the outlier) = {payload['p_outlier_lowest']:.3f}, expected "
              f"overlap^2 of the lowest = {payload['overlap2_lowest_expected']:.3f}")
    elif not np.isfinite(he.lam):
        print("give --N for the tail start and the lowest eigenvalue at size N (H8)")
    if plot:
        print(f"plot in {plot}")


COMMANDS.append(
    ("spectrum", "Hessian spectrum (H3-H8) at t = 0, or along a saved DMFT solution: outlier, "
     "overlap, width, edges, t_BBP",
     _spectrum_arguments, _spectrum_handler)
)


