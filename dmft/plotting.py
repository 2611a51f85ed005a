"""Figures: each function returns a matplotlib Figure (nothing is shown or saved here).

Drawing only: every number drawn comes in a record computed elsewhere (spectra:
:func:`dmft.spectrum.spectrum_curves`, :func:`dmft.spectrum.spectrum_along`; validation:
:func:`dmft.validate.validate`; thresholds and success curves: the theory modules).

Backends: callers in scripts should select a non-interactive backend (``dmft`` commands use
``Agg``). Eigenvalues on the axes are Riemannian (THEORY H1-H2).
"""

from __future__ import annotations

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

__all__ = ["plot_spectrum", "plot_density_grid", "plot_validation", "plot_growth",
           "plot_outlier_along", "plot_phase_diagram", "plot_success"]


def _draw_spectrum(ax, curves, hist=None, legend: bool = True) -> None:
    out = curves.outlier
    if hist is not None:
        ax.hist(np.asarray(hist), bins=80, density=True, color="0.8", label="finite N")
    ok = np.asarray(curves.resolved, bool)
    ax.plot(curves.lam, np.where(ok, curves.density, np.nan), color="C0",
            label="bulk density (H3)")
    ax.plot(curves.lam, np.where(ok, curves.nu_e, np.nan), color="C3",
            label="signal measure nu_e (H5)")
    if out.status != "absent":
        ax.axvline(out.lam, color="C3", ls=":",
                   label=f"BBP {out.status}: overlap^2 = {out.overlap2:.2f}")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 10.0)
    if legend:
        ax.legend(frameon=False, fontsize=7)


def plot_spectrum(curves, hist=None) -> Figure:
    """Bulk density (H3) and signal measure nu_e (H5) of a weight law, outlier marked;
    drawn only where the law resolves them (``curves.resolved``: a sample law's extreme
    samples make bands that are not the law's).

    Parameters
    ----------
    curves : dmft.spectrum.SpectrumCurves
        From :func:`dmft.spectrum.spectrum_curves` (e.g. of ``WeightLaw.gaussian(alpha)``).
    hist : array, optional
        Finite-N eigenvalues to overlay as a normalised histogram.
    """
    fig, ax = plt.subplots(figsize=(6, 3.8), constrained_layout=True)
    _draw_spectrum(ax, curves, hist)
    ax.set_xlabel("Riemannian eigenvalue")
    ax.set_ylabel("density")
    ax.set_title(f"alpha = {curves.alpha:g}, m = {curves.m:g}")
    return fig


def plot_density_grid(panels, N: int | None = None) -> Figure:
    """Figure (b): one row per alpha, one column per time, of :func:`plot_spectrum` panels.

    ``panels[i][j] = (curves, finite_n_eigenvalues or None, label)`` with ``curves`` a
    :class:`dmft.spectrum.SpectrumCurves`; ``N`` labels the histograms.
    """
    rows, cols = len(panels), len(panels[0])
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows),
                             constrained_layout=True, squeeze=False)
    for i, row in enumerate(panels):
        for j, (curves, hist, label) in enumerate(row):
            ax = axes[i, j]
            _draw_spectrum(ax, curves, hist=hist, legend=(i == 0 and j == 0) or
                           curves.outlier.status != "absent")
            ax.set_title(f"alpha = {curves.alpha:g}, {label}, m_DMFT = {curves.m:.2g}",
                         fontsize=9)
            if i == rows - 1:
                ax.set_xlabel("Riemannian eigenvalue")
    if N is not None:
        fig.suptitle(f"DMFT (lines) vs finite N = {N} Hessians (grey histograms)")
    return fig


