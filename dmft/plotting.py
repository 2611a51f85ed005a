"""Figures: each function returns a matplotlib Figure (nothing is shown or saved here).

Backends: callers in scripts should select a non-interactive backend (``dmft`` commands use
``Agg``). Eigenvalues on the axes are Riemannian (THEORY H1-H2).
"""

from __future__ import annotations

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

__all__ = ["plot_spectrum", "plot_validation", "plot_growth", "plot_outlier_along",
           "plot_phase_diagram", "plot_success"]


def _support_grid(law, out, n: int = 300) -> np.ndarray:
    """A grid covering where the density or nu_e exceed 1e-5, and the outlier."""
    scale = abs(law.mu) + 10.0 * law.alpha + 1.0
    coarse = np.linspace(-4 * scale, 4 * scale, 241)
    keep = (law.density(coarse).rho > 1e-5) | (law.signal_measure(coarse).nu_e > 1e-5)
    lo, hi = coarse[keep].min(), coarse[keep].max()
    if np.isfinite(out.lam):
        lo = min(lo, out.lam - 1.0)
    return np.linspace(lo, hi, n)


def plot_spectrum(law, lams=None, hist=None) -> Figure:
    """Bulk density (H3) and signal measure nu_e (H5) of a weight law, outlier marked.

    Parameters
    ----------
    law : dmft.spectrum.WeightLaw
        The weight law (e.g. ``WeightLaw.gaussian(alpha)`` at t = 0).
    lams : array, optional
        Grid of Riemannian eigenvalues (default: around the bulk and the outlier).
    hist : array, optional
        Finite-N eigenvalues to overlay as a normalised histogram.
    """
    out = law.outlier()
    if lams is None:
        lams = _support_grid(law, out)
    rho = law.density(lams).rho
    nu = law.signal_measure(lams).nu_e
    fig, ax = plt.subplots(figsize=(6, 3.8), constrained_layout=True)
    if hist is not None:
        ax.hist(np.asarray(hist), bins=80, density=True, color="0.8", label="finite N")
    ax.plot(lams, rho, color="C0", label="bulk density (H3)")
    ax.plot(lams, nu, color="C3", label="signal measure nu_e (H5)")
    if out.status != "absent":
        ax.axvline(out.lam, color="C3", ls=":",
                   label=f"BBP {out.status}: overlap^2 = {out.overlap2:.2f}")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, None)
    ax.set_xlabel("Riemannian eigenvalue")
    ax.set_ylabel("density")
    ax.set_title(f"alpha = {law.alpha:g}, m = {getattr(law, 'm', 0.0):g}")
    ax.legend(frameon=False, fontsize=8)
    return fig
