"""``dmft demo``: the main job on built-in defaults, in a few minutes on a laptop.

1. alpha_BBP_init (T1) and the random-start spectrum at alpha = ALPHA_DEMO (H3, H5, H6):
   density, signal measure nu_e and the BBP resonance;
2. one DMFT trajectory at ALPHA_DEMO from m0 = M0_DEMO with the spectrum along it (T2);
3. the signal growth factor G(t; alpha) for a few alphas and the predicted finite-N
   threshold alpha_alg(N) from it (T4);
4. a small finite-N check: the same trajectory simulated at N = N_DEMO;
5. figures in the output directory and a JSON summary; the key numbers on stdout.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

ALPHA_DEMO = 6.0
M0_DEMO = 0.3
N_DEMO = 500
GROWTH_ALPHAS = (3.0, 5.0, 7.0, 9.0, 11.0)


def run_demo(out: str | Path = "dmft-demo", quick: bool = False, progress: bool = True) -> dict:
    """Compute, plot and summarise; returns the summary dict (also written as JSON)."""
    import matplotlib

    matplotlib.use("Agg")
    from dmft import plotting
    from dmft.phase_diagram import growth_factor, invert_growth
    from dmft.spectrum import WeightLaw, spectrum_along
    from dmft.validate import validate

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    S = 1_000 if quick else 8_000
    t_max = 0.6 if quick else 3.0
    n_check = 200 if quick else N_DEMO
    alphas = GROWTH_ALPHAS[::2] if quick else GROWTH_ALPHAS
    summary: dict = {"alpha": ALPHA_DEMO, "m0": M0_DEMO, "N": n_check}

    from dmft.thresholds import alpha_bbp_init

    bbp = alpha_bbp_init()
    summary["alpha_bbp_init"] = bbp.alpha
    summary["alpha_bbp_init_error"] = bbp.error
    law0 = WeightLaw.gaussian(ALPHA_DEMO, m=0.0, n_quad=128)  # figure accuracy suffices
    out0 = law0.outlier()
    summary["t0_outlier"] = {"lam_out": out0.lam, "overlap2": out0.overlap2,
                             "width": out0.width, "status": out0.status}
    plotting.plot_spectrum(law0).savefig(out / "spectrum_t0.png", dpi=120)

    report = validate(ALPHA_DEMO, n_check, m0=M0_DEMO, t_max=t_max, eta=0.02, seeds=4,
                      n_samples=S, progress=progress)
    summary["validation_worst_z"] = report.worst_z
    summary["m_final"] = {"dmft": float(report.theory["m"][-1]),
                          "finite_n": float(report.finite_n["m"][-1])}
    report.to_json(out / "validation.json")
    plotting.plot_validation(report).savefig(out / "validation.png", dpi=120)

    t_growth = t_max if quick else 6.0  # G_max needs time to build up at large alpha
    growths = [growth_factor(a, t_max=t_growth, dt=0.02, n_samples=S) for a in alphas]
    plotting.plot_growth(growths).savefig(out / "growth_factor.png", dpi=120)
    summary["log_G_max"] = {f"{g.alpha:g}": g.log_G_max for g in growths}

    from dmft.solver import solve

    sol = solve(ALPHA_DEMO, 1e-10, t_max, dt=0.02, n_samples=S,
                sample_times=np.linspace(0, t_max, 7 if quick else 31), progress=progress)
    traj = spectrum_along(sol, sol.sample_times)
    plotting.plot_outlier_along(traj, ALPHA_DEMO).savefig(out / "outlier_along.png", dpi=120)
    summary["t_bbp"] = traj.t_bbp()
    Ns = np.array([1e2, 1e3, 1e4, 1e5, 1e6])
    thr = invert_growth(Ns, np.array(alphas), np.array([g.log_G_max for g in growths]),
                        np.array([g.log_G_max_sem for g in growths]))
    summary["alpha_alg"] = {f"{n:.0e}": float(a) for n, a in zip(Ns, thr.alpha_alg, strict=True)}
    summary["seconds"] = time.perf_counter() - t0
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return summary


def format_summary(summary: dict, out: str | Path) -> str:
    """The key numbers of :func:`run_demo` as a few human-readable lines."""
    o = summary["t0_outlier"]
    lines = [
        f"dmft demo (alpha = {summary['alpha']:g}), {summary['seconds']:.0f} s; "
        f"files in {out}/",
        f"  random start (t = 0): BBP {o['status']} at lam = {o['lam_out']:.3f}, "
        f"overlap^2 = {o['overlap2']:.3f}, width = {o['width']:.3f}",
        f"  t_BBP(alpha = {summary['alpha']:g}) = {summary['t_bbp']:.3g}",
        "  log G_max(alpha): " + ", ".join(f"{a}: {v:.2f}"
                                           for a, v in summary["log_G_max"].items()),
        "  alpha_alg(N): " + ", ".join(f"N={n}: {v:.2f}" for n, v in summary["alpha_alg"].items()),
        f"  DMFT vs N = {summary['N']} from m0 = {summary['m0']:g}: m(t_end) = "
        f"{summary['m_final']['dmft']:.3f} vs {summary['m_final']['finite_n']:.3f}; worst |z| "
        + ", ".join(f"{k} {v:.1f}" for k, v in summary["validation_worst_z"].items()),
    ]
    lines.insert(1, f"  alpha_BBP_init = {summary['alpha_bbp_init']:.6f} "
                    f"(+- {summary['alpha_bbp_init_error']:.1e})")
    return "\n".join(lines)
