"""``dmft demo``: the paper's story on built-in defaults, in a few minutes on a laptop.

By default on the paper's normalised loss l_a (THEORY E4a) at ``a = 0.01``
(:data:`A_DEMO`; ``--a A`` for another a, ``--plain`` or ``--a inf`` for the plain loss E4).
Every step is the prox-gradient step (E5p, :mod:`dmft.moreau`) with ``dt = eta = 0.01``:
the explicit step needs ``dt ~ 1e-3`` at a = 0.01 (``dmft.solver`` docstring).

l_a story (:func:`run_demo` with a finite ``a``):

1. alpha_BBP_init(a) (T1) and, at t = 0 and alpha = :data:`ALPHA_LA` [-1], the exact
   Hessian law (H3-H6, exact quadrature): outlier, hard left edge, mu(0); against dense
   finite-N Hessians (H1), compared shift-free: ``lam + mu`` (the multiplier mu of one
   dataset fluctuates by ~10 % at N = 1000: heavy tail of ``f h`` at small y);
2. DMFT trajectories from ``m0 -> 0+`` at each alpha of :data:`ALPHA_LA` with the BBP
   margin along them and t_BBP (T2);
3. DMFT vs finite-N prox gradient descent from ``m0 = 0.3`` (:func:`dmft.validate.validate`);
4. the shipped alpha_BBP_TS(a) (``data/bbp_times_la<a>.json``, when shipped) and finite-N
   success data (``data/success_la<a>_N*.npz``): alpha_50(N) at a common horizon and at each
   file's own; figures.

Plain story (``a=None``): alpha_BBP_init and the random-start spectrum at alpha =
ALPHA_DEMO (H3, H5, H6); one DMFT trajectory with the spectrum along it (T2); the growth
factor G(t; alpha) and alpha_alg(N) (T4); a finite-N check at N = N_DEMO; figures (a), (d)
from the shipped reference data (``benchmarks/reference_data.py`` regenerates them).

Progress: one bar on stderr over the phases. Each phase moves it by its measured share of
the run time (``_PHASE_SECONDS``), in step with the clock while the phase runs (up to 95 %
of its share until it ends), so the ETA is the measured duration rescaled by the speed
seen so far. The DMFT runs show their own bars below it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from dmft._io import dumps_strict, save_text
from dmft.figures import DT_LA  # the prox step (E5p) of the l_a runs, shared with figures

ALPHA_DEMO = 6.0
M0_DEMO = 0.3
N_DEMO = 500
GROWTH_ALPHAS = (3.0, 5.0, 7.0, 9.0, 11.0)

A_DEMO = 0.01  # the paper's group's value (issue 12)
# between alpha_BBP_init(0.01) = 2.85 and where the outlier survives (t_BBP finite), and
# well above (outlier at t = 0 clearly isolated; it survives): the demo prints both
ALPHA_LA = (3.5, 6.0)
SEEDS_T0 = 8  # finite-N datasets diagonalised at t = 0

# seconds per phase, measured on the 2-core machine shared with other jobs (quick, full);
# only the ratios matter: they set how far the phase bar moves when each phase ends
_PHASE_SECONDS = {
    "thresholds and the spectrum at t = 0": (45.0, 69.0),
    "DMFT vs finite N": (18.0, 66.0),
    "growth factors": (0.6, 232.0),
    "DMFT trajectory and spectrum along it": (3.4, 29.0),
    "figures (a), (d) from the shipped data": (1.7, 3.2),
}
_PHASE_SECONDS_LA = {  # the last phase: with the (a, alpha) curve not yet in the disk cache
    "alpha_BBP_init(a) and the exact t = 0 law": (3.6, 4.1),
    "finite-N Hessians at t = 0": (9.7, 27.8),
    "DMFT trajectories and the BBP margin": (12.0, 91.0),
    "DMFT vs finite N (prox steps)": (1.3, 14.1),
    "shipped thresholds, success data and figures": (22.9, 51.0),
}


class _Phases:
    """A progress bar over the demo's phases, weighted by their measured durations."""

    def __init__(self, table: dict, quick: bool, progress: bool):
        self.weights = {k: v[0 if quick else 1] for k, v in table.items()}
        self.bar = tqdm(total=round(sum(self.weights.values()), 1), disable=not progress,
                        file=sys.stderr, desc="dmft demo", unit="s", position=0,
                        bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        """Run one phase: its name on the bar, moving with the clock, its share at the end."""
        self.bar.set_description_str(f"dmft demo: {name}")
        start, t0 = self.bar.n, time.perf_counter()
        done = threading.Event()

        def tick():  # the bar follows the clock within the phase's expected share
            while not done.wait(1.0):
                elapsed = time.perf_counter() - t0
                self.bar.n = start + min(elapsed, 0.95 * self.weights[name])
                self.bar.refresh()

        ticker = threading.Thread(target=tick, daemon=True)
        if not self.bar.disable:
            ticker.start()
        try:
            yield
        finally:
            done.set()
            if ticker.is_alive():
                ticker.join()
        self.seconds[name] = time.perf_counter() - t0
        self.bar.n = start + self.weights[name]
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def run_demo(out: str | Path = "dmft-demo", quick: bool = False, progress: bool = True,
             a: float | None = A_DEMO) -> dict:
    """Compute, plot and summarise; returns the summary dict (also written as strict JSON).

    Parameters
    ----------
    out : path
        Output directory (created if needed): figures and ``summary.json``.
    quick : bool
        Smaller populations, sizes and times (well under a minute).
    progress : bool
        The phase bar (module docstring) and the inner bars on stderr.
    a : float or None
        Normalisation of l_a (E4a), default the paper's 0.01; None or inf: the plain loss.
    """
    import matplotlib

    from dmft.losses import get_loss

    matplotlib.use("Agg")
    a = None if a is None else get_loss("phase_retrieval", a=a).a  # inf -> None; checks a
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if a is None:
        size = {"S": 1_000 if quick else 8_000, "t_max": 0.6 if quick else 3.0,
                "N": 200 if quick else N_DEMO, "alphas": GROWTH_ALPHAS[::2] if quick else
                GROWTH_ALPHAS, "t_growth": 0.6 if quick else 6.0, "progress": progress,
                "n_times": 7 if quick else 31}
        summary: dict = {"alpha": ALPHA_DEMO, "m0": M0_DEMO, "N": size["N"]}
        table, phases_run = _PHASE_SECONDS, _PHASES
    else:
        size = {"a": a, "loss": get_loss("phase_retrieval", a=a),
                "S": 2_000 if quick else 8_000, "t_max": 1.5 if quick else 3.0,
                "N": 300 if quick else 1000, "t_val": 0.5 if quick else 2.0,
                "quick": quick, "progress": progress, "n_times": 16 if quick else 61}
        summary = {"alphas": list(ALPHA_LA), "dt": DT_LA, "scheme": "prox", "N": size["N"]}
        table, phases_run = _PHASE_SECONDS_LA, _PHASES_LA
    phases = _Phases(table, quick, progress)
    try:
        for name, run_phase in zip(table, phases_run, strict=True):
            with phases.phase(name):
                run_phase(out, size, summary)
    finally:
        phases.close()
    loss = get_loss("phase_retrieval", a=a)  # the plain loss for a = None
    summary = {"loss": loss.name, "a": a, **summary, "seconds": time.perf_counter() - t0,
               "phase_seconds": phases.seconds}
    save_text(out / "summary.json", dumps_strict(summary, indent=2))
    return summary


def _phase_t0(out: Path, size: dict, summary: dict) -> None:
    from dmft import plotting
    from dmft.spectrum import WeightLaw, spectrum_curves
    from dmft.thresholds import alpha_bbp_init

    bbp = alpha_bbp_init()
    summary["alpha_bbp_init"] = bbp.alpha
    summary["alpha_bbp_init_error"] = bbp.error
    law0 = WeightLaw.gaussian(ALPHA_DEMO, m=0.0, n_quad=128)  # figure accuracy suffices
    out0 = law0.outlier()
    summary["t0_outlier"] = {"lam_out": out0.lam, "overlap2": out0.overlap2,
                             "width": out0.width, "status": out0.status}
    grid = _plot_grid(law0, out0.lam, n_coarse=61, n=150)
    plotting.plot_spectrum(spectrum_curves(law0, lams=grid)).savefig(
        out / "spectrum_t0.png", dpi=120)


def _plot_grid(law, lam_out: float, n_coarse: int, n: int) -> np.ndarray:
    """Eigenvalues where the density or nu_e exceed 1e-5, and the outlier: the window of
    ``plotting.plot_spectrum``'s default grid found on a coarser scan (each point of H3/H5
    costs ~0.07 s; the default scan of 241 points took 21 s of the quick demo's 69 s)."""
    scale = abs(law.mu) + 10.0 * law.alpha + 1.0
    coarse = np.linspace(-4 * scale, 4 * scale, n_coarse)
    keep = (law.density(coarse).rho > 1e-5) | (law.signal_measure(coarse).nu_e > 1e-5)
    step = coarse[1] - coarse[0]
    lo, hi = coarse[keep].min() - step, coarse[keep].max() + step
    if np.isfinite(lam_out):
        lo = min(lo, lam_out - 1.0)
    return np.linspace(lo, hi, n)


def _phase_validation(out: Path, size: dict, summary: dict) -> None:
    from dmft import plotting
    from dmft.validate import validate

    report = validate(ALPHA_DEMO, size["N"], m0=M0_DEMO, t_max=size["t_max"], eta=0.02,
                      seeds=4, n_samples=size["S"], progress=size["progress"])
    summary["validation_worst_z"] = report.worst_z
    summary["validation_hessian_worst_z"] = report.hessian_worst_z
    summary["validation_hessian_allowance"] = {
        k: float(np.max(v)) for k, v in report.hessian_allowance.items()}
    summary["m_final"] = {"dmft": float(report.theory["m"][-1]),
                          "finite_n": float(report.finite_n["m"][-1])}
    save_text(out / "validation.json", dumps_strict(json.loads(report.to_json())))
    plotting.plot_validation(report).savefig(out / "validation.png", dpi=120)


def _phase_growth(out: Path, size: dict, summary: dict) -> None:
    from dmft import plotting
    from dmft.growth import growth_factor, invert_growth

    # G_max needs time to build up at large alpha: t_growth = 6 in the full demo
    growths = [growth_factor(a, t_max=size["t_growth"], dt=0.02, n_samples=size["S"],
                             progress=size["progress"]) for a in size["alphas"]]
    plotting.plot_growth(growths).savefig(out / "growth_factor.png", dpi=120)
    summary["log_G_max"] = {f"{g.alpha:g}": g.log_G_max for g in growths}
    summary["t_growth"] = size["t_growth"]
    Ns = np.array([1e2, 1e3, 1e4, 1e5, 1e6])
    thr = invert_growth(Ns, np.array(size["alphas"]),
                        np.array([g.log_G_max for g in growths]),
                        np.array([g.log_G_max_sem for g in growths]))
    summary["alpha_alg"] = {f"{n:.0e}": float(a) for n, a in zip(Ns, thr.alpha_alg, strict=True)}


def _phase_trajectory(out: Path, size: dict, summary: dict) -> None:
    from dmft import plotting
    from dmft.solver import solve
    from dmft.spectrum import spectrum_along

    t_max = size["t_max"]
    sol = solve(ALPHA_DEMO, 1e-10, t_max, dt=0.02, n_samples=size["S"],
                sample_times=np.linspace(0, t_max, size["n_times"]), progress=size["progress"])
    traj = spectrum_along(sol, sol.sample_times, N=size["N"], group_errors=True)
    fig = plotting.plot_outlier_along(traj, ALPHA_DEMO, traj.t_bbp())
    fig.savefig(out / "outlier_along.png", dpi=120)
    summary["t_bbp"] = traj.t_bbp()


def _phase_reference(out: Path, size: dict, summary: dict) -> None:
    from dmft.bbp import shipped_alpha_bbp_ts
    from dmft.figures import figure_a, figure_d

    figure_a().savefig(out / "phase_diagram.png", dpi=120)
    figure_d().savefig(out / "success.png", dpi=120)
    best = shipped_alpha_bbp_ts()
    summary["alpha_bbp_ts_reference"] = [best["value"], best["error"]]
    summary["alpha_bbp_ts_source"] = (f"{best['source']}, {best['horizon']}"
                                      + ("; a finite-S value, THEORY T3" if best["caveat"]
                                         else ""))
    summary["alpha_bbp_ts_caveat"] = best["caveat"]


_PHASES = (_phase_t0, _phase_validation, _phase_growth, _phase_trajectory, _phase_reference)


# ------------------------------------------------------------------------ the l_a story
def _mean_se(x) -> list[float]:
    """``[mean, standard error]`` over independent datasets."""
    x = np.asarray(x, float)
    return [float(np.mean(x)), float(np.std(x, ddof=1) / np.sqrt(x.size))]


def _la_t0(out: Path, size: dict, summary: dict) -> None:
    from dmft.spectrum import WeightLaw
    from dmft.thresholds import alpha_bbp_init

    bbp = alpha_bbp_init(a=size["a"])
    summary["alpha_bbp_init"] = {"alpha": bbp.alpha, "error": bbp.error, "kind": bbp.kind,
                                 "lam": bbp.lam}
    # quick: coarser exact quadrature (measured at alpha = 6: outlier to 4e-8, 20x faster)
    law = WeightLaw.normalised(ALPHA_LA[-1], size["a"],
                               **({"n_nodes": 60, "n_v": 100} if size["quick"] else {}))
    o, edge = law.outlier(), law.hard_edge()
    summary["t0"] = {"alpha": ALPHA_LA[-1], "mu": law.mu, "lam_out": o.lam,
                     "overlap2": o.overlap2, "margin": o.margin, "status": o.status,
                     "hard_edge": edge.lam, "hard_edge_kind": edge.kind}
    size["law_t0"] = law


def _la_finite_t0(out: Path, size: dict, summary: dict) -> None:
    from dmft.figures import figure_spectrum_la, shift_to_mu
    from dmft.finite_n import finite_n_hessians

    t0 = summary["t0"]
    rec = finite_n_hessians(t0["alpha"], size["N"], [0.0], SEEDS_T0, DT_LA,
                            loss=size["loss"], scheme="prox")[0]
    x1, x2 = rec["eigs"][:, 0] + rec["mu"], rec["eigs"][:, 1] + rec["mu"]
    fn = {"N": size["N"], "datasets": SEEDS_T0, "lam1_plus_mu": _mean_se(x1),
          "lam2_plus_mu": _mean_se(x2), "overlap2_1": _mean_se(rec["overlap2_1"]),
          "mu": _mean_se(rec["mu"]), "lam1": _mean_se(rec["eigs"][:, 0])}
    theory = t0["lam_out"] + t0["mu"]
    fn["z_lam1"] = (fn["lam1_plus_mu"][0] - theory) / fn["lam1_plus_mu"][1]
    summary["t0_finite_n"] = fn
    law = size.pop("law_t0")
    figure_spectrum_la(law, shift_to_mu(rec, law.mu)).savefig(out / "spectrum_t0.png", dpi=120)


def _la_trajectories(out: Path, size: dict, summary: dict) -> None:
    from dmft.figures import figure_margin_along
    from dmft.solver import solve
    from dmft.spectrum import SMOOTH_T_BBP, spectrum_along

    times = np.linspace(0.0, size["t_max"], size["n_times"])
    trajs, rows = {}, {}
    for alpha in ALPHA_LA:
        sol = solve(alpha, 1e-10, size["t_max"], dt=DT_LA, n_samples=size["S"],
                    loss=size["loss"], scheme="prox", sample_times=times,
                    progress=size["progress"])
        traj = spectrum_along(sol, times)
        tb = traj.t_bbp()
        after = traj.presence()[traj.t > tb] if np.isfinite(tb) else None
        rows[f"{alpha:g}"] = {
            "t_bbp": tb, "margin_t0": float(traj.margin[0]), "margin_end": float(traj.margin[-1]),
            "t_end": float(traj.t[-1]), "G_end": float(sol.m[-1] / sol.m[0]),
            "smooth": SMOOTH_T_BBP,
            "back_after_t_bbp": float(np.mean(after > 0)) if after is not None else None,
            "spectrum_dt": float(times[1] - times[0])}
        trajs[alpha] = traj
    summary["trajectories"] = rows
    summary["S"], summary["t_max"] = size["S"], size["t_max"]
    figure_margin_along(trajs).savefig(out / "margin_along.png", dpi=120)


def _la_validation(out: Path, size: dict, summary: dict) -> None:
    from dmft import plotting
    from dmft.validate import validate

    report = validate(ALPHA_LA[0], size["N"], m0=M0_DEMO, t_max=size["t_val"], eta=DT_LA,
                      seeds=4, n_samples=size["S"], hessian_points=0, loss=size["loss"],
                      scheme="prox", progress=size["progress"])
    summary["validation"] = {
        "alpha": ALPHA_LA[0], "m0": M0_DEMO, "t_max": size["t_val"], "worst_z": report.worst_z,
        "m_final": {"dmft": float(report.theory["m"][-1]),
                    "finite_n": float(report.finite_n["m"][-1]),
                    "finite_n_se": float(report.finite_n_sem["m"][-1])}}
    save_text(out / "validation.json", dumps_strict(json.loads(report.to_json())))
    plotting.plot_validation(report).savefig(out / "validation.png", dpi=120)


def _la_shipped(out: Path, size: dict, summary: dict) -> None:
    from dmft import plotting
    from dmft.bbp import shipped_alpha_bbp_ts
    from dmft.figures import figure_phase_diagram, success_curves_la

    a = size["a"]
    try:
        best = shipped_alpha_bbp_ts(a=a)
        ts, source = [best["value"], best["error"]], f"{best['source']}, {best['horizon']}"
    except FileNotFoundError:
        ts, source = None, None
    summary["alpha_bbp_ts_reference"] = ts
    summary["alpha_bbp_ts_source"] = source
    curves = success_curves_la(a)
    rows = {}
    if curves:
        horizon = min(c.t_max for c in curves)
        for c in curves:
            fit = c.fit_at(horizon)
            rows[str(c.N)] = {"t": horizon, "alpha_50": fit.alpha_50, "error": fit.alpha_50_err,
                              "separated": fit.separated, "t_max": c.t_max,
                              "alpha_50_t_max": c.alpha_50, "error_t_max": c.alpha_50_err,
                              "runs": int(np.max(c.trials))}
        plotting.plot_success(curves).savefig(out / "success.png", dpi=120)
    summary["success"] = rows
    figure_phase_diagram(quick=size["quick"]).savefig(out / "phase_diagram.png", dpi=120)


_PHASES_LA = (_la_t0, _la_finite_t0, _la_trajectories, _la_validation, _la_shipped)


def format_summary(summary: dict, out: str | Path) -> str:
    """The key numbers of :func:`run_demo` as a few human-readable lines."""
    if summary["a"] is not None:
        return _format_la(summary, out)
    o = summary["t0_outlier"]
    lines = [
        f"dmft demo: plain quartic loss (a = inf; THEORY E4), alpha = {summary['alpha']:g}, "
        f"{summary['seconds']:.0f} s; files in {out}/",
        f"  random start (t = 0): BBP {o['status']} at lam = {o['lam_out']:.3f}, "
        f"overlap^2 = {o['overlap2']:.3f}, width = {o['width']:.3f}",
        f"  t_BBP(alpha = {summary['alpha']:g}) = {summary['t_bbp']:.3g}",
        f"  log G_max(alpha) over t <= {summary['t_growth']:g}: "
        + ", ".join(f"{a}: {v:.2f}" for a, v in summary["log_G_max"].items()),
        "  alpha_alg(N) (T4, same horizon, m_escape = 0.5): "
        + ", ".join(f"N={n}: {v:.2f}" for n, v in summary["alpha_alg"].items()),
        f"  DMFT vs N = {summary['N']} from m0 = {summary['m0']:g}: m(t_end) = "
        f"{summary['m_final']['dmft']:.3f} vs {summary['m_final']['finite_n']:.3f}; worst |z| "
        + ", ".join(f"{k} {v:.1f}" for k, v in summary["validation_worst_z"].items()),
        "  Hessian (H8 of the DMFT law vs Lanczos; z against sqrt(se_law^2 + se_N^2 + "
        "allowance^2), allowance = finite-N shift from N/2), worst |z| (largest allowance): "
        + ", ".join(f"{k} {v:.1f} ({summary['validation_hessian_allowance'].get(k, 0.0):.2g})"
                    for k, v in summary["validation_hessian_worst_z"].items()),
    ]
    ts, ts_err = summary["alpha_bbp_ts_reference"]
    lines.insert(1, f"  alpha_BBP_init = {summary['alpha_bbp_init']:.6f} "
                    f"(+- {summary['alpha_bbp_init_error']:.1e}); alpha_BBP_TS = {ts:.1f} "
                    f"+- {ts_err:.1f} (shipped: {summary['alpha_bbp_ts_source']})")
    return "\n".join(lines)


def _format_la(s: dict, out: str | Path) -> str:
    """:func:`format_summary` of the l_a story."""
    b, t0, fn = s["alpha_bbp_init"], s["t0"], s["t0_finite_n"]
    a = s["a"]
    lines = [
        f"dmft demo: normalised loss l_a, a = {a:g} (THEORY E4a; --plain for the plain loss), "
        f"prox steps dt = eta = {s['dt']:g}; {s['seconds']:.0f} s; files in {out}/",
        f"  alpha_BBP_init(a = {a:g}) = {b['alpha']:.6f} (+- {b['error']:.1e}; the outlier "
        f"leaves the {'hard edge' if b['kind'] == 'edge' else 'support'} at lam = "
        f"{b['lam']:.4f})",
        f"  t = 0, alpha = {t0['alpha']:g} (exact law): outlier {t0['status']} at lam = "
        f"{t0['lam_out']:.3f} (overlap^2 {t0['overlap2']:.3f}, BBP margin {t0['margin']:.3g}), "
        f"hard edge {t0['hard_edge']:.3f} ({t0['hard_edge_kind']}), mu(0) = {t0['mu']:.3f}",
        f"    dense Hessians, N = {fn['N']}, {fn['datasets']} datasets (mean +- s.e.): "
        f"lam_1 + mu_N = {_pm(fn['lam1_plus_mu'])} vs lam_out + mu(0) = "
        f"{t0['lam_out'] + t0['mu']:.3f} (z = {fn['z_lam1']:.2f}); lam_2 + mu_N = "
        f"{_pm(fn['lam2_plus_mu'])} vs edge {t0['hard_edge'] + t0['mu']:.3f}; overlap^2 "
        f"{_pm(fn['overlap2_1'])} vs {t0['overlap2']:.3f}; mu_N = {_pm(fn['mu'], 1)}",
    ]
    for alpha, r in s["trajectories"].items():
        if np.isfinite(r["t_bbp"] if r["t_bbp"] is not None else np.nan):
            back = ("at no later time" if r["back_after_t_bbp"] == 0 else
                    f"at {100 * r['back_after_t_bbp']:.0f} % of later times: margin within "
                    "noise of 0")
            end = (f"t_BBP = {r['t_bbp']:.3g} (outlier missing from the majority of the "
                   f"spectra within +- {r['smooth']:g} t, spectra every "
                   f"{r['spectrum_dt']:.2g}; majority back {back})")
        else:
            end = f"the outlier survives to t = {r['t_end']:g}"
        lines.append(
            f"  DMFT from m0 -> 0+, alpha = {alpha} (S = {s['S']}): BBP margin "
            f"{r['margin_t0']:.3g} at t = 0, {r['margin_end']:.3g} at t = {r['t_end']:g}; "
            f"{end}; m(t)/m0 = {r['G_end']:.3g} at t = {r['t_end']:g}")
    v = s["validation"]
    mf = v["m_final"]
    lines.append(
        f"  DMFT vs N = {s['N']} prox-GD, alpha = {v['alpha']:g}, m0 = {v['m0']:g}, "
        f"t <= {v['t_max']:g}: m(t_end) = {mf['dmft']:.4f} vs {mf['finite_n']:.4f} +- "
        f"{mf['finite_n_se']:.1g}; worst |z| "
        + ", ".join(f"{k} {z:.1f}" for k, z in v["worst_z"].items()))
    ts = s["alpha_bbp_ts_reference"]
    lines.append(f"  alpha_BBP_TS(a = {a:g}) = {ts[0]:.2f} +- {ts[1]:.2f} (shipped: "
                 f"{s['alpha_bbp_ts_source']})" if ts is not None else
                 f"  alpha_BBP_TS(a = {a:g}): not shipped (no data/bbp_times_la{a:g}.json)")
    if s["success"]:
        rows = list(s["success"].items())
        lines.append(
            f"  finite-N success from random starts (shipped data/success_la{a:g}_N*.npz, "
            f"prox-GD, |m| > 0.9), alpha_50(N) at t = {rows[0][1]['t']:g}: "
            + ", ".join(f"N={n}: {_pm([r['alpha_50'], r['error']], 2)}" for n, r in rows)
            + "; at each file's t_max: "
            + ", ".join(f"N={n} (t={r['t_max']:g}): "
                        f"{_pm([r['alpha_50_t_max'], r['error_t_max']], 2)}" for n, r in rows))
    else:
        lines.append(f"  finite-N success: not shipped for a = {a:g} "
                     f"(no data/success_la{a:g}_N*.npz)")
    return "\n".join(lines)


def _pm(v: list[float], digits: int = 3) -> str:
    return f"{v[0]:.{digits}f} +- {v[1]:.{digits}f}"
