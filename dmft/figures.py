"""``dmft figures``: the paper's figure families (a)-(e) of issue 5, written to a directory.

(a) phase diagram in alpha: ``log G_max``, alpha_BBP_init, alpha_BBP_TS (with its
    uncertainty), t_BBP(alpha) and the predicted alpha_alg(N) (log N law);
(b) Hessian density and signal measure at t = 0, t_BBP and a late time for three alphas (one
    per regime), with finite-N Riemannian Hessian eigenvalues as histograms;
(c) m(t), e(t), mu(t) from the DMFT vs finite-N gradient descent;
(d) finite-N success probability vs alpha for several N with the predicted alpha_alg(N);
(e) lam_out(t) and the left edge vs t.

(a) and (d) read the shipped reference data (through :mod:`dmft._data`; format:
``data/README.md``): they are the expensive part (hours of DMFT and gradient descent);
``benchmarks/reference_data.py`` regenerates them. (b), (c) and (e) are computed from first
principles on the spot, at sizes chosen by ``quick`` (measured: 58 s of CPU, 118 s wall on
the 2-core machine shared with four other jobs; figure (b)'s density solves are most of
it; ``benchmarks/bench_figures.py``) or the defaults (a few minutes). Each figure is
written as soon as it is made; a tqdm bar on stderr shows the progress.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REGIME_ALPHAS = (2.5, 6.0, 14.0)  # below alpha_BBP_init, informative, above alpha_BBP_TS


def figure_a():
    """Figure (a) from the shipped growth factors and BBP data."""
    from dmft import plotting
    from dmft.bbp import reference_bbp
    from dmft.growth import invert_growth, reference_growth
    from dmft.thresholds import alpha_bbp_init

    g = reference_growth()
    Ns = np.array([1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8])
    thr = invert_growth(Ns, np.array([x.alpha for x in g]), np.array([x.log_G_max for x in g]),
                        np.array([x.log_G_max_sem for x in g]))
    bbp = reference_bbp()
    return plotting.plot_phase_diagram(thr, alpha_bbp_init(n_quads=(64, 128)).alpha,
                                       t_bbp=bbp["t_bbp"], alpha_ts=bbp["alpha_bbp_ts"])


def figure_d(m_escape: float = 0.5):
    """Figure (d): shipped success curves, the predicted curves ``2 Phi(-sqrt(N) m_escape /
    G_h)`` and their 50 % points alpha_alg(N) (``c`` = :data:`C_MEDIAN`), with the growth
    horizon ``G_h`` taken at each experiment's ``t_max`` (capped at the end of the shipped
    G)."""
    from dmft import plotting
    from dmft.growth import (
        AlgorithmicThreshold,
        predicted_success,
        reference_growth,
        threshold_at_horizon,
    )
    from dmft.success import reference_success

    curves = reference_success()
    g = reference_growth()
    preds, thr = {}, []
    for c in curves:
        horizon = min(c.t_max, g[0].t[-1])
        preds[c.N] = predicted_success(c.N, g, horizon, m_escape)
        thr.append(threshold_at_horizon([c.N], g, horizon, m_escape=m_escape))
    joined = AlgorithmicThreshold(
        N=np.concatenate([t.N for t in thr]), alpha_alg=np.concatenate([t.alpha_alg for t in thr]),
        alpha_alg_err=np.concatenate([t.alpha_alg_err for t in thr]), alphas=thr[0].alphas,
        log_G_max=thr[0].log_G_max, log_G_max_sem=thr[0].log_G_max_sem, c=thr[0].c,
        m_escape=m_escape)
    return plotting.plot_success(curves, joined, preds)


def figure_b(quick: bool = False, alphas=REGIME_ALPHAS):
    """Figure (b): densities at t = 0, t_BBP and late time for three alphas, finite-N overlay.

    DMFT from ``m0 = 1e-10`` (the m0 -> 0+ trajectory of T2); the finite-N runs start at
    ``m0 = 0`` exactly, so their overlap grows only from O(1/sqrt N) fluctuations; where it
    has grown to O(1) (large alpha, late times: finite-N escape, T4) the histogram belongs to
    a different state than the m0 -> 0+ curve, and the panel title says so through both m.
    t_BBP is read off the DMFT run (:meth:`SpectrumTrajectory.t_bbp`); where there is none
    (no outlier at t = 0, or one that survives) the middle column is t_late / 4. With
    ``quick`` the exact t = 0 law uses 16 quadrature nodes instead of 256: measured at
    alpha = 14 against 32 nodes, bulk mass to 3e-8, nu_e mass to 1e-4, outlier position
    to 4e-6, for a quarter of the cost of the density solves.
    """
    from dmft import plotting
    from dmft.finite_n import hessian_eigenvalues_along_gd
    from dmft.solver import solve
    from dmft.spectrum import WeightLaw, spectrum_along, spectrum_curves

    S, t_late, N, seeds = (2000, 1.0, 150, 2) if quick else (8000, 2.0, 400, 4)
    grid = np.arange(0.0, t_late + 1e-9, 0.1 if quick else 0.05)  # spectrum times
    panels = []
    for a in alphas:
        sol = solve(a, 1e-10, t_late, dt=0.02, n_samples=S, sample_times=grid)
        tb = spectrum_along(sol, grid[grid <= t_late / 2]).t_bbp()
        has_tb = bool(np.isfinite(tb) and tb > 0)
        t_mid = float(grid[np.argmin(abs(grid - (tb if has_tb else t_late / 4)))])
        times = (0.0, t_mid, t_late)
        eigs, m_fn = hessian_eigenvalues_along_gd(a, N, times, seeds, 0.02)
        tags = ("t = 0", f"t = {t_mid:.2f}" + (" (t_BBP)" if has_tb else ""), f"t = {t_late:g}")
        laws = [WeightLaw.gaussian(a, m=float(sol.m[0]), n_quad=16) if quick and t == 0
                else WeightLaw.from_solution(sol, t) for t in times]
        panels.append([(spectrum_curves(law), e, f"{tag}, m_N = {mn:.2f}")
                       for law, e, tag, mn in zip(laws, eigs, tags, m_fn, strict=True)])
    return plotting.plot_density_grid(panels, N)


def figure_ce(quick: bool = False, alpha: float = 6.0):
    """Figures (c) and (e) at one alpha in the informative regime."""
    from dmft import plotting
    from dmft.solver import solve
    from dmft.spectrum import spectrum_along
    from dmft.validate import validate

    S, t_max, N = (1000, 0.6, 200) if quick else (8000, 3.0, 500)
    report = validate(alpha, N, m0=0.3, t_max=t_max, eta=0.02, seeds=4, n_samples=S)
    sol = solve(alpha, 1e-10, t_max, dt=0.02, n_samples=S,
                sample_times=np.linspace(0, t_max, 31))
    traj = spectrum_along(sol, sol.sample_times)
    return plotting.plot_validation(report), plotting.plot_outlier_along(traj, alpha,
                                                                           traj.t_bbp())


def make_figures(out: str | Path = "dmft-figures", quick: bool = False,
                 progress: bool = True) -> list[Path]:
    """Write figures (a)-(e) as PNG files into ``out``, each as soon as it is made.

    Parameters
    ----------
    out : path
        Output directory (created if needed).
    quick : bool
        Small sizes (under a minute on 2 cores) instead of the defaults (minutes).
    progress : bool
        A tqdm bar on stderr over the figures, with the one being made.

    Returns
    -------
    list of Path
        The files written, in the order (a)-(e).
    """
    import matplotlib
    import matplotlib.pyplot as plt
    from tqdm.auto import tqdm

    matplotlib.use("Agg")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = [("a_phase_diagram", figure_a), ("d_success", figure_d),
             ("b_densities", lambda: figure_b(quick)),
             ("c_dmft_vs_finite_n+e_outlier_along", lambda: figure_ce(quick))]
    written: dict[str, Path] = {}
    bar = tqdm(total=len(steps), desc="figures", unit="figure", file=sys.stderr,
               disable=not progress)
    try:
        for name, make in steps:
            bar.set_postfix_str(name)
            t0 = time.perf_counter()
            figs = make()
            for part, fig in zip(name.split("+"), figs if isinstance(figs, tuple) else (figs,),
                                 strict=True):
                written[part] = out / f"{part}.png"
                fig.savefig(written[part], dpi=120)
                plt.close(fig)
            bar.write(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            bar.update(1)
    finally:
        bar.close()
    return [written[k] for k in sorted(written)]
