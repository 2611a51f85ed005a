"""``dmft figures``: the paper's figure families (a)-(e) of issue 5, written to a directory.

(a) phase diagram in alpha: ``log G_max``, alpha_BBP_init, alpha_BBP_TS (with its
    uncertainty), t_BBP(alpha) and the predicted alpha_alg(N) (log N law);
(b) Hessian density and signal measure at t = 0, t_BBP and a late time for three alphas (one
    per regime), with finite-N Riemannian Hessian eigenvalues as histograms;
(c) m(t), e(t), mu(t) from the DMFT vs finite-N gradient descent;
(d) finite-N success probability vs alpha for several N with the predicted alpha_alg(N);
(e) lam_out(t) and the left edge vs t;
(g) the growth factor G(t) to t = 100 (:func:`figure_growth_long`, when
    ``data/growth_factor_t100.npz`` is shipped): exponential vs algebraic growth.

(a) and (d) read the shipped reference data (through :mod:`dmft._data`; format:
``data/README.md``): they are the expensive part (hours of DMFT and gradient descent);
``benchmarks/reference_data.py`` regenerates them. (b), (c) and (e) are computed from first
principles on the spot, at sizes chosen by ``quick`` (measured, with the l_a figures:
72 s of CPU, 147 s wall on the 2-core machine at load 8; figure (b)'s density solves are
most of it; ``benchmarks/bench_figures.py``) or the defaults (a few minutes). Each figure is
written as soon as it is made; a tqdm bar on stderr shows the progress.

The paper's normalised loss l_a (E4a) at a = 0.01, prox steps dt = eta = 0.01 (E5p):

- (b) for l_a (:func:`figure_b_la`): one alpha per regime (below alpha_BBP_init(a); between;
  well above), DMFT densities against finite-N prox-GD Hessians
  (:func:`dmft.finite_n.finite_n_hessians`, each dataset's spectrum shifted by its
  multiplier's fluctuation, :func:`shift_to_mu`);
- the (a, alpha) plane (:func:`figure_phase_diagram`): alpha_BBP_init(a) over
  a in [1e-3, 1e3] (disk-cached, :func:`bbp_init_curve`), alpha_BBP_TS(a) where shipped,
  the finite-N alpha_50(N) at a = 0.01, the plain loss's values as dashed lines;
- (a) for l_a (:func:`figure_a_la`, when ``data/bbp_times_la0.01.json`` is shipped): as
  (a), from the shipped l_a growth factors at the horizon t = 10, with the predicted
  alpha_alg(N) (m_escape = :data:`M_ESCAPE_LA`) against the measured alpha_50(N) of every
  shipped ``data/success_la0.01_N*.npz``.

The drawing of (b) for l_a and of the (a, alpha) plane lives here, not in
:mod:`dmft.plotting`; (a) for l_a is drawn by :func:`dmft.plotting.plot_phase_diagram`.
None of it computes anything.
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
    from dmft.bbp import reference_bbp, shipped_alpha_bbp_ts
    from dmft.growth import invert_growth, reference_growth
    from dmft.thresholds import alpha_bbp_init

    g = reference_growth()
    Ns = np.array([1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8])
    thr = invert_growth(Ns, np.array([x.alpha for x in g]), np.array([x.log_G_max for x in g]),
                        np.array([x.log_G_max_sem for x in g]))
    bbp, ts = reference_bbp(), shipped_alpha_bbp_ts()
    title = ("plain loss; alpha_BBP_TS band: the S = 2e4 value, which rises with S (THEORY T3)"
             if ts["caveat"] else None)
    return plotting.plot_phase_diagram(thr, alpha_bbp_init(n_quads=(64, 128)).alpha,
                                       t_bbp=bbp["t_bbp"], alpha_ts=(ts["value"], ts["error"]),
                                       title=title)


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
    from dmft.finite_n import finite_n_hessians
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
        recs = finite_n_hessians(a, N, times, seeds, 0.02)
        eigs = [r["eigs"].ravel() for r in recs]
        m_fn = [float(np.mean(np.abs(r["m"]))) for r in recs]
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
    traj = spectrum_along(sol, sol.sample_times, N=N, group_errors=True)
    return plotting.plot_validation(report), plotting.plot_outlier_along(traj, alpha,
                                                                           traj.t_bbp())


def figure_growth_long():
    """G(t; alpha) to t = 100 (T4; plain loss) from the shipped tangent-mode runs
    (``data/growth_factor_t100.npz``, ``benchmarks/growth_long.py``), log-linear and log-log:
    exponential growth (a surviving outlier, alpha > alpha_BBP_TS) against algebraic growth
    (marginal states). FileNotFoundError when the file is not shipped."""
    from dmft import _data, plotting
    from dmft.growth import reference_growth

    growths = reference_growth(_data.data_path(_data.GROWTH_LONG))
    return plotting.plot_growth(growths, power_panel=True,
                                title="growth factor from the tangent DMFT (m0 -> 0+), "
                                      "plain loss; mean of log G over 4 sub-populations, +-1 s.e.")


def make_figures(out: str | Path = "dmft-figures", quick: bool = False,
                 progress: bool = True) -> list[Path]:
    """Write figures (a)-(e) as PNG files into ``out``, each as soon as it is made, and the
    l_a ones at a = 0.01: (b) (``b_densities_la0.01``), the (a, alpha) plane
    (``phase_diagram_alpha_a``) and, when ``data/bbp_times_la0.01.json`` is shipped, (a)
    (``a_phase_diagram_la0.01``; otherwise a note on stderr).

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
        The files written, sorted by name.
    """
    import matplotlib
    import matplotlib.pyplot as plt
    from tqdm.auto import tqdm

    from dmft import _data
    from dmft.bbp import reference_bbp

    matplotlib.use("Agg")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    la = f"la{A_PAPER:g}"
    steps = [("a_phase_diagram", figure_a), ("d_success", figure_d),
             ("b_densities", lambda: figure_b(quick)),
             ("c_dmft_vs_finite_n+e_outlier_along", lambda: figure_ce(quick)),
             (f"b_densities_{la}", lambda: figure_b_la(A_PAPER, quick)),
             ("phase_diagram_alpha_a", lambda: figure_phase_diagram(quick))]
    try:
        _data.data_path(_data.GROWTH_LONG)
        steps.append(("g_growth_t100", figure_growth_long))
    except FileNotFoundError:
        print(f"figures: g_growth_t100 left out: no shipped data/{_data.GROWTH_LONG}",
              file=sys.stderr)
    try:
        reference_bbp(a=A_PAPER)  # shipped? (the figure reads it with the best alpha_BBP_TS)
        steps.append((f"a_phase_diagram_{la}", lambda: figure_a_la(A_PAPER)))
    except FileNotFoundError:
        print(f"figures: a_phase_diagram_{la} left out: no shipped data/bbp_times_{la}.json",
              file=sys.stderr)
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


# ------------------------------------------------------------------ the paper's loss l_a
A_PAPER = 0.01  # the normalised loss of the paper's group (issue 12)
# one alpha per regime at a = 0.01: below alpha_BBP_init(0.01) = 2.85 (T1); above it with an
# outlier that merges into the bulk at t_BBP = 1.8 +- 0.5 (T2, data/bbp_times_la0.01.json;
# 1.7 on the single run of figure_b_la and the demo); well above (6 > alpha_BBP_TS = 4.0),
# the outlier survives and the overlap grows
REGIME_ALPHAS_LA = (2.5, 3.5, 6.0)
DT_LA = 0.01  # prox step (E5p): the explicit step needs dt ~ 1e-3 at a = 0.01 (solver docs)


def success_curves_la(a: float = A_PAPER) -> list:
    """Shipped finite-N success curves on l_a (``data/success_la<a:g>_N*.npz``), by N;
    empty when none is shipped for this a."""
    from dmft._data import data_dir
    from dmft.success import SuccessCurve

    curves = [SuccessCurve.load(p) for p in data_dir().glob(f"success_la{a:g}_N*.npz")]
    return sorted(curves, key=lambda c: c.N)


def _window(law, out, eigs=None) -> tuple[float, float]:
    """Eigenvalue window of an l_a panel: from below the outlier and the hard edge (THEORY
    H4') to the finite-N median eigenvalue (else mu): the bottom of a spectrum whose upper
    tail reaches ~1/a."""
    lo = min(law.hard_edge().lam, out.lam if np.isfinite(out.lam) else np.inf)
    hi = float(np.median(eigs)) if eigs is not None else lo + abs(law.mu) + 1.0
    pad = 0.05 * (hi - lo)
    return lo - pad, hi


def _draw_density(ax, curves, eigs=None, legend: bool = True) -> None:
    """Bulk density (H3), nu_e (H5), outlier and left edge on ``curves.lam``, with finite-N
    eigenvalues as a histogram normalised by *all* of them (so it matches the density inside
    a window that cuts the spectrum's upper tail). Finite-N eigenvalues come in shifted
    (:func:`shift_to_mu`)."""
    lo, hi = curves.lam[0], curves.lam[-1]
    if eigs is not None:
        e = np.ravel(eigs)
        bins = np.linspace(lo, hi, 61)
        inside = e[(e >= lo) & (e <= hi)]
        weight = 1.0 / (e.size * (bins[1] - bins[0]))
        ax.hist(inside, bins=bins, weights=np.full(inside.size, weight), color="0.8",
                label="finite N, shifted by mu_N - mu")
    ax.plot(curves.lam, curves.density, color="C0", label="bulk density (H3)")
    ax.plot(curves.lam, curves.nu_e, color="C3", label="signal measure nu_e (H5)")
    ax.axvline(curves.hard_edge.lam, color="k", ls="--", lw=0.8,
               label=f"hard edge ({curves.hard_edge.kind})")
    if curves.outlier.status != "absent":
        ax.axvline(curves.outlier.lam, color="C3", ls=":",
                   label=f"BBP {curves.outlier.status}: overlap^2 = {curves.outlier.overlap2:.2f}")
    ax.set_yscale("log")
    ax.set_ylim(1e-5, 1.0)
    ax.set_xlim(lo, hi)
    if legend:
        ax.legend(frameon=False, fontsize=7)


def shift_to_mu(rec: dict, mu: float) -> np.ndarray:
    """Finite-N eigenvalues of :func:`finite_n_hessians` (one record), each dataset's shifted
    by ``mu_N - mu``: the Hessian is ``D - mu_N`` (H1) and for l_a the multiplier
    ``mu_N = sum f h / N`` of one dataset fluctuates by ~10 % at t = 0 and N = 1000 (heavy
    tail of ``f h`` at small y), which moves the whole spectrum rigidly; the shape is
    compared with the law's at its ``mu``."""
    return rec["eigs"] + (rec["mu"] - mu)[:, None]


def figure_spectrum_la(law, eigs=None):
    """The t = 0 l_a spectrum: the bottom of the bulk (window of :func:`_window`) and a zoom
    on the outlier and the hard edge, with finite-N eigenvalues when given (already
    shifted, :func:`shift_to_mu`)."""
    import matplotlib.pyplot as plt

    from dmft.spectrum import spectrum_curves

    out, edge = law.outlier(), law.hard_edge()
    lo, hi = _window(law, out, eigs)
    gap = abs(edge.lam - out.lam) if np.isfinite(out.lam) else 0.02 * (hi - lo)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for ax, (a, b), n in zip(axes, ((lo, hi), (edge.lam - 3 * gap, edge.lam + 6 * gap)),
                             (120, 80), strict=True):
        _draw_density(ax, spectrum_curves(law, lams=np.linspace(a, b, n)), eigs,
                      legend=ax is axes[1])
        ax.set_xlabel("Riemannian eigenvalue")
    axes[0].set_title(f"l_a (a = {law.backend.a:g}), alpha = {law.alpha:g}, t = 0: bottom of the "
                      "spectrum", fontsize=9)
    axes[1].set_title("zoom: outlier and hard edge", fontsize=9)
    return fig


def figure_margin_along(trajs: dict):
    """BBP margin ``max S_PV`` (H6) and the outlier's distance to the hard edge (H4') along DMFT
    trajectories (``alpha -> SpectrumTrajectory``), t_BBP (T2) marked."""
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for i, (alpha, tr) in enumerate(trajs.items()):
        tb = tr.t_bbp()
        ax.plot(tr.t, tr.margin, "o-", ms=2, color=f"C{i}", label=f"alpha = {alpha:g}")
        ok = np.array([s != "absent" for s in tr.status])
        bx.semilogy(tr.t[ok], tr.hard_edge[ok] - tr.lam_out[ok], "o", ms=2, color=f"C{i}",
                    label=f"alpha = {alpha:g}")
        for x in (ax, bx):
            if np.isfinite(tb):
                x.axvline(tb, color=f"C{i}", ls=":", label=f"t_BBP = {tb:.2f}" if x is ax else None)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylabel("BBP margin max S_PV (outlier iff > 0)")
    bx.set_ylabel("left edge - lam_out")
    for x in (ax, bx):
        x.set_xlabel("t")
        x.legend(frameon=False, fontsize=8)
    return fig


def figure_b_la(a: float = A_PAPER, quick: bool = False, alphas=REGIME_ALPHAS_LA):
    """Figure (b) for l_a: Hessian densities at t = 0, t_BBP and a late time, one alpha per
    regime, with finite-N prox-GD Hessians as histograms (the bottom of each spectrum:
    :func:`_window`).

    DMFT from ``m0 = 1e-10`` with ``scheme="prox"``, ``dt = 0.01`` (:data:`DT_LA`);
    finite N from ``m0 = 0`` exactly with the same step on the Moreau envelope
    (:func:`dmft.finite_n.finite_n_hessians`), the Hessian of l_a itself diagonalised.
    t_BBP is read off the DMFT run (:meth:`SpectrumTrajectory.t_bbp`); where there is none
    the middle column is t_late / 4. Each row's title gives its regime as computed: alpha against
    alpha_BBP_init(a) (T1) and whether the outlier merged (T2). With ``quick`` the t = 0
    panels (and the outlier at t = 0 for t_BBP, which is then resolved to the first spectrum
    time 0.1 if the outlier has merged by then) use the exact law at coarser quadrature
    (60 nodes, 100 v-points instead of 240 and 400; measured at a = 0.01, alpha = 6:
    outlier to 4e-8, density to 1e-8, 20x faster).
    """
    import matplotlib.pyplot as plt

    from dmft.finite_n import finite_n_hessians
    from dmft.losses import get_loss
    from dmft.solver import solve
    from dmft.spectrum import WeightLaw, spectrum_along, spectrum_curves
    from dmft.thresholds import alpha_bbp_init

    loss = get_loss("phase_retrieval", a=a)
    S, t_late, N, seeds, n_lam = (2000, 1.0, 150, 2, 60) if quick else (8000, 2.0, 400, 4, 100)
    grid = np.round(np.arange(0.0, t_late + 1e-9, 0.1 if quick else 0.05), 10)
    init = alpha_bbp_init(a=a).alpha
    fig, axes = plt.subplots(len(alphas), 3, figsize=(12.6, 3.0 * len(alphas)),
                             constrained_layout=True, squeeze=False)
    for i, alpha in enumerate(alphas):
        sol = solve(alpha, 1e-10, t_late, dt=DT_LA, n_samples=S, loss=loss, scheme="prox",
                    sample_times=grid)
        law0 = (WeightLaw.normalised(alpha, a, m=float(sol.m[0]), n_nodes=60, n_v=100)
                if quick else WeightLaw.from_solution(sol, 0.0))
        out0 = law0.outlier()
        # with quick, t = 0 comes from law0, not from a second exact law inside spectrum_along
        tb = (spectrum_along(sol, grid[1:] if quick else grid).t_bbp()
              if out0.status != "absent" and out0.margin > 0 else 0.0)
        has_tb = bool(np.isfinite(tb) and tb > 0)
        t_mid = float(grid[np.argmin(abs(grid - (tb if has_tb else t_late / 4)))])
        times = (0.0, t_mid, t_late)
        recs = finite_n_hessians(alpha, N, times, seeds, DT_LA, loss=loss, scheme="prox")
        regime = (f"< alpha_BBP_init = {init:.2f}" if alpha < init else
                  f"> alpha_BBP_init = {init:.2f}, " + (f"t_BBP = {tb:.2f}" if has_tb else
                                                        f"outlier survives to t = {t_late:g}"))
        tags = ("t = 0", f"t = {t_mid:.2f}" + (" (t_BBP)" if has_tb else ""), f"t = {t_late:g}")
        for j, (t, rec, tag) in enumerate(zip(times, recs, tags, strict=True)):
            law = law0 if t == 0 else WeightLaw.from_solution(sol, t)
            eigs = shift_to_mu(rec, law.mu)
            lo, hi = _window(law, law.outlier(), eigs)
            _draw_density(axes[i, j], spectrum_curves(law, lams=np.linspace(lo, hi, n_lam)),
                          eigs, legend=(i == 0 and j == 0))
            axes[i, j].set_title(f"alpha = {alpha:g} ({regime})\n{tag}: m_DMFT = {law.m:.1g}, "
                                 f"m_N = {np.mean(np.abs(rec['m'])):.2f}", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("Riemannian eigenvalue")
    fig.suptitle(f"l_a (a = {a:g}), prox steps dt = eta = {DT_LA:g}: DMFT (lines) vs finite "
                 f"N = {N} Hessians ({seeds} datasets, grey histograms)")
    return fig


TS_AS = (0.001, 0.01, 0.1, 1.0, 10.0)  # a with alpha_BBP_TS(a) sought in the shipped data


def _bbp_init_point(alpha: float) -> dict[str, np.ndarray]:
    """Sweep point (:func:`dmft.sweeps.sweep`; its variable, named alpha there, is ``a``):
    alpha_BBP_init(a) (T1) and its quadrature error."""
    from dmft.thresholds import alpha_bbp_init

    b = alpha_bbp_init(a=alpha)
    return {"alpha": np.array(b.alpha), "error": np.array(b.error)}


def cache_dir() -> Path:
    """Disk cache of the figures' slow sweeps: ``$XDG_CACHE_HOME/dmft`` (default
    ``~/.cache/dmft``); entries are keyed by the package's code (:mod:`dmft.sweeps`)."""
    import os

    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dmft"


def bbp_init_curve(a_values, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """alpha_BBP_init(a) (T1) and its error at each a, through the code-hashed disk cache
    of :func:`cache_dir` (measured: ~1 s per a on one core; the 31 values of the figure in
    42 s on 2 cores at load 9, 0.03 s from the cache)."""
    from dmft.sweeps import sweep

    pts = sweep(_bbp_init_point, list(a_values), cache_dir=cache_dir(), progress=progress,
                desc="alpha_BBP_init(a)")
    return (np.array([float(p["alpha"]) for p in pts]),
            np.array([float(p["error"]) for p in pts]))


def _shipped_ts(candidates) -> tuple[dict[float, tuple[float, float, bool]], list[float]]:
    """alpha_BBP_TS(a) for every a of ``candidates`` or with a shipped
    ``data/bbp_times_la<a>.json`` as ``(value, error, extrapolated)`` (the last: True for the
    t -> infinity extrapolation, False for a finite-horizon value), and the a without one
    (printed as a note)."""
    from dmft._data import reference_a_values
    from dmft.bbp import shipped_alpha_bbp_ts

    shipped = set(reference_a_values("bbp_times", ".json"))
    found, missing = {}, []
    for a in sorted(set(candidates) | shipped):
        try:
            best = shipped_alpha_bbp_ts(a=a)
            found[a] = (best["value"], best["error"], best["horizon"].startswith("t -> inf"))
        except FileNotFoundError:
            missing.append(a)
    if missing:
        print("figure_phase_diagram: no shipped alpha_BBP_TS(a) for a = "
              + ", ".join(f"{a:g}" for a in missing) + " (data/bbp_times_la<a>.json); "
              "those points are left out", file=sys.stderr)
    return found, missing


def figure_phase_diagram(quick: bool = False, progress: bool = False):
    """The (a, alpha) plane of l_a (E4a): alpha_BBP_init(a) (T1) as a curve over
    a in [1e-3, 1e3] (5 points per decade, 2 with ``quick``; cached, :func:`bbp_init_curve`),
    alpha_BBP_TS(a) (T3) wherever shipped, the finite-N alpha_50(N) at a = 0.01 from the
    shipped success data (logistic fit at the common horizon, :meth:`SuccessCurve.fit_at`),
    and the plain loss's alpha_BBP_init and alpha_BBP_TS (``data/bbp_times.json``) as
    dashed lines: the a -> infinity values of the plain loss (THEORY T1a: l_a's own
    alpha_BBP_init grows like a/2 instead)."""
    import matplotlib.pyplot as plt

    from dmft.bbp import shipped_alpha_bbp_ts
    from dmft.thresholds import alpha_bbp_init

    a_grid = np.logspace(-3, 3, 13 if quick else 31)
    init, init_err = bbp_init_curve(a_grid, progress)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    ax.plot(a_grid, init, "-", color="C3", label="alpha_BBP_init(a) (T1)")
    ts, _ = _shipped_ts(TS_AS)
    for extrapolated, fmt, label in ((True, "s", "alpha_BBP_TS(a) (T3), t -> infinity"),
                                     (False, "D", "alpha_BBP_TS(a) (T3), t <= 10-20 only "
                                      "(biased low for l_a)")):
        pts = [(a, v, e) for a, (v, e, x) in ts.items() if x == extrapolated]
        if pts:
            av, v, e = np.array(pts).T
            ax.errorbar(av, v, yerr=e, fmt=fmt, color="C4", capsize=2, label=label,
                        mfc="C4" if extrapolated else "none")
    curves = success_curves_la(A_PAPER)
    if curves:
        horizon = min(c.t_max for c in curves)
        for k, c in enumerate(curves):
            fit = c.fit_at(horizon)
            ax.errorbar(A_PAPER * 1.25 ** (k - (len(curves) - 1) / 2), fit.alpha_50,
                        yerr=fit.alpha_50_err, fmt="o", ms=4, color=f"C{k}", capsize=2,
                        label=f"finite-N alpha_50, N = {c.N} (t = {horizon:g})")
    best = shipped_alpha_bbp_ts()
    plain_ts = (best["value"], best["error"])
    ax.axhline(alpha_bbp_init(n_quads=(64, 128)).alpha, color="C3", ls="--", lw=1,
               label="plain loss (a = inf): alpha_BBP_init")
    ax.axhline(plain_ts[0], color="C4", ls="--", lw=1,
               label=f"plain loss (a = inf): alpha_BBP_TS = {plain_ts[0]:.1f} +- "
               f"{plain_ts[1]:.1f}" + (" (S = 2e4; rises with S, THEORY T3)"
                                       if best["caveat"] else ""))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("a (l_a = (h^2 - y)^2 / (4 (a + y)))")
    ax.set_ylabel("alpha")
    ax.legend(frameon=False, fontsize=7)
    return fig


T_LA = 10.0  # horizon of figure (a) for l_a: the end of the shipped G and of the N >= 1000 runs
# escape overlap of the T4 criterion on l_a at a = 0.01, measured on the finite-N prox-GD runs
# of N = 250-1000 (session 2): |m0| G_h >= M_ESCAPE_LA
M_ESCAPE_LA = 0.7


def figure_a_la(a: float = A_PAPER, bbp: dict | None = None, m_escape: float = M_ESCAPE_LA):
    """Figure (a) for l_a, as :func:`figure_a` for the plain loss
    (:func:`dmft.plotting.plot_phase_diagram`). Left: ``log max_{t <= T_LA} G(t)`` of the
    shipped growth factors (:func:`dmft.growth.log_G_horizon`) with the levels
    ``log(sqrt(N) m_escape / c)`` of the N of the shipped success data, alpha_BBP_init(a)
    (T1), alpha_BBP_TS(a) (T3, band: +- its uncertainty) and t_BBP(alpha) (T2) on a twin
    axis. Right: the predicted alpha_alg(N) (T4, :func:`dmft.growth.threshold_at_horizon`;
    band: +-1 s.e.) against the measured alpha_50(N) at the same horizon of every shipped
    ``data/success_la<a:g>_N*.npz`` (:func:`success_curves_la`).

    ``bbp``: a dict of the format of ``data/bbp_times.json`` (its alpha_BBP_TS is drawn);
    default the shipped ``data/bbp_times_la<a:g>.json`` (:func:`dmft.bbp.reference_bbp`)
    with the best shipped alpha_BBP_TS (:func:`dmft.bbp.shipped_alpha_bbp_ts`: the
    t -> infinity extrapolation when shipped). ``m_escape``: the
    escape overlap of T4 (default :data:`M_ESCAPE_LA`). FileNotFoundError if the growth
    factors or BBP data of this a are not shipped.
    """
    from dmft import plotting
    from dmft.bbp import reference_bbp, shipped_alpha_bbp_ts
    from dmft.growth import reference_growth, threshold_at_horizon
    from dmft.thresholds import alpha_bbp_init

    if bbp is None:  # the shipped t_BBP and the best shipped alpha_BBP_TS
        bbp, best = reference_bbp(a=a), shipped_alpha_bbp_ts(a=a)
        ts = {"value": best["value"], "error": best["error"]}
    else:
        ts = dict(zip(("value", "error"), bbp["alpha_bbp_ts"], strict=True))
    growths = reference_growth(a=a)
    curves = success_curves_la(a)
    horizon = min([T_LA, float(growths[0].t[-1])] + [c.t_max for c in curves])
    Ns = [c.N for c in curves] or [1e2, 1e3, 1e4]
    thr = threshold_at_horizon(Ns, growths, horizon, m_escape=m_escape)
    fits = [c.fit_at(horizon) for c in curves]
    measured = (Ns, [f.alpha_50 for f in fits], [f.alpha_50_err for f in fits]) if curves \
        else None
    return plotting.plot_phase_diagram(
        thr, alpha_bbp_init(a=a).alpha, t_bbp=bbp["t_bbp"],
        alpha_ts=(ts["value"], ts["error"]), horizon=horizon, measured=measured,
        level_labels=True, legends_below=True,
        title=f"l_a, a = {a:g} (prox GD, eta = dt = {DT_LA:g})",
        predicted_label=f"predicted alpha_alg(N) (T4, band +-1 s.e.),\nm_escape = {m_escape:g}"
                        + (" (measured at N = 250-1000)" if m_escape == M_ESCAPE_LA else ""),
        measured_label=f"measured alpha_50(N) at t = {horizon:g} (GD)")