# ---------------------------------------------------------------------- lead: figures (c)-(e)
def plot_validation(report) -> Figure:
    """Figure (c): m, e, mu from DMFT (band: +-2 s.e.) vs finite N (mean +- s.e.); when the
    report has Hessian snapshots, a second row with the lowest two eigenvalues and the
    overlap^2 of the lowest eigenvector (H8 prediction from the DMFT law vs finite N).

    ``report`` is a :class:`dmft.validate.ValidationReport`.
    """
    hess = report.t_hessian.size > 0
    fig, axes = plt.subplots(2 if hess else 1, 3, figsize=(12, 7 if hess else 3.6),
                             constrained_layout=True, squeeze=False)
    p = report.params
    for ax, name, label in zip(axes[0], ("m", "e", "mu"), ("overlap m", "energy e", "mu"),
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
    axes[0, 1].set_yscale("log")
    axes[0, 0].legend(frameon=False)
    if hess:
        _hessian_row(axes[1], report)
    fig.suptitle(f"alpha = {p['alpha']:g}, m0 = {p['m0']:g}, eta = dt = {p['eta']:g}")
    return fig


def _hessian_row(axes, report) -> None:
    t = report.t_hessian
    for ax, names, label in ((axes[0], ("lam_1",), "lowest eigenvalue"),
                             (axes[1], ("lam_2",), "second-lowest eigenvalue"),
                             (axes[2], ("overlap2_1",), "overlap^2 of lowest with w*")):
        for name in names:
            ax.errorbar(t, report.hessian_theory[name],
                        yerr=report.hessian_theory_sem.get(name), fmt="s-", ms=3, color="C0",
                        capsize=2, label="H8 from the DMFT law (+- group s.e.)")
            ax.errorbar(t, report.hessian_finite_n[name], yerr=report.hessian_finite_n_sem[name],
                        fmt="o", ms=3, color="C3", label=f"Lanczos, N = {report.params['N']}")
            k = int(np.argmax(np.abs(report.hessian_z[name])))
            ax.set_title(f"{label}: max |z| = {report.hessian_worst_z[name]:.1f} at t = {t[k]:.2g}"
                         f"\n(finite-N allowance {report.hessian_allowance[name][k]:.2g})",
                         fontsize=8)
        ax.set_xlabel("t")
    axes[0].legend(frameon=False, fontsize=8)


def plot_growth(growths, power_panel: bool = False, title: str | None = None) -> Figure:
    """Growth factor G(t; alpha) = lim m(t)/m0 (T4) for several alphas, with +-1 s.e.

    Drawn is ``exp`` of :attr:`dmft.growth.GrowthFactor.log_G` with the band
    ``exp(log_G +- log_G_sem)``: the mean of log G over the sub-populations where the file
    keeps them (the group mean of G is dominated by its fastest group under exponential
    growth), else log of the group mean with the delta-method error.

    ``power_panel``: a second panel with log-log axes, where algebraic growth ``G ~ t^b``
    (marginal states, alpha < alpha_BBP_TS) is a straight line, while exponential growth
    (a surviving outlier) is straight on the first (log-linear) panel.
    """
    fig, axes = plt.subplots(1, 2 if power_panel else 1, figsize=(10 if power_panel else 5, 3.6),
                             constrained_layout=True, squeeze=False)
    for ax, xscale in zip(axes[0], ("linear", "log"), strict=False):
        for i, g in enumerate(growths):
            keep = g.t > 0 if xscale == "log" else slice(None)
            t, lg, err = g.t[keep], g.log_G[keep], g.log_G_sem[keep]
            ax.plot(t, np.exp(lg), color=f"C{i}", label=f"alpha = {g.alpha:g}")
            ax.fill_between(t, np.exp(lg - err), np.exp(lg + err), color=f"C{i}",
                            alpha=0.2, lw=0)
        ax.set_yscale("log")
        ax.set_xscale(xscale)
        ax.set_xlabel("t" + (" (log scale)" if xscale == "log" else ""))
        ax.set_ylabel("G(t) = m(t) / m0")
        ax.legend(frameon=False, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def _band(ax, t, y, err, color, label, style="-") -> None:
    """A curve with a +-1 s.e. band (``err`` may be None or hold NaN: no band there)."""
    ax.plot(t, y, style, color=color, lw=1.2, label=label)
    if err is not None:
        e = np.nan_to_num(np.asarray(err, float), nan=0.0)
        ax.fill_between(t, y - e, y + e, color=color, alpha=0.25, lw=0)


def plot_outlier_along(traj, alpha: float, t_bbp: float | None = None) -> Figure:
    """Figure (e): outlier and the three levels of the low end (Riemannian) vs t.

    ``traj`` is a :class:`dmft.spectrum.SpectrumTrajectory`: the N = inf hard edge (drawn
    where it exists), and when ``traj.N`` is set the tail start at size N (expected count
    of bulk eigenvalues below it = 1) and the median of the finite-N lowest eigenvalue with
    its 16-84 % range; bands are the group jackknife errors (+-1 s.e.) when ``traj.errors``
    holds them. ``t_bbp`` (e.g. ``traj.t_bbp()``, T2) is marked when given and finite.
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
    err = traj.errors.get
    ok = np.array([s != "absent" for s in traj.status])
    if np.isfinite(traj.hard_edge).any():
        _band(ax, traj.t, traj.hard_edge, err("hard_edge"), "k", "hard edge (N = inf)")
    if traj.N is not None:
        _band(ax, traj.t, traj.tail_start, err("tail_start"), "C0",
              f"tail start (count 1 at N = {traj.N})", "--")
        _band(ax, traj.t, traj.lowest_median, err("lowest_median"), "C2",
              f"lowest eigenvalue, median (N = {traj.N})", ":")
        ax.fill_between(traj.t, traj.lowest_q16, traj.lowest_q84, color="C2", alpha=0.1, lw=0,
                        label="lowest: 16-84 %")
    lam = np.where(ok, traj.lam_out, np.nan)
    e_out = err("lam_out")
    ax.errorbar(traj.t, lam, yerr=None if e_out is None else np.where(ok, e_out, np.nan),
                fmt="o-", color="C3", ms=3, label="BBP outlier")
    if t_bbp is not None and np.isfinite(t_bbp):
        ax.axvline(t_bbp, color="C3", ls=":", label=f"t_BBP = {t_bbp:.2f}")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("t")
    ax.set_ylabel("Riemannian eigenvalue")
    ax.set_title(f"alpha = {alpha:g}")
    ax.legend(frameon=False, fontsize=7)
    return fig


def plot_phase_diagram(threshold, alpha_bbp_init: float | None = None,
                       t_bbp: dict | None = None,
                       alpha_ts: tuple[float, float] | None = None, *,
                       horizon: float | None = None, measured: tuple | None = None,
                       predicted_label: str = "alpha_alg(N) predicted",
                       measured_label: str = "alpha_50(N) measured",
                       level_labels: bool = False, legends_below: bool = False,
                       title: str | None = None) -> Figure:
    """Figure (a): the alpha axis of the phase diagram (T1-T4).

    Left: ``log G_max(alpha)`` with the levels ``log(sqrt(N) m_escape / c)`` whose crossings
    define ``alpha_alg(N)``, alpha_BBP_init, alpha_BBP_TS (band: +- its uncertainty) and
    ``t_BBP(alpha)`` on a twin axis; right: ``alpha_alg(N)`` vs ``log10 N`` (the log N law).

    Parameters
    ----------
    threshold : dmft.growth.AlgorithmicThreshold
    alpha_bbp_init : float, optional
    t_bbp : dict, optional
        ``alpha -> t`` or ``alpha -> {"t": t, "error": err}``; infinite t are drawn as
        arrows at the top of the axis.
    alpha_ts : (value, uncertainty), optional
    horizon : float, optional
        The ``t_max`` of ``log max_{t <= t_max} G`` (e.g. of
        :func:`dmft.growth.threshold_at_horizon`), named in the labels.
    measured : (N, alpha_50, alpha_50_err), optional
        Finite-N 50 % points drawn as points with error bars on the right; the prediction
        is then drawn as a line with its +-1 s.e. band instead of points.
    predicted_label, measured_label : str
        Legend entries of the two series on the right.
    level_labels : bool
        Name the levels in the legend and write ``N = ...`` at the lowest and the highest.
    legends_below : bool
        Legends under the axes (the left one with the twin axis' t_BBP) instead of inside.
    title : str, optional
        Figure title.
    """
    th = threshold
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.8) if legends_below else (10, 3.8),
                                 constrained_layout=True)
    _draw_growth_levels(ax, th, horizon, level_labels)
    for a in (ax, bx):
        if alpha_bbp_init is not None:
            a.axvline(alpha_bbp_init, color="C3", ls=":", label="alpha_BBP_init")
        if alpha_ts is not None and np.isfinite(alpha_ts[0]):
            a.axvspan(alpha_ts[0] - alpha_ts[1], alpha_ts[0] + alpha_ts[1], color="C4",
                      alpha=0.15, label=f"alpha_BBP_TS = {alpha_ts[0]:.1f} +- {alpha_ts[1]:.1f}")
    tx = ax.twinx() if t_bbp else None
    if tx is not None:
        _draw_t_bbp(tx, t_bbp)
    if not legends_below:
        ax.legend(frameon=False, loc="upper left", fontsize=8)
    ok = np.isfinite(th.alpha_alg)
    logn = np.log10(th.N[ok])
    if measured is None:
        bx.errorbar(th.alpha_alg[ok], logn, xerr=th.alpha_alg_err[ok], fmt="o-", color="C1",
                    label=predicted_label)
    else:
        bx.plot(th.alpha_alg[ok], logn, "-", color="C0", label=predicted_label)
        bx.fill_betweenx(logn, th.alpha_alg[ok] - th.alpha_alg_err[ok],
                         th.alpha_alg[ok] + th.alpha_alg_err[ok], color="C0", alpha=0.2, lw=0)
        n_m, a_m, e_m = (np.asarray(x, float) for x in measured)
        bx.errorbar(a_m, np.log10(n_m), xerr=e_m, fmt="o", color="C1", capsize=3,
                    label=measured_label)
    bx.set_xlabel("alpha")
    bx.set_ylabel("log10 N")
    if legends_below:
        pairs = [x.get_legend_handles_labels() for x in (ax, tx) if x is not None]
        for x, (h, lab) in ((ax, [sum(p, []) for p in zip(*pairs, strict=True)]),
                            (bx, bx.get_legend_handles_labels())):
            x.legend(h, lab, frameon=False, fontsize=7, loc="upper center",
                     bbox_to_anchor=(0.5, -0.16), ncol=2)
    else:
        bx.legend(frameon=False, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _draw_growth_levels(ax, th, horizon: float | None, level_labels: bool) -> None:
    """``log G_max(alpha)`` (with errors) and the levels ``log(sqrt(N) m_escape / c)``."""
    t = "t" if horizon is None else f"(t <= {horizon:g})"
    ax.errorbar(th.alphas, th.log_G_max, yerr=th.log_G_max_sem, fmt="o-", color="C0",
                capsize=0 if horizon is None else 2,
                label="log G_max (DMFT, m0 -> 0+)" if horizon is None
                else f"log max_{t} G(t) (DMFT, m0 -> 0+)")
    levels = np.log(np.sqrt(th.N) * th.m_escape / th.c)
    for i, y in enumerate(levels):
        ax.axhline(y, color="0.7", lw=0.8, label="log(sqrt(N) m_escape / c)"
                   if level_labels and i == 0 else None)
    if level_labels:
        for k, va, dy in ((np.argmin(levels), "top", -1), (np.argmax(levels), "bottom", 1)):
            ax.annotate(f"N = {th.N[k]:g}", (1.0, levels[k]), xycoords=("axes fraction", "data"),
                        xytext=(-2, dy), textcoords="offset points", ha="right", va=va,
                        fontsize=7, color="0.4")
    ax.set_xlabel("alpha")
    ax.set_ylabel(f"log max_{t} G(t)")


def _draw_t_bbp(tx, t_bbp: dict) -> None:
    a = np.array(list(t_bbp), float)
    vals = [v if isinstance(v, dict) else {"t": v, "error": 0.0} for v in t_bbp.values()]
    t = np.array([v["t"] for v in vals], float)
    err = np.array([v["error"] for v in vals], float)
    fin = np.isfinite(t)
    tx.errorbar(a[fin], t[fin], yerr=np.nan_to_num(err[fin]), fmt="s--", color="C2",
                capsize=2, label="t_BBP")
    top = max(t[fin].max() * 1.3, 0.5) if fin.any() else 1.0
    for ai in a[~fin]:
        tx.annotate("", (ai, top), (ai, 0.8 * top), arrowprops={"color": "C2", "width": 1})
    tx.set_ylim(0, top * 1.05)
    tx.set_ylabel("t_BBP (outlier merges)", color="C2")


def plot_success(curves, threshold=None, predictions: dict | None = None) -> Figure:
    """Figure (d): finite-N success probability vs alpha with Wilson intervals (T4).

    Parameters
    ----------
    curves : list of dmft.success.SuccessCurve
        One per N (points with Wilson bars).
    threshold : dmft.growth.AlgorithmicThreshold, optional
        Its ``alpha_alg(N)`` are drawn as vertical lines in the colour of the matching N.
    predictions : dict, optional
        ``N -> (alphas, p, p_err)`` from :func:`dmft.growth.predicted_success`,
        drawn as lines (band: +-1 s.e.) in the colour of the matching N.
    """
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for i, c in enumerate(curves):
        ax.errorbar(c.alphas, c.rate, yerr=(c.rate - c.ci_low, c.ci_high - c.rate), fmt="o",
                    color=f"C{i}", ms=3, capsize=2,
                    label=f"GD N = {c.N}: alpha_50 = {c.alpha_50:.2f} +- {c.alpha_50_err:.2f}")
        if predictions and c.N in predictions:
            a, p, pe = predictions[c.N]
            ax.plot(a, p, "-", color=f"C{i}", lw=1)
            ax.fill_between(a, p - pe, p + pe, color=f"C{i}", alpha=0.15, lw=0)
        if threshold is not None:
            k = np.flatnonzero(threshold.N == c.N)
            if k.size and np.isfinite(threshold.alpha_alg[k[0]]):
                ax.axvline(threshold.alpha_alg[k[0]], color=f"C{i}", ls=":")
    ax.axhline(0.5, color="0.7", lw=0.8)
    ax.set_xlabel("alpha")
    ax.set_ylabel("success probability (random start)")
    title = "points: gradient descent"
    if predictions:
        title += "; lines: DMFT growth, 2 Phi(-sqrt(N) m_esc / G)"
    ax.set_title(title, fontsize=9)
    ax.legend(frameon=False, fontsize=7)
    return fig