# ---------------------------------------------------------------------- lead: figures (c)-(e)
def plot_validation(report) -> Figure:
    """Figure (c): m, e, mu from DMFT (band: +-2 s.e.) vs finite N (mean +- s.e.).

    ``report`` is a :class:`dmft.validate.ValidationReport`.
    """
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), constrained_layout=True)
    p = report.params
    for ax, name, label in zip(axes, ("m", "e", "mu"), ("overlap m", "energy e", "mu"),
                               strict=True):
        th, se = report.theory[name], report.theory_sem[name]
        ax.plot(report.t, th, color="C0", label="DMFT (N = inf)")
        ax.fill_between(report.t, th - 2 * se, th + 2 * se, color="C0", alpha=0.25, lw=0)
        step = max(1, report.t.size // 25)
        ax.errorbar(report.t[::step], report.finite_n[name][::step],
                    yerr=report.finite_n_sem[name][::step], fmt="o", ms=3, color="C3",
                    label=f"GD, N = {p['N']}")
        ax.set_xlabel("t")
        ax.set_ylabel(label)
        ax.set_title(f"{label}: max |z| = {report.worst_z[name]:.1f}")
    axes[1].set_yscale("log")
    axes[0].legend(frameon=False)
    fig.suptitle(f"alpha = {p['alpha']:g}, m0 = {p['m0']:g}, eta = dt = {p['eta']:g}")
    return fig


def plot_growth(growths) -> Figure:
    """Growth factor G(t; alpha) = lim m(t)/m0 (T4) for several alphas, with +-1 s.e."""
    fig, ax = plt.subplots(figsize=(5, 3.6), constrained_layout=True)
    for i, g in enumerate(growths):
        ax.plot(g.t, g.G, color=f"C{i}", label=f"alpha = {g.alpha:g}")
        ax.fill_between(g.t, g.G - g.G_sem, g.G + g.G_sem, color=f"C{i}", alpha=0.2, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("G(t) = m(t) / m0")
    ax.legend(frameon=False)
    return fig


def plot_outlier_along(traj, alpha: float) -> Figure:
    """Figure (e): outlier location and left edge (Riemannian eigenvalues) vs t."""
    fig, ax = plt.subplots(figsize=(5, 3.6), constrained_layout=True)
    ok = np.array([s != "absent" for s in traj.status])
    ax.plot(traj.t, traj.left_edge, "k-", label="left edge / tail start")
    ax.plot(traj.t[ok], traj.lam_out[ok], "o-", color="C3", ms=3, label="BBP outlier")
    t_bbp = traj.t_bbp()
    if np.isfinite(t_bbp):
        ax.axvline(t_bbp, color="C3", ls=":", label=f"t_BBP = {t_bbp:.2f}")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("t")
    ax.set_ylabel("Riemannian eigenvalue")
    ax.set_title(f"alpha = {alpha:g}")
    ax.legend(frameon=False)
    return fig


def plot_phase_diagram(threshold, alpha_bbp_init: float | None = None,
                       t_bbp: dict[float, float] | None = None) -> Figure:
    """Figure (a): the alpha axis of the phase diagram (T1-T4).

    Left: ``log G_max(alpha)`` with the levels ``log(sqrt(N) m_escape / c)`` whose crossings
    define ``alpha_alg(N)``; right: ``alpha_alg(N)`` vs ``log10 N`` (the log N law), with
    alpha_BBP_init and, when given, ``t_BBP(alpha)`` on a twin axis of the left panel.

    ``threshold`` is a :class:`dmft.phase_diagram.AlgorithmicThreshold`.
    """
    th = threshold
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    ax.errorbar(th.alphas, th.log_G_max, yerr=th.log_G_max_sem, fmt="o-", color="C0",
                label="log G_max (DMFT, m0 -> 0+)")
    for N in th.N:
        ax.axhline(np.log(np.sqrt(N) * th.m_escape / th.c), color="0.7", lw=0.8)
    if alpha_bbp_init is not None:
        for a in (ax, bx):
            a.axvline(alpha_bbp_init, color="C3", ls=":", label="alpha_BBP_init")
    if t_bbp:
        tx = ax.twinx()
        tx.plot(list(t_bbp), list(t_bbp.values()), "s--", color="C2", label="t_BBP")
        tx.set_ylabel("t_BBP", color="C2")
    ax.set_xlabel("alpha")
    ax.set_ylabel("log max_t G(t)")
    ax.legend(frameon=False, loc="upper left", fontsize=8)
    ok = np.isfinite(th.alpha_alg)
    bx.errorbar(th.alpha_alg[ok], np.log10(th.N[ok]), xerr=th.alpha_alg_err[ok], fmt="o-",
                color="C1", label="alpha_alg(N) predicted")
    bx.set_xlabel("alpha")
    bx.set_ylabel("log10 N")
    bx.legend(frameon=False, fontsize=8)
    return fig


def plot_success(curves, threshold=None) -> Figure:
    """Figure (d): finite-N success probability vs alpha with Wilson intervals (T4).

    ``curves`` are :class:`dmft.phase_diagram.SuccessCurve` (one per N); ``threshold`` an
    optional :class:`dmft.phase_diagram.AlgorithmicThreshold` whose ``alpha_alg(N)`` are
    drawn as vertical lines in the colour of the matching N.
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
    for i, c in enumerate(curves):
        ax.errorbar(c.alphas, c.rate, yerr=(c.rate - c.ci_low, c.ci_high - c.rate), fmt="o-",
                    color=f"C{i}", ms=3, capsize=2,
                    label=f"N = {c.N}: alpha_50 = {c.alpha_50:.2f} +- {c.alpha_50_err:.2f}")
        if threshold is not None:
            k = np.flatnonzero(threshold.N == c.N)
            if k.size and np.isfinite(threshold.alpha_alg[k[0]]):
                ax.axvline(threshold.alpha_alg[k[0]], color=f"C{i}", ls=":")
    ax.axhline(0.5, color="0.7", lw=0.8)
    ax.set_xlabel("alpha")
    ax.set_ylabel("success probability (random start)")
    ax.legend(frameon=False, fontsize=8)
    return fig
