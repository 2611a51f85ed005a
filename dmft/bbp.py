"""t_BBP(alpha) (T2) and alpha_BBP_TS (T3) from DMFT trajectories, and their shipped values.

Both read the BBP *margin* of the Hessian along the trajectory: ``max S_PV(s)`` over the
left branch (:class:`dmft.spectrum.Outlier`), positive iff the outlier along w* exists (H6)
and continuous through the transition.

t_BBP (T2)
    Along the DMFT from ``m0 -> 0+`` (``m0 = 1e-10``: the Hessian law at m = 1e-10 is the
    m = 0 law to 1e-10), the first time the outlier (positive BBP margin) is missing from
    the majority of the spectrum times within ``+- smooth * t``
    (:meth:`dmft.spectrum.SpectrumTrajectory.t_bbp`; each spectrum time carries its own
    weight-law noise, and the raw first merge, ``smooth = 0``, is the first downward
    fluctuation, early where the margin approaches 0 slowly). Each run is repeated: on an
    independent seed and on four times the paths (another seed), whose size-weighted mean
    is the value and whose scatter its Monte Carlo error (weight law and kernels), and at
    ``dt -> dt/2`` (time discretisation, added in quadrature; :func:`pool_t_bbp`);
    ``m0 -> m0_check`` is reported to show that the result does not depend on m0.

alpha_BBP_TS (T3)
    Two routes on long m0 -> 0+ runs at several alphas, each giving the alpha where an
    order parameter of the late-time (threshold-state) limit changes sign:

    * spectral: the margin averaged over the late window ``[t_max/2, t_max]``;
    * dynamical: the asymptotic growth rate of the signal, ``r_inf``, from the growth
      factor ``G = m/m0`` (tangent DMFT): with ``r(t) = d log G/dt`` measured on the windows
      ``[t_max/4, t_max/2]`` and ``[t_max/2, t_max]`` and the ansatz
      ``r(t) = r_inf + b/t`` (algebraic growth ``G ~ t^b`` among marginal states gives
      ``r_inf = 0``; a surviving outlier gives ``r_inf = -lam_out > 0``).

    Each order parameter is fitted linearly in alpha (weighted least squares on the alphas
    bracketing its last upward sign change and one neighbour on each side) and its root is
    the route's estimate (NaN if it never crosses); the quoted value is the inverse-variance
    mean of the routes that cross, its uncertainty the mean's error scaled up by
    ``sqrt(chi^2 / (n - 1))`` when the routes disagree beyond their errors. The late
    margin carries a systematic error from the population size (``margin_sys``,
    measured), added in quadrature.

Loss and step: every function takes ``a`` (None: the plain loss E4; else l_a of E4a) and
``scheme`` (``"explicit"``/``"prox"``, :func:`dmft.solver.solve`), carried by the records;
the spectra follow the solution's loss (:func:`dmft.spectrum.spectrum_along`). For the
steps l_a needs see :mod:`dmft.growth`. For l_a the solver's default ``n_response="auto"``
uses all paths (its response tail lives in the stiff paths).

:func:`reference_bbp` reads the shipped values (``data/bbp_times.json``, or
``data/bbp_times_la<a>.json`` for l_a, through :mod:`dmft._data`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dmft import _checks, _data
from dmft.growth import Scheme, _loss_a, loss_for
from dmft.solver import solve
from dmft.spectrum import SMOOTH_T_BBP
from dmft.stats import median_interval
from dmft.sweeps import sweep

__all__ = ["t_bbp", "BBPTime", "pool_t_bbp", "pool_seed_ensemble", "alpha_bbp_ts",
           "ThresholdStates", "reference_bbp", "shipped_alpha_bbp_ts"]

_M0 = 1e-10


class _RunLoss:
    """The loss and step of the DMFT runs behind a record, read from its ``params``."""

    params: dict

    @property
    def a(self) -> float | None:
        """Normalisation of l_a (E4a); None for the plain loss (E4)."""
        return self.params.get("a")

    @property
    def scheme(self) -> str:
        """Step of the DMFT runs (``"explicit"`` or ``"prox"``)."""
        return self.params.get("scheme", "explicit")


# ---------------------------------------------------------------------------- T2
@dataclass
class BBPTime(_RunLoss):
    """t_BBP(alpha) (T2) with its refinements.

    Attributes
    ----------
    alpha : float
        Sample ratio.
    t_bbp : float
        Time the outlier merges with the bulk (GD time units): the mean of the three
        independent populations (``base``, ``seed+1``, ``4S``) weighted by their sizes
        (1, 1, 4); ``inf`` if it survives up to ``t_max`` in all three; 0 if there is none
        at t = 0 (:func:`pool_t_bbp`).
    error : float
        ``sqrt(stat^2 + dt_shift^2)`` (NaN where some but not all populations merge).
    stat_error : float
        Monte Carlo error of the mean from the weighted scatter of the three (2 degrees of
        freedom).
    dt_shift : float
        ``|t_bbp(dt/2) - t_bbp(dt)|`` on the base population (time discretisation).
    variants : dict
        ``t_bbp`` of every run: ``base``, ``dt/2``, ``seed+1``, ``m0=<m0_check>``, ``4S``.
    t, margin, lam_out, hard_edge : arrays
        The base run's spectrum times, BBP margin, outlier and hard edge (H4', NaN
        without one; Riemannian).
    returns : bool
        Whether the outlier is back at the majority of the spectrum times of some window
        after t_bbp within t_max (the margin stays within noise of 0: t_bbp is then the
        first merge and noise-limited).
    params : dict
        The runs' parameters, with ``a`` (None: plain loss) and ``scheme``.
    """

    alpha: float
    t_bbp: float
    error: float
    variants: dict[str, float]
    t: np.ndarray
    margin: np.ndarray
    lam_out: np.ndarray
    hard_edge: np.ndarray
    returns: bool
    params: dict = field(default_factory=dict)
    stat_error: float = math.nan
    dt_shift: float = math.nan

    @property
    def m0_shift(self) -> float:
        """``|t_bbp(m0_check) - t_bbp(m0)|``: the m0 dependence (should be ~0)."""
        key = next(k for k in self.variants if k.startswith("m0="))
        return abs(self.variants[key] - self.variants["base"])


def _bbp_run(alpha, t_max, dt, n_samples, m0, seed, every, n_response, a, scheme):
    from dmft.spectrum import spectrum_along

    times = np.arange(0.0, t_max + 1e-9, every)
    sol = solve(alpha, m0, t_max, dt=dt, n_samples=n_samples, seed=seed, n_response=n_response,
                sample_times=times, loss=loss_for(a, scheme), scheme=scheme)
    if sol.status != 0:
        raise RuntimeError(f"DMFT for t_BBP(alpha={alpha:g}, dt={dt:g}) failed: {sol.message}")
    return spectrum_along(sol, sol.sample_times)


def t_bbp(alpha: float, t_max: float = 3.0, dt: float = 0.02, n_samples: int = 8000,
          m0: float = _M0, m0_check: float = 1e-4, seed: int = 0, every: float = 0.05,
          n_response: int | None | str = "auto", a: float | None = None,
          scheme: Scheme = "explicit", smooth: float = SMOOTH_T_BBP) -> BBPTime:
    """Time at which the BBP outlier along w* merges with the bulk (T2), with refinements.

    Parameters
    ----------
    alpha : float
        Sample ratio M/N (above alpha_BBP_init, else ``t_bbp = 0``).
    t_max : float
        Horizon; ``t_bbp = inf`` if the outlier survives it.
    dt, n_samples, seed, n_response :
        Base run of :func:`dmft.solver.solve`; variants use ``dt/2``, ``seed + 1`` and
        ``4 n_samples`` (with ``seed + 2``). ``n_response="auto"``: every path (the
        solver's default since issue 15; the shipped plain-loss values used 2000 response
        paths and 4 groups).
    a : float, optional
        Normalisation of l_a (E4a); None: the plain loss (E4).
    scheme : {"explicit", "prox"}
        Step of the DMFT (l_a at a = 0.01 needs ``"prox"`` with dt <= 0.01, or explicit
        dt ~ 1e-3: :mod:`dmft.growth`).
    m0, m0_check : float
        Small initial overlaps (the m0 -> 0+ limit and its check).
    every : float
        Spacing of the spectrum times (the margin is interpolated between them).
    smooth : float
        Half width of the majority window relative to t (0: the raw first merge of
        earlier versions).
    """
    alpha = _checks.positive("alpha", alpha)
    t_max = _checks.positive("t_max", t_max)
    every = _checks.positive("every", every)
    if _checks.finite("smooth", smooth) < 0:
        raise ValueError(f"smooth must be >= 0 (0: the raw first merge), got {smooth!r}")
    if every < dt - 1e-12:
        raise ValueError(f"every={every} must be >= dt={dt}: spectra need solver times")
    a = _loss_a(a, scheme)
    common = {"alpha": alpha, "t_max": t_max, "n_samples": n_samples, "every": every,
              "n_response": n_response, "a": a, "scheme": scheme}
    runs = {
        "base": _bbp_run(dt=dt, m0=m0, seed=seed, **common),
        "dt/2": _bbp_run(dt=dt / 2, m0=m0, seed=seed, **common),
        "seed+1": _bbp_run(dt=dt, m0=m0, seed=seed + 1, **common),
        f"m0={m0_check:g}": _bbp_run(dt=dt, m0=m0_check, seed=seed, **common),
    }
    runs["4S"] = _bbp_run(dt=dt, m0=m0, seed=seed + 2, **{**common, "n_samples": 4 * n_samples})
    variants = {k: _first_merge(tr, smooth) for k, tr in runs.items()}
    base = runs["base"]
    tb, stat, dt_shift, err = pool_t_bbp(variants)
    after = base.presence(smooth)[base.t > tb]  # empty when tb = inf
    return BBPTime(alpha=alpha, t_bbp=tb, error=err, variants=variants, t=base.t,
                   margin=base.margin, lam_out=base.lam_out, hard_edge=base.hard_edge,
                   returns=bool(np.any(after > 0)), stat_error=stat,
                   dt_shift=dt_shift,
                   params={"dt": dt, "m0": m0, "seed": seed, "smooth": smooth, **common})


# relative sizes of the independent populations of t_bbp's runs
POOL_WEIGHTS = {"base": 1.0, "seed+1": 1.0, "4S": 4.0}


def pool_t_bbp(variants: dict[str, float]) -> tuple[float, float, float, float]:
    """t_BBP from the runs of :func:`t_bbp`: ``(value, stat_error, dt_shift, error)``.

    ``value``: the mean of the independent populations ``base``, ``seed+1`` and ``4S``
    weighted by their sizes (the Monte Carlo variance of a run's t_BBP goes as 1/S);
    ``stat_error``: its standard error from their weighted scatter, ``sqrt(sum w (x -
    mean)^2 / (2 sum w))``; ``dt_shift``: ``|variants["dt/2"] - variants["base"]|`` (same
    seed); ``error = sqrt(stat_error^2 + dt_shift^2)``. Where some but not all of the three
    merge within the horizon, ``value`` is the base run's and the errors are NaN; where
    none does, ``value`` is ``inf``.
    """
    x = np.array([variants[k] for k in POOL_WEIGHTS])
    w = np.array(list(POOL_WEIGHTS.values()))
    if not np.all(np.isfinite(x)):
        value = math.inf if not np.any(np.isfinite(x)) else float(variants["base"])
        return value, math.nan, math.nan, math.nan
    mean = float(np.sum(w * x) / w.sum())
    stat = math.sqrt(float(np.sum(w * (x - mean) ** 2)) / ((x.size - 1) * w.sum()))
    dt_shift = abs(variants["dt/2"] - variants["base"])
    return mean, stat, dt_shift, math.hypot(stat, dt_shift)


def pool_seed_ensemble(runs: Sequence[dict]) -> dict:
    """t_BBP of one alpha from many independent populations at several steps.

    ``runs``: dicts with ``dt`` and ``t_bbp`` (one population each, the format of
    ``benchmarks/tbbp_seeds.py`` and ``data/tbbp_seeds_la<a>.json``). Per step the mean and
    its standard error, per halving of the step their change. If no change exceeds 2 of its
    errors the steps are pooled (``t``: mean of all runs, ``error`` its standard error),
    else ``t`` is the smallest step's mean and ``error`` adds the last change in
    quadrature. One population's merge time scatters by 0.2-0.45 at a = 0.01, alpha = 3-3.5
    (S = 8000): the mean of many is what has an error below 0.1.

    The merge times are heavy-tailed near alpha_BBP_TS (a = 0.01, alpha = 3.5: single
    populations up to 2-3x the median), so the median of the same runs (all of them when
    pooled, else the smallest step) is given too, with the half-width of its
    distribution-free 68 % interval between order statistics (:func:`dmft.stats.median_interval`).

    Runs not merged by their horizon (``t_bbp`` = inf, horizon ``t_max``) are right-censored:
    the mean is undefined, so the same rules run on the medians (``estimator = "median"``,
    else ``"mean"``; ``steps``, ``halvings``, ``t``, ``error`` then hold medians and
    interval half-widths), exact while the censored runs sort above the interval.

    Returns
    -------
    dict
        ``t``, ``error``, ``estimator``, ``pooled``, ``n_runs``, ``n_censored``, ``median``,
        ``median_error``, ``steps`` (``{dt: [centre, error, n]}``) and ``halvings`` (``[dt,
        dt_next, change, error]`` per halving).

    Raises
    ------
    ValueError
        A step has fewer than two runs; a censored run without its ``t_max``; too many
        censored runs to fix the median.
    """
    t = np.array([r["t_bbp"] for r in runs], dtype=float)
    censored = ~np.isfinite(t)
    if any(c and "t_max" not in r for r, c in zip(runs, censored, strict=True)):
        raise ValueError("a run beyond its horizon (t_bbp = inf) needs its horizon t_max")
    estimator = "median" if censored.any() else "mean"
    steps, halvings = _ensemble_steps(runs, estimator)
    few = [dt for dt, (_, _, n) in steps.items() if n < 2]
    if few:
        raise ValueError(f"dt = {few} has a single run: need two or more per step")
    keys = list(steps)
    pooled = all(abs(d) <= 2 * e for *_, d, e in halvings)
    kept = list(runs) if pooled else [r for r in runs if r["dt"] == keys[-1]]
    value, error = _centre(kept, estimator)
    median, median_error = (value, error) if estimator == "median" else _centre(kept, "median")
    if not pooled:
        error = math.hypot(error, halvings[-1][2])
    return {"t": value, "error": error, "estimator": estimator, "pooled": pooled,
            "n_runs": int(t.size), "n_censored": int(censored.sum()),
            "median": median, "median_error": median_error,
            "steps": steps, "halvings": halvings}


def _centre(runs: Sequence[dict], estimator: str) -> tuple[float, float]:
    """(mean, standard error) or (median, half-width of its 68 % interval, censored runs
    at their ``t_max``) of two or more runs' ``t_bbp``."""
    x = np.array([r["t_bbp"] for r in runs], dtype=float)
    if estimator == "median":
        return median_interval(x, horizons=[r.get("t_max", math.inf) for r in runs])
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def _ensemble_steps(runs: Sequence[dict], estimator: str = "mean") -> tuple[dict, list]:
    """Per step (largest first) ``[centre, error, n]`` of ``t_bbp`` (:func:`_centre`) and
    per halving ``[dt, dt_next, change of the centre, its error]``; the statistics of
    :func:`pool_seed_ensemble`, also printed by ``benchmarks/tbbp_seeds.py``."""
    steps = {}
    for dt in sorted({float(r["dt"]) for r in runs}, reverse=True):
        sel = [r for r in runs if r["dt"] == dt]
        steps[dt] = ([*_centre(sel, estimator), len(sel)] if len(sel) > 1
                     else [float(sel[0]["t_bbp"]), math.nan, 1])
    keys = list(steps)
    halvings = [[big, small, steps[small][0] - steps[big][0],
                 math.hypot(steps[small][1], steps[big][1])]
                for big, small in zip(keys[:-1], keys[1:], strict=True)]
    return steps, halvings


def _first_merge(traj, smooth: float) -> float:
    tb = traj.t_bbp(smooth)
    return math.inf if math.isnan(tb) else tb


# ---------------------------------------------------------------------------- T3
@dataclass
class ThresholdStates(_RunLoss):
    """alpha_BBP_TS (T3): late-time order parameters vs alpha and their zero crossings.

    Attributes
    ----------
    alphas : (p,) array
    margin_late, margin_late_sem : (p,) arrays
        BBP margin averaged over ``[t_max/2, t_max]`` and its standard error (spread over
        the window's spectrum times, which carry independent weight-law noise).
    rate_inf, rate_inf_sem : arrays
        Extrapolated asymptotic growth rate of m/m0 (module docstring) and its error, at
        ``params["rate_alphas"]`` (the alphas of ``growths`` when given).
    alpha_margin, alpha_margin_err, alpha_rate, alpha_rate_err : float
        Zero crossings of the two linear fits and their propagated errors.
    alpha, error : float
        Combined estimate and uncertainty (module docstring).
    method : str
        The method, in words, for reports.
    params : dict
        The runs' parameters, with ``a`` (None: plain loss) and ``scheme``.
    """

    alphas: np.ndarray
    margin_late: np.ndarray
    margin_late_sem: np.ndarray
    rate_inf: np.ndarray
    rate_inf_sem: np.ndarray
    alpha_margin: float
    alpha_margin_err: float
    alpha_rate: float
    alpha_rate_err: float
    alpha: float
    error: float
    method: str
    params: dict = field(default_factory=dict)


def _ts_point(alpha: float, t_max: float, dt: float, n_samples: int, seed: int,
              every: float, a: float | None = None,
              scheme: Scheme = "explicit") -> dict[str, np.ndarray]:
    from dmft.spectrum import spectrum_along

    times = np.arange(0.0, t_max + 1e-9, every)
    sol = solve(alpha, _M0, t_max, dt=dt, n_samples=n_samples, seed=seed, sample_times=times,
                loss=loss_for(a, scheme), scheme=scheme, tangent=True)
    if sol.status != 0:
        raise RuntimeError(f"DMFT for alpha_BBP_TS at alpha={alpha:g} failed: {sol.message}")
    tr = spectrum_along(sol, sol.sample_times)
    return {"t": sol.t, "G": sol.m / _M0, "G_sem": sol.m_sem / _M0, "t_spec": tr.t,
            "margin": tr.margin}


def _late_margin(t, margin, t_max) -> tuple[float, float]:
    late = margin[(t >= t_max / 2) & np.isfinite(margin)]
    return float(late.mean()), float(late.std(ddof=1) / math.sqrt(late.size))


def _window_rate(t, G, G_sem, a, b) -> tuple[float, float]:
    """Slope of log G between t = a and t = b and its error from the end points."""
    ia, ib = int(np.argmin(abs(t - a))), int(np.argmin(abs(t - b)))
    rate = math.log(G[ib] / G[ia]) / (t[ib] - t[ia])
    err = math.hypot(G_sem[ia] / G[ia], G_sem[ib] / G[ib]) / (t[ib] - t[ia])
    return rate, err


def _rate_inf(t, G, G_sem, t_max) -> tuple[float, float]:
    if np.any(G <= 0):
        return math.nan, math.nan
    r1, e1 = _window_rate(t, G, G_sem, t_max / 4, t_max / 2)
    r2, e2 = _window_rate(t, G, G_sem, t_max / 2, t_max)
    t1, t2 = 3 * t_max / 8, 3 * t_max / 4  # window midpoints
    # r(t) = r_inf + b / t through the two windows
    r_inf = (r2 * t2 - r1 * t1) / (t2 - t1)
    return r_inf, math.hypot(e2 * t2, e1 * t1) / (t2 - t1)


def _root_linear(a, y, err) -> tuple[float, float]:
    """Root of the weighted least-squares line through (a, y +- err) near the last upward
    sign change (the bracketing pair and one neighbour on each side), with its error; NaN
    when y does not change sign over the swept alphas. The order parameter must stay
    positive above the threshold, so an earlier up-crossing that is followed by a return
    below zero is noise."""
    ok = np.isfinite(y) & np.isfinite(err) & (err > 0)
    a, y, err = a[ok], y[ok], err[ok]
    up = np.flatnonzero((y[:-1] < 0) & (y[1:] >= 0))
    if up.size == 0:
        return math.nan, math.nan
    sel = slice(max(0, up[-1] - 1), up[-1] + 3)
    a, y, w = a[sel], y[sel], 1.0 / err[sel] ** 2
    A = np.vstack([np.ones(a.size), a]).T
    cov = np.linalg.inv(A.T @ (A * w[:, None]))
    c0, c1 = cov @ (A.T @ (w * y))
    if c1 <= 0:
        return math.nan, math.nan
    root = -c0 / c1
    grad = np.array([-1.0 / c1, c0 / c1**2])
    return float(root), float(math.sqrt(grad @ cov @ grad))


def _combine(*routes: tuple[float, float]) -> tuple[float, float]:
    """Inverse-variance mean of the finite ``(value, error)`` routes and its error, scaled
    up by ``sqrt(chi^2 / (n - 1))`` when the routes disagree beyond their errors (the
    Particle Data Group rule); NaN, NaN if no route is finite."""
    ok = [(v, e) for v, e in routes if math.isfinite(v) and math.isfinite(e) and e > 0]
    if not ok:
        return math.nan, math.nan
    v, e = np.array(ok).T
    w = 1.0 / e**2
    est = float(np.sum(w * v) / np.sum(w))
    chi2 = float(np.sum(w * (v - est) ** 2))
    scale = math.sqrt(max(1.0, chi2 / (v.size - 1))) if v.size > 1 else 1.0
    return est, scale / math.sqrt(float(np.sum(w)))


def alpha_bbp_ts(alphas: Sequence[float] = (9.0, 10.0, 11.0, 12.0, 13.0), t_max: float = 10.0,
                 dt: float = 0.02, n_samples: int = 4000, seed: int = 0, every: float = 0.25,
                 margin_sys: float = 0.45, growths: Sequence | None = None,
                 executor: Executor | None = None, cache_dir: str | Path | None = None,
                 progress: bool = True, a: float | None = None,
                 scheme: Scheme = "explicit") -> ThresholdStates:
    """alpha_BBP_TS (T3): where the outlier survives the threshold-state limit.

    Runs the DMFT from ``m0 = 1e-10`` to ``t_max`` at every alpha (in parallel through
    ``executor``, cached and with a progress bar: :func:`dmft.sweeps.sweep`) and combines the
    spectral and dynamical routes of the module docstring. ``t_max`` must keep
    ``1e-10 G(t) << 1`` (linear regime): ``log G(10) = 16.7`` at alpha = 13.

    Parameters
    ----------
    margin_sys : float
        Systematic error added in quadrature to every late margin: its scatter between
        population sizes, measured 0.4-0.5 at alpha = 10 and 12 (S = 4000-32000, t in
        [2.5, 5]), larger than the within-run standard error (0.15-0.3).
    growths : sequence of GrowthFactor, optional
        Longer growth factors for the rate route (e.g. the shipped ones, t <= 20), of the
        same loss (their ``a`` must be ``a``); default: the G of these runs, windows
        ``[t_max/4, t_max/2]`` and ``[t_max/2, t_max]``.
    a : float, optional
        Normalisation of l_a (E4a); None: the plain loss (E4). The late margin's
        ``margin_sys`` default was measured on the plain loss: pass the value measured for
        l_a (``data/README.md``).
    scheme : {"explicit", "prox"}
        Step of the DMFT (:mod:`dmft.growth` for the steps l_a needs).
    """
    al = np.array([_checks.positive("alpha", x) for x in alphas])
    if al.size < 2:
        raise ValueError("alpha_bbp_ts needs at least two alphas to locate a sign change")
    a_loss = _loss_a(a, scheme)
    if growths is not None and any(g.a != a_loss for g in growths):
        raise ValueError(f"growths of a = {sorted({str(g.a) for g in growths})} given for "
                         f"a = {a_loss}: the rate route needs the growth factors of this loss")
    params = {"t_max": _checks.positive("t_max", t_max), "dt": dt, "n_samples": n_samples,
              "seed": seed, "every": every, "a": a_loss, "scheme": scheme}
    points = sweep(_ts_point, al, executor=executor, cache_dir=cache_dir, progress=progress,
                   desc="alpha_BBP_TS", **params)
    mg = np.array([_late_margin(p["t_spec"], p["margin"], t_max) for p in points])
    mg[:, 1] = np.hypot(mg[:, 1], margin_sys)
    if growths is None:
        ra, rt = al, np.array([_rate_inf(p["t"], p["G"], p["G_sem"], t_max) for p in points])
        t_rate = t_max
    else:
        ra = np.array([g.alpha for g in growths])
        t_rate = float(min(g.t[-1] for g in growths))
        rt = np.array([_rate_inf(g.t, g.G, g.G_sem, t_rate) for g in growths])
    am, am_err = _root_linear(al, mg[:, 0], mg[:, 1])
    ar, ar_err = _root_linear(ra, rt[:, 0], rt[:, 1])
    est, error = _combine((am, am_err), (ar, ar_err))
    method = ("zero crossings (weighted line through the bracketing alphas and one neighbour "
              "each side) of (i) the BBP margin max S_PV averaged over t in "
              f"[{t_max / 2:g}, {t_max:g}] (+- {margin_sys:g} systematic) and (ii) the growth "
              "rate of m/m0 extrapolated as r(t) = r_inf + b/t from the windows "
              f"[{t_rate / 4:g}, {t_rate / 2:g}] and [{t_rate / 2:g}, {t_rate:g}]; estimate = "
              "inverse-variance mean of the routes that cross, error scaled by "
              "sqrt(chi^2/(n-1)) when they disagree beyond their errors")
    return ThresholdStates(alphas=al, margin_late=mg[:, 0], margin_late_sem=mg[:, 1],
                           rate_inf=rt[:, 0], rate_inf_sem=rt[:, 1], alpha_margin=am,
                           alpha_margin_err=am_err, alpha_rate=ar, alpha_rate_err=ar_err,
                           alpha=est, error=error, method=method,
                           params={**params, "margin_sys": margin_sys, "t_rate": t_rate,
                                   "rate_alphas": ra.tolist()})


# ---------------------------------------------------------------------------- data
def reference_bbp(path: str | Path | None = None, a: float | None = None) -> dict:
    """Shipped t_BBP(alpha) and alpha_BBP_TS (``data/bbp_times.json``, or
    ``data/bbp_times_la<a>.json`` for l_a; format: ``data/README.md``), with the alphas of
    ``t_bbp`` as floats and ``a`` (None: plain loss) and ``scheme`` always present. Where
    ``data/tbbp_seeds_la<a>.json`` is shipped, its many-seed t_BBP replaces ``t`` and
    ``error`` at its alphas (:func:`pool_seed_ensemble`; the entry's ``seed_ensemble``).

    Parameters
    ----------
    path : path, optional
        Another file of the same format; default: the shipped one for ``a``.
    a : float, optional
        Normalisation of l_a (E4a); None: the plain loss. With ``path``, the file's own
        ``a`` must match.

    Raises
    ------
    FileNotFoundError
        No shipped file for this ``a`` (the message lists the a values shipped).
    ValueError
        ``path`` holds another loss than ``a``.
    """
    a = _loss_a(a, "explicit")  # checked; inf -> None (the plain loss)
    path = _data.shipped_path("bbp_times", ".json", a) if path is None else Path(path)
    d = json.loads(Path(path).read_text())
    d.setdefault("a", None)  # files before l_a: the plain loss, explicit steps
    d.setdefault("scheme", "explicit")
    _data.check_file_a(path, d["a"], a, "values")
    d["t_bbp"] = {float(x): v for x, v in d["t_bbp"].items()}
    shipped = _data.data_dir() / _data.per_a_file("bbp_times", ".json", a)
    if Path(path).resolve() == shipped.resolve():  # the shipped file: with its seed ensembles
        _overlay_seed_ensembles(d, a)
    return d


def _overlay_seed_ensembles(d: dict, a: float | None) -> None:
    """Replace ``t`` and ``error`` of the shipped t_BBP by the many-seed value of
    ``data/tbbp_seeds_la<a>.json`` (:func:`pool_seed_ensemble`) at the alphas it holds; the
    entry keeps its three-population fields and gains ``seed_ensemble`` (the pooled record
    and the file's name)."""
    if a is None:  # ensembles are shipped for l_a only
        return
    seeds = _data.data_dir() / _data.per_a_file("tbbp_seeds", ".json", a)
    if not seeds.is_file():
        return
    runs = json.loads(seeds.read_text())["runs"]
    for alpha in sorted({float(r["alpha"]) for r in runs}):
        pooled = pool_seed_ensemble([r for r in runs if r["alpha"] == alpha])
        entry = d["t_bbp"].setdefault(alpha, {})
        entry.update(t=pooled["t"], error=pooled["error"],
                     seed_ensemble={**pooled, "source": seeds.name})


def shipped_alpha_bbp_ts(a: float | None = None) -> dict:
    """The best shipped alpha_BBP_TS (T3) for ``a`` (None: the plain loss).

    The t -> infinity extrapolation of ``data/bbp_ts_extrapolated[_la<a>].json``
    (``benchmarks/ts_extrapolation.py``; its error includes the extrapolation's) when it is
    shipped, else the finite-horizon value of :func:`reference_bbp` (late window t <= 10,
    which sits high: 12.74 +- 0.30 against 12.1 +- 0.4 for the plain loss).

    Returns
    -------
    dict
        ``value``, ``error``, ``source`` (the file), ``horizon`` (``"t -> infinity"`` or the
        finite window), ``finite_horizon`` (``[value, error]`` of :func:`reference_bbp`,
        or None when no such file is shipped) and ``caveat`` (the file's ``caveat`` entry:
        what the value is not, in words, e.g. not converged in S; None when it has none).

    Raises
    ------
    FileNotFoundError
        Neither file is shipped for this a (the message lists the a values shipped).
    """
    a = _loss_a(a, "explicit")
    missing = None
    try:
        finite = list(reference_bbp(a=a).get("alpha_bbp_ts") or (math.nan, math.nan))
    except FileNotFoundError as exc:
        finite, missing = None, exc
    try:
        path = _data.shipped_path("bbp_ts_extrapolated", ".json", a)
    except FileNotFoundError:
        if missing is not None:
            raise missing from None
        name = _data.per_a_file("bbp_times", ".json", a)
        return {"value": finite[0], "error": finite[1], "source": f"data/{name}",
                "horizon": "late window t <= 10", "finite_horizon": finite, "caveat": None}
    doc = json.loads(path.read_text())
    value, error = doc["alpha_bbp_ts"]
    return {"value": value, "error": error, "source": f"data/{path.name}",
            "horizon": "t -> infinity (extrapolated)", "finite_horizon": finite,
            "caveat": doc.get("caveat")}
