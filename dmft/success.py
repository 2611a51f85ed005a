"""Finite-N success probability of gradient descent from random starts (validation, T4).

This module runs the finite-N simulator (:func:`dmft.simulate.simulate`) to measure the
success rate of gradient descent (E5) from uniformly random starts, per alpha, with Wilson
intervals and the empirical 50 % point alpha_50(N) (:mod:`dmft.stats`), and confronts it with
the prediction of the linear growth (:mod:`dmft.growth`): :func:`implied_m_escape` is the
one constant ``m_escape`` that puts the predicted 50 % point on the measured one.
:func:`reference_success` reads the shipped curves (``data/success_N*.npz``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmft import _checks, _data
from dmft._io import load_npz, save_npz
from dmft.growth import C_MEDIAN, GrowthFactor, log_G_horizon
from dmft.stats import LogisticFit, fit_alpha_50, wilson_interval
from dmft.sweeps import sweep

__all__ = ["SuccessCurve", "success_probability", "implied_m_escape", "reference_success"]


@dataclass
class SuccessCurve:
    """Success probability of gradient descent from uniformly random starts vs alpha (T4).

    Every figure "success probability vs alpha with Wilson bars" reads straight off the
    arrays: ``errorbar(alphas, rate, yerr=(rate - ci_low, ci_high - rate))``, with the
    empirical ``alpha_50`` and, for comparison, ``alpha_alg(N)`` of
    :func:`dmft.growth.alpha_alg`.

    Attributes
    ----------
    N : int
        Dimension.
    alphas : (p,) array
        Sample ratios.
    successes, trials : (p,) int arrays
        Successful runs (``|m(t_max)| > success_threshold``) and runs, one independent
        dataset, teacher and start per run.
    rate, ci_low, ci_high : (p,) arrays
        ``successes / trials`` and its Wilson interval (:func:`wilson_interval`).
    t_max, eta : float
        Duration and step of gradient descent (E5).
    alpha_50, alpha_50_err : float
        Empirical 50 % point and its error (:func:`fit_alpha_50`).
    t_hit : (p, runs) array
        First recorded time with ``|m| > success_threshold`` (inf if never): the success
        rate with a shorter ``t_max`` is ``mean(t_hit <= t)`` (see :meth:`rate_at`).
    confidence, success_threshold : float
    width, deviance : float
        Logistic scale and deviance of the fit; ``separated`` flags a (quasi-)separated fit.
    separated : bool
    seed : int
    """

    N: int
    alphas: np.ndarray
    successes: np.ndarray
    trials: np.ndarray
    rate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    t_max: float
    eta: float
    alpha_50: float
    alpha_50_err: float
    t_hit: np.ndarray
    confidence: float = 0.95
    success_threshold: float = 0.9
    width: float = float("nan")
    deviance: float = float("nan")
    separated: bool = False
    seed: int = 0

    _ARRAYS = ("alphas", "successes", "trials", "rate", "ci_low", "ci_high", "t_hit")

    def rate_at(self, t: float) -> np.ndarray:
        """Fraction of runs that had reached ``|m| > success_threshold`` by time ``t``."""
        return np.mean(self.t_hit <= t, axis=1)

    def fit_at(self, t: float) -> LogisticFit:
        """50 % point of the success curve had the runs stopped at ``t <= t_max``.

        Escape times have a long tail near the transition, so ``alpha_50`` drifts with
        ``t_max``; comparing ``fit_at(t_max / 2)`` with :attr:`alpha_50` measures the drift.
        """
        return fit_alpha_50(self.alphas, np.sum(self.t_hit <= t, axis=1), self.trials)

    def save(self, path: str | Path) -> Path:
        """Write a self-describing ``.npz`` (``kind="success-curve"``); returns the path."""
        arrays = {name: np.asarray(getattr(self, name)) for name in self._ARRAYS}
        meta = {name: getattr(self, name) for name in
                ("N", "t_max", "eta", "alpha_50", "alpha_50_err", "confidence",
                 "success_threshold", "width", "deviance", "separated", "seed")}
        return save_npz(path, "success-curve", arrays, meta)

    @classmethod
    def load(cls, path: str | Path) -> SuccessCurve:
        """Read a file written by :meth:`save`."""
        arrays, meta = load_npz(path, kind="success-curve")
        kw = {name: meta[name] for name in
              ("N", "t_max", "eta", "alpha_50", "alpha_50_err", "confidence",
               "success_threshold", "width", "deviance", "separated", "seed")}
        return cls(**arrays, **kw)


def success_probability(N: int, alphas: Sequence[float], runs: int = 40, t_max: float = 20.0,
                        eta: float = 0.01, seed: int = 0, success_threshold: float = 0.9,
                        confidence: float = 0.95, executor: Executor | None = None,
                        cache_dir: str | Path | None = None,
                        progress: bool = True) -> SuccessCurve:
    """Success rate of gradient descent (E5) from uniformly random starts, vs alpha (T4).

    For each alpha, ``runs`` independent problems (E1-E3: teacher, data and a uniformly
    random start with ``|m0| ~ 1/sqrt(N)``, ``m0=None``) are run by
    :func:`dmft.simulate.simulate` (``seeds=runs``, ``replicas=1``); the alphas go through
    :func:`dmft.sweeps.sweep` (parallel, cached per alpha). Each alpha has its own seed derived from
    ``(seed, N, alpha)``, so the points are independent and a point does not depend on the
    other alphas of the sweep.

    Defaults and why (measurements on the shared 2-core machine):

    * ``t_max = 20``. A first look (6 runs each at N = 500, alpha = 6, 8, 10, t_max = 40):
      successful runs reach ``|m| > 0.9`` at t = 0.6-7.2, failed ones sit at
      ``|m| = 0.16-0.4`` until t = 40. With 40 runs per alpha at N = 250 and 500 the median
      escape time (first ``|m| > 0.9``) grows with N as the ``log(sqrt N) / rate`` escape of
      T4 says, and grows towards the threshold: alpha = 5: 2.9 -> 5.1, alpha = 6:
      2.05 -> 3.4, alpha = 7: 1.2 -> 1.9, alpha = 10: 0.6 -> 0.6. t_max = 20 is about 4x
      the median escape time at the 50 % point for N <= 500 (and leaves room for the
      log N growth), while failures, which run to t_max, set the cost. The escape times
      have a tail, though: at every alpha a few runs escape only at t = 10-20, so the rate
      is defined at the stated t_max, not converged in it; :meth:`SuccessCurve.rate_at`
      and :meth:`SuccessCurve.fit_at` measure the drift (alpha_50 at t_max / 2 vs t_max).
      Measured drift (alpha_50 at t = 10 minus at t = 20): 0.26 +- 0.2 (N = 250),
      0.30 +- 0.2 (N = 500), 0.64 +- 0.2 (N = 1000, 24 runs): it grows with N, so for
      N >= 1000 raise t_max (cost grows linearly) or quote alpha_50 with its t_max.
    * ``eta = 0.01``: the Lanczos lower bound of ``lambda_max`` (H1) at the start is 45-67
      for alpha = 6-15 and N = 500-2000, so ``eta lambda_max`` is about 0.5-0.7 < 2; halving
      eta to 0.005 reproduced every run's outcome and its escape time (to the 0.2 recording
      grid) at N = 500, alpha = 6 and 8 (12 runs).

    Parameters
    ----------
    N : int
        Dimension.
    alphas : sequence of float
        Sample ratios, covering the transition (both successes and failures are needed for
        ``alpha_50``).
    runs : int
        Independent runs per alpha (Wilson half-width about ``1/sqrt(runs)`` at p = 1/2).
    t_max, eta : float
        Duration and step of gradient descent.
    seed : int
        Root seed.
    success_threshold : float
        Success means ``|m(t_max)| > success_threshold``.
    confidence : float
        Level of the Wilson intervals.
    executor, cache_dir :
        As in :func:`dmft.sweeps.sweep` (e.g. a ``dask.distributed.Client``).
    progress : bool
        Show a tqdm bar over alphas (stderr).

    Returns
    -------
    SuccessCurve
        If no run succeeds or none fails, ``alpha_50`` is NaN.
    """
    N = _checks.integer("N", N, 2)
    runs = _checks.integer("runs", runs, 1)
    seed = _checks.integer("seed", seed, 0)
    t_max, eta = _checks.positive("t_max", t_max), _checks.positive("eta", eta)
    success_threshold = _checks.in_range("success_threshold", success_threshold, 0.0, 1.0)
    a = _checks.finite_array("alphas", alphas, ndim=1)
    if np.unique(a).size != a.size:
        raise ValueError("alphas must be distinct (a point's seed depends on its alpha: "
                         "raise runs instead of repeating an alpha)")
    params = {"N": N, "runs": runs, "t_max": t_max, "eta": eta, "seed": seed,
              "success_threshold": success_threshold}
    points = sweep(_success_point, a.tolist(), executor=executor, cache_dir=cache_dir,
                   progress=progress, desc=f"success N={N}", **params)
    k = np.array([int(np.sum(p["success"])) for p in points])
    n = np.array([p["success"].size for p in points])
    return _make_curve(N, a, k, n, np.array([p["t_hit"] for p in points]), confidence,
                       params)


def _make_curve(N, a, k, n, t_hit, confidence, params) -> SuccessCurve:
    low, high = wilson_interval(k, n, confidence)
    try:
        fit = fit_alpha_50(a, k, n)
    except ValueError:  # all successes or all failures
        fit = LogisticFit(alpha_50=np.nan, alpha_50_err=np.nan, width=np.nan,
                          width_err=np.nan, deviance=np.nan)
    return SuccessCurve(N=N, alphas=a, successes=k, trials=n, rate=k / n, ci_low=low,
                        ci_high=high, t_max=params["t_max"], eta=params["eta"],
                        alpha_50=fit.alpha_50, alpha_50_err=fit.alpha_50_err, t_hit=t_hit,
                        confidence=confidence,
                        success_threshold=params["success_threshold"], width=fit.width,
                        deviance=fit.deviance, separated=fit.separated, seed=params["seed"])


def _point_seed(seed: int, N: int, alpha: float) -> int:
    """Independent integer seed of the point (seed, N, alpha)."""
    ss = np.random.SeedSequence([seed, N, int(round(alpha * 1e6))])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def _success_point(alpha: float, N: int, runs: int, t_max: float, eta: float, seed: int,
                   success_threshold: float) -> dict[str, np.ndarray]:
    from dmft.simulate import simulate

    res = simulate(alpha, N, m0=None, t_max=t_max, eta=eta, seeds=runs, replicas=1,
                   seed=_point_seed(seed, N, alpha), record_every=max(eta, 0.1),
                   success_threshold=success_threshold)
    if res.status == -1:
        raise RuntimeError(f"simulate failed at alpha={alpha}, N={N}: {res.message}")
    above = np.abs(res.m) > success_threshold
    t_hit = np.where(above.any(axis=1), res.t[np.argmax(above, axis=1)], np.inf)
    return {"success": res.success, "t_hit": t_hit, "m_final": res.m[:, -1]}


def implied_m_escape(curve: SuccessCurve, growths: Sequence[GrowthFactor],
                     c: float = C_MEDIAN) -> tuple[float, float]:
    """The ``m_escape`` that puts the predicted 50 % point on a measured one (T4).

    ``m_escape = c G_h(alpha_50) / sqrt(N)`` with ``G_h`` the growth up to the curve's
    ``t_max`` (capped at the end of G), interpolated linearly in alpha in ``log G_h``; the
    error propagates ``alpha_50_err`` through the local slope. If the log N law of T4 holds,
    the values implied by different N agree.
    """
    a = np.array([g.alpha for g in growths])
    if not a.min() <= curve.alpha_50 <= a.max():
        raise ValueError(f"alpha_50 = {curve.alpha_50:g} (N = {curve.N}) is not inside the "
                         f"growth factors' alphas [{a.min():g}, {a.max():g}]: widen the "
                         "sweep, or the success curve has no 50 % point (all runs succeed "
                         "or all fail)")
    horizon = min(curve.t_max, min(g.t[-1] for g in growths))
    lg = np.array([log_G_horizon(g, horizon)[0] for g in growths])
    at = float(np.interp(curve.alpha_50, a, lg))
    slope = float(np.gradient(lg, a)[np.argmin(abs(a - curve.alpha_50))])
    m_esc = c * math.exp(at) / math.sqrt(curve.N)
    return m_esc, m_esc * abs(slope) * curve.alpha_50_err




def reference_success(data: str | Path | None = None) -> list[SuccessCurve]:
    """Shipped finite-N success curves (``data/success_N*.npz``, through :mod:`dmft._data`),
    sorted by N; ``data`` names another folder of such files."""
    folder = _data.data_dir() if data is None else Path(data)
    curves = [SuccessCurve.load(p) for p in folder.glob(_data.SUCCESS_GLOB)]
    if not curves:
        raise FileNotFoundError(f"no {_data.SUCCESS_GLOB} in {folder}")
    return sorted(curves, key=lambda c: c.N)
