"""Phase diagram in alpha: signal growth factor and the finite-N threshold (THEORY section 4).

Growth factor (T4)
------------------
``G(t; alpha) = lim_{m0 -> 0+} m(t) / m0``. The DMFT of :mod:`dmft.solver` pairs every path
with its antithetic partner ``h* -> -h*``; at ``m0 -> 0`` the symmetric part of a pair is
the m = 0 DMFT (the kernels are even in m) and half the difference of the pair is exactly
the tangent vector of the equations linearised in m. Running the solver at
``m0 = 1e-10`` therefore integrates the m = 0 DMFT together with its tangent equations: the
drift ``alpha E[f h*]`` is evaluated as ``f'(h) dh h*`` pair by pair, with none of the O(1)
noise that makes differences of independent runs useless at small m0 (THEORY section 6).
Linearity holds while ``m0 G << 1``; with ``m0 = 1e-10`` that is ``G << 1e9``, and
floating-point resolution of the pair difference is about ``1e-16 / m0 = 1e-6``.

Finite-N threshold (T4)
-----------------------
A uniformly random start has ``m0 = g / sqrt(N)`` with g standard normal (up to O(1/N)).
While the negative outlier exists m grows as ``m0 G(t)``; a run stopped at ``t_max`` escapes
when ``|m0| G_h`` reaches an O(1) overlap ``m_escape`` from which the non-linear DMFT
recovers the signal, with ``G_h = max_{t <= t_max} G(t)``. Hence the predicted success
probability ``P = 2 Phi(-sqrt(N) m_escape / G_h)`` (:func:`predicted_success`) and its 50 %
point, with ``c = median |g| = 0.6745`` (:data:`C_MEDIAN`),

    log G_h(alpha_alg(N)) = (1/2) log N + log(m_escape / c),

a threshold with log N corrections that tends to alpha_BBP_TS as N -> infinity (where G
diverges). The horizon matters: below alpha_BBP_TS, G keeps growing slowly (measured
``d log G / dt ~ 0.05-0.1`` at t = 5-10 for alpha = 7-9), so G_h must be taken at the
``t_max`` of the experiment it is compared with (:func:`threshold_at_horizon`). ``m_escape``
is the one constant left; the finite-N success rates measure it.

Sweeps over alpha run through any ``concurrent.futures``-style executor (``submit`` and
``result``; e.g. a ``dask.distributed.Client``) and are cached on disk, one ``.npz`` per
point, keyed by the parameters and the package version.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmft import __version__, _checks
from dmft._bbp import BBPTime, ThresholdStates, alpha_bbp_ts, t_bbp
from dmft._io import load_npz, save_npz
from dmft.solver import solve

__all__ = ["GrowthFactor", "growth_factor", "AlgorithmicThreshold", "alpha_alg",
           "invert_growth", "sweep", "reference_growth", "write_reference_growth",
           "wilson_interval", "fit_alpha_50", "LogisticFit", "SuccessCurve",
           "success_probability", "C_MEDIAN", "log_G_horizon", "predicted_success",
           "threshold_at_horizon", "implied_m_escape",
           "t_bbp", "BBPTime", "alpha_bbp_ts", "ThresholdStates"]

_M0_TANGENT = 1e-10

C_MEDIAN = 0.6744897501960817
"""Median of ``sqrt(N) |m0|`` for a uniformly random start (``m0 ~ g/sqrt(N)``, g standard
normal, up to O(1/N)): the ``c`` at which half of the random starts escape."""


@dataclass
class GrowthFactor:
    """Signal growth factor ``G(t; alpha) = m(t) / m0`` as m0 -> 0+ (T4).

    Attributes
    ----------
    alpha : float
        Sample ratio.
    t, G, G_sem : (T,) arrays
        Times, growth factor and its Monte Carlo standard error (independent
        sub-populations of the solver).
    """

    alpha: float
    t: np.ndarray
    G: np.ndarray
    G_sem: np.ndarray

    @property
    def log_G_max(self) -> float:
        """``log max_t G(t)``."""
        return float(np.log(np.max(self.G)))

    @property
    def log_G_max_sem(self) -> float:
        """Standard error of :attr:`log_G_max` (delta method at the maximum)."""
        k = int(np.argmax(self.G))
        return float(self.G_sem[k] / self.G[k])


def growth_factor(alpha: float, t_max: float = 10.0, dt: float = 0.02,
                  n_samples: int = 8000, seed: int = 0, **solve_kwargs) -> GrowthFactor:
    """Growth factor from the m = 0 DMFT and its tangent equations (module docstring).

    Parameters
    ----------
    alpha : float
        Sample ratio M/N.
    t_max, dt, n_samples, seed :
        Passed to :func:`dmft.solver.solve`.
    **solve_kwargs :
        Further options of :func:`dmft.solver.solve` (e.g. ``n_response``).
    """
    sol = solve(alpha, _M0_TANGENT, t_max, dt=dt, n_samples=n_samples, seed=seed,
                **solve_kwargs)
    if sol.status != 0:
        raise RuntimeError(f"DMFT for the growth factor failed: {sol.message}")
    return GrowthFactor(alpha=float(alpha), t=sol.t, G=sol.m / _M0_TANGENT,
                        G_sem=sol.m_sem / _M0_TANGENT)


@dataclass
class AlgorithmicThreshold:
    """Predicted finite-N threshold ``alpha_alg(N)`` (T4).

    Attributes
    ----------
    N : (k,) array
        System sizes.
    alpha_alg : (k,) array
        Predicted thresholds; NaN where ``sqrt(N) m_escape / c`` lies outside the range of
        ``G_max`` over the alphas computed (widen ``alphas``).
    alpha_alg_err : (k,) array
        Propagated Monte Carlo error of ``alpha_alg``.
    alphas, log_G_max, log_G_max_sem : (p,) arrays
        The sweep behind it.
    c, m_escape : float
        Constants of the criterion.
    """

    N: np.ndarray
    alpha_alg: np.ndarray
    alpha_alg_err: np.ndarray
    alphas: np.ndarray
    log_G_max: np.ndarray
    log_G_max_sem: np.ndarray
    c: float
    m_escape: float


def alpha_alg(N: Sequence[float], alphas: Sequence[float] = tuple(range(3, 14)),
              c: float = C_MEDIAN, m_escape: float = 0.5, t_max: float = 10.0,
              dt: float = 0.02,
              n_samples: int = 8000, seed: int = 0, executor: Executor | None = None,
              cache_dir: str | Path | None = None) -> AlgorithmicThreshold:
    """Finite-N threshold from the growth factor: ``log G_max = log(sqrt(N) m_escape / c)``.

    ``log G_max(alpha)`` is interpolated linearly between the swept alphas (it must be
    increasing there; a warning-free NaN marks N outside the swept range).
    """
    _check_sizes(N)  # before any solve
    _checks.positive("c", c)
    _checks.in_range("m_escape", m_escape, 1e-12, 1.0)
    params = {"t_max": t_max, "dt": dt, "n_samples": n_samples, "seed": seed}
    points = sweep(_growth_point, alphas, executor=executor, cache_dir=cache_dir, **params)
    lg = np.array([p["log_G_max"] for p in points])
    lg_err = np.array([p["log_G_max_sem"] for p in points])
    return invert_growth(N, np.asarray(alphas, dtype=float), lg, lg_err, c, m_escape)


def _check_sizes(N: Sequence[float]) -> np.ndarray:
    N = np.atleast_1d(np.asarray(N, dtype=float))
    if N.size == 0 or np.any(N < 2) or not np.all(np.isfinite(N)):
        raise ValueError(f"N must be finite and >= 2, got {N.tolist()}")
    return N


def invert_growth(N: Sequence[float], alphas: np.ndarray, log_G_max: np.ndarray,
                  log_G_max_sem: np.ndarray, c: float = C_MEDIAN,
                  m_escape: float = 0.5) -> AlgorithmicThreshold:
    """Solve ``log G_max(alpha) = log(sqrt(N) m_escape / c)`` by linear interpolation.

    ``log G_max`` must increase between the bracketing alphas; N outside the range of the
    sweep gets NaN rather than an extrapolation.
    """
    N = _check_sizes(N)
    c = _checks.positive("c", c)
    m_escape = _checks.in_range("m_escape", m_escape, 1e-12, 1.0)
    a, lg, lg_err = (np.asarray(x, dtype=float) for x in (alphas, log_G_max, log_G_max_sem))
    target = np.log(np.sqrt(N) * m_escape / c)
    alpha_n = np.full(N.shape, np.nan)
    err = np.full(N.shape, np.nan)
    for i, y in enumerate(target):
        k = np.flatnonzero((lg[:-1] <= y) & (lg[1:] > y))
        if k.size:
            j = k[0]
            slope = (lg[j + 1] - lg[j]) / (a[j + 1] - a[j])
            alpha_n[i] = a[j] + (y - lg[j]) / slope
            err[i] = np.hypot(lg_err[j], lg_err[j + 1]) / slope
    return AlgorithmicThreshold(N=N, alpha_alg=alpha_n, alpha_alg_err=err, alphas=a,
                                log_G_max=lg, log_G_max_sem=lg_err, c=c, m_escape=m_escape)


def log_G_horizon(growth: GrowthFactor, t_max: float) -> tuple[float, float]:
    """``log max_{t <= t_max} G(t)`` and its standard error: the growth available to a run
    stopped at ``t_max`` (below alpha_BBP_TS, G keeps growing slowly, so the horizon of the
    finite-N experiment must be the horizon of G)."""
    if t_max > growth.t[-1] + 1e-9:
        raise ValueError(f"G is known up to t = {growth.t[-1]:g}, asked for t_max = {t_max:g}")
    keep = growth.t <= t_max + 1e-9
    k = int(np.argmax(growth.G[keep]))
    return float(np.log(growth.G[k])), float(growth.G_sem[k] / growth.G[k])


def threshold_at_horizon(N: Sequence[float], growths: Sequence[GrowthFactor], t_max: float,
                         c: float = C_MEDIAN, m_escape: float = 0.5) -> AlgorithmicThreshold:
    """:func:`invert_growth` on ``log max_{t <= t_max} G`` (:func:`log_G_horizon`): the
    alpha_alg(N) of runs stopped at ``t_max``; with ``c = C_MEDIAN`` it is the predicted
    50 % point of the success curve of :func:`predicted_success`."""
    lg, lg_err = np.array([log_G_horizon(g, t_max) for g in growths]).T
    return invert_growth(N, np.array([g.alpha for g in growths]), lg, lg_err, c, m_escape)


def predicted_success(N: float, growths: Sequence[GrowthFactor], t_max: float,
                      m_escape: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Success probability of random starts predicted by the linear growth (T4).

    A uniformly random start has ``m0 = g/sqrt(N)``; it escapes by ``t_max`` when
    ``|m0| G_h >= m_escape`` with ``G_h = max_{t <= t_max} G(t)``:
    ``P = P(|g| >= sqrt(N) m_escape / G_h) = 2 Phi(-sqrt(N) m_escape / G_h)``.

    Returns
    -------
    alphas, p, p_err : arrays
        One entry per growth factor; ``p_err`` propagates the Monte Carlo error of G.
    """
    from scipy.stats import norm

    N = float(_check_sizes([N])[0])
    m_escape = _checks.in_range("m_escape", m_escape, 1e-12, 1.0)
    a = np.array([g.alpha for g in growths])
    lg, lg_err = np.array([log_G_horizon(g, t_max) for g in growths]).T
    x = np.sqrt(N) * m_escape * np.exp(-lg)
    p = 2 * norm.sf(x)
    return a, p, 2 * norm.pdf(x) * x * lg_err


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


def _growth_point(alpha: float, **params) -> dict[str, np.ndarray]:
    g = growth_factor(alpha, **params)
    return {"t": g.t, "G": g.G, "G_sem": g.G_sem, "log_G_max": np.array(g.log_G_max),
            "log_G_max_sem": np.array(g.log_G_max_sem)}


def _cache_path(cache_dir: Path, name: str, alpha: float, params: dict) -> Path:
    key = json.dumps({"f": name, "alpha": float(alpha), "version": __version__, **params},
                     sort_keys=True)
    return cache_dir / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def sweep(func: Callable[..., dict[str, np.ndarray]], alphas: Sequence[float],
          executor: Executor | None = None, cache_dir: str | Path | None = None,
          **params) -> list[dict[str, np.ndarray]]:
    """Evaluate ``func(alpha, **params)`` for every alpha, in parallel, with a disk cache.

    Parameters
    ----------
    func : callable
        A module-level function (picklable) returning a dict of arrays.
    alphas : sequence of float
        Points of the sweep (each must be > 0).
    executor : Executor, optional
        Anything with ``submit(fn, *args, **kwargs)`` returning futures with ``result()``
        (``concurrent.futures`` executors, ``dask.distributed.Client``). Default: a
        ``ProcessPoolExecutor`` with one worker per core, closed afterwards.
    cache_dir : path, optional
        Directory of cached points (created if needed); None disables caching.
    """
    alphas = [_checks.positive("alpha", a) for a in alphas]
    if not alphas:
        raise ValueError("alphas is empty")
    cache = Path(cache_dir) if cache_dir is not None else None
    results: list[dict | None] = [None] * len(alphas)
    todo = []
    for i, a in enumerate(alphas):
        path = _cache_path(cache, func.__name__, a, params) if cache else None
        if path is not None and path.exists():
            results[i], _ = load_npz(path, kind="sweep-point")
        else:
            todo.append((i, a, path))
    if todo:
        own = executor is None
        pool = ProcessPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1)) \
            if own else executor
        try:
            futures = [(i, a, path, pool.submit(func, a, **params)) for i, a, path in todo]
            for i, a, path, fut in futures:
                results[i] = fut.result()
                if path is not None:
                    save_npz(path, "sweep-point", results[i], {"alpha": a, **params})
        finally:
            if own:
                pool.shutdown()
    return results


REFERENCE_GROWTH = Path(__file__).resolve().parents[1] / "data" / "growth_factor.npz"


def reference_growth(path: str | Path = REFERENCE_GROWTH) -> list[GrowthFactor]:
    """Cached growth factors G(t; alpha) shipped in ``data/`` (format: ``data/README.md``).

    Plotting and quick looks need no solve; :func:`write_reference_growth` regenerates the
    file (the test suite recomputes one curve at small size and checks it).
    """
    arrays, _ = load_npz(path, kind="reference-growth")
    return [GrowthFactor(alpha=float(a), t=arrays["t"], G=arrays["G"][i],
                         G_sem=arrays["G_sem"][i]) for i, a in enumerate(arrays["alphas"])]


def write_reference_growth(path: str | Path = REFERENCE_GROWTH,
                           alphas: Sequence[float] = tuple(range(3, 14)), t_max: float = 10.0,
                           dt: float = 0.02, n_samples: int = 8000, every: int = 5,
                           executor: Executor | None = None,
                           cache_dir: str | Path | None = None) -> Path:
    """Compute G(t; alpha) on a sweep and store every ``every``-th time point."""
    params = {"t_max": t_max, "dt": dt, "n_samples": n_samples, "seed": 0}
    points = sweep(_growth_point, alphas, executor=executor, cache_dir=cache_dir, **params)
    arrays = {"alphas": np.asarray(alphas, dtype=float), "t": points[0]["t"][::every],
              "G": np.array([p["G"][::every] for p in points]),
              "G_sem": np.array([p["G_sem"][::every] for p in points])}
    return save_npz(path, "reference-growth", arrays, {**params, "every": every,
                                                        "m0_tangent": _M0_TANGENT})

# --- finite-N success probability (issue 5, item 2) ----------------------------------------

# Success probability of gradient descent (E5) from uniformly random starts, with Wilson
# intervals and the empirical 50 % point alpha_50(N), to compare with alpha_alg(N) (T4).


def wilson_interval(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (vectorised, broadcasting).

    With ``p = k / n`` and ``z`` the two-sided normal quantile of ``confidence``, the interval
    is ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``. Unlike the Wald interval
    it stays inside [0, 1] and keeps close to nominal coverage for small n and for k = 0 or
    k = n (where it is ``[0, n/(n+z^2)]`` and ``[n/(n+z^2), 1]``).

    Parameters
    ----------
    successes, trials : array_like of int
        Counts ``0 <= successes <= trials``, ``trials >= 1`` (integer-valued).
    confidence : float
        Two-sided confidence level in (0, 1).

    Returns
    -------
    low, high : ndarray
        Bounds, of the broadcast shape of the inputs.

    Raises
    ------
    ValueError
        On negative, non-integer or non-finite counts, ``successes > trials``,
        ``trials == 0``, or ``confidence`` outside (0, 1).
    """
    from scipy.stats import norm

    k, n = _check_counts(successes, trials)
    confidence = _checks.finite("confidence", confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    z2 = norm.ppf(0.5 + confidence / 2) ** 2
    p = k / n
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = np.sqrt(z2) / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n**2))
    low = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(k == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def _check_counts(successes, trials) -> tuple[np.ndarray, np.ndarray]:
    try:
        k, n = np.broadcast_arrays(np.asarray(successes, dtype=float),
                                   np.asarray(trials, dtype=float))
    except ValueError as exc:
        raise ValueError(f"successes and trials do not broadcast: {exc}") from None
    for name, x in (("successes", k), ("trials", n)):
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise ValueError(f"{name} must be finite integers, got {np.asarray(x).tolist()}")
        if np.any(x < 0):
            raise ValueError(f"{name} must be >= 0, got {np.asarray(x).tolist()}")
    if np.any(n == 0):
        raise ValueError("trials must be >= 1 (no interval for zero trials)")
    if np.any(k > n):
        raise ValueError(f"successes must be <= trials, got {k.tolist()} > {n.tolist()}")
    return k, n


@dataclass
class LogisticFit:
    """Maximum-likelihood fit ``P(success) = 1 / (1 + exp(-(alpha - alpha_50) / width))``.

    Attributes
    ----------
    alpha_50, alpha_50_err : float
        50 % point and its standard error (inverse Fisher information, delta method).
        With (quasi-)separated data (every failure at or below every success) the
        likelihood has no maximum: then ``alpha_50`` is the midpoint of the interval that
        must hold it (the gap, or the neighbours of the one shared alpha), ``alpha_50_err``
        its half-width (a bound, not a standard error), ``width`` is 0 and ``separated`` is
        True.
    width, width_err : float
        Logistic scale (10 %-90 % width is ``2 log 9 width``) and its standard error.
    deviance : float
        ``2 sum k log(p_hat/p) + (n-k) log((1-p_hat)/(1-p))`` against the saturated model;
        about chi^2 with ``len(alphas) - 2`` degrees of freedom when the logistic shape fits.
    separated : bool
    """

    alpha_50: float
    alpha_50_err: float
    width: float
    width_err: float
    deviance: float
    separated: bool = False


def fit_alpha_50(alphas, successes, trials, max_iter: int = 100) -> LogisticFit:
    """Empirical 50 % point of a success curve by a logistic maximum-likelihood fit.

    Why a fit rather than interpolation: every (alpha, k, n) point contributes, weighted by
    its binomial information, so the estimate does not hinge on the two points bracketing
    50 %; its standard error comes from the Fisher information without resampling (a
    bootstrap of an interpolated crossing is discontinuous when k/n jumps across 1/2). The
    logistic shape is only an assumption about the tails; near the 50 % point only the local
    slope matters, and :attr:`LogisticFit.deviance` says whether the shape fits. Newton's
    method (IRLS) on ``logit p = b0 + b1 alpha``; ``alpha_50 = -b0 / b1``.

    Parameters
    ----------
    alphas : (p,) array_like
        Sample ratios (at least two distinct values).
    successes, trials : (p,) array_like of int
        Counts per alpha.
    max_iter : int
        Newton iterations.

    Returns
    -------
    LogisticFit
    """
    a = _checks.finite_array("alphas", alphas, ndim=1)
    k, n = _check_counts(successes, trials)
    if k.shape != a.shape:
        raise ValueError(f"successes/trials must have the shape of alphas {a.shape}, "
                         f"got {k.shape}")
    if np.unique(a).size < 2:
        raise ValueError("need at least two distinct alphas to locate the 50 % point")
    gap = _separation_gap(a, k, n)
    if gap is not None:
        return LogisticFit(alpha_50=float(np.mean(gap)), alpha_50_err=float(np.ptp(gap) / 2),
                           width=0.0, width_err=0.0, deviance=0.0, separated=True)
    beta, cov = _logistic_mle(a, k, n, max_iter)
    b0, b1 = beta
    grad = np.array([-1.0 / b1, b0 / b1**2])  # d alpha_50 / d (b0, b1)
    p = 1.0 / (1.0 + np.exp(-(b0 + b1 * a)))
    return LogisticFit(alpha_50=float(-b0 / b1), alpha_50_err=float(np.sqrt(grad @ cov @ grad)),
                       width=float(1.0 / b1), width_err=float(np.sqrt(cov[1, 1]) / b1**2),
                       deviance=_deviance(k, n, p))


def _separation_gap(a, k, n) -> tuple[float, float] | None:
    """Interval holding the 50 % point when the data are (quasi-)separated, else None.

    Separated: every alpha with a failure lies below every alpha with a success; the
    interval is the gap. Quasi-separated: the two sets share one alpha only, with rate r
    there; the interval runs from it to its lower neighbour if r > 1/2, to its upper one if
    r < 1/2 (centred on it, half-way to the nearer one, if r = 1/2). The likelihood then
    has no maximum.
    """
    fail, succ = a[k < n], a[k > 0]
    if succ.size == 0 or fail.size == 0:
        raise ValueError("the 50 % point needs both successes and failures among the runs; "
                         "widen the alpha range")
    lo, hi = fail.max(), succ.min()
    if lo > hi:
        return None
    if lo < hi:
        return (float(lo), float(hi))
    below, above = a[a < lo], a[a > lo]
    left = float(below.max()) if below.size else float(lo)
    right = float(above.min()) if above.size else float(lo)
    r = np.sum(k[a == lo]) / np.sum(n[a == lo])
    if r > 0.5:
        return (left, float(lo))
    if r < 0.5:
        return (float(lo), right)
    d = min(lo - left, right - lo) / 2
    return (float(lo - d), float(lo + d))


def _logistic_mle(a, k, n, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    x0 = a.mean()
    X = np.column_stack([np.ones_like(a), a - x0])  # centred for conditioning
    beta = np.zeros(2)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(X @ beta)))
        info = X.T @ (X * (n * p * (1 - p))[:, None])
        step = np.linalg.solve(info, X.T @ (k - n * p))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10 * (1 + np.max(np.abs(beta))):
            break
    else:
        raise RuntimeError("logistic fit did not converge (nearly separated data?)")
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    cov = np.linalg.inv(X.T @ (X * (n * p * (1 - p))[:, None]))
    J = np.array([[1.0, -x0], [0.0, 1.0]])  # back to (b0, b1) of the raw alpha
    return J @ beta, J @ cov @ J.T


def _deviance(k, n, p) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(k > 0, k * np.log(k / (n * p)), 0.0)
        t2 = np.where(k < n, (n - k) * np.log((n - k) / (n * (1 - p))), 0.0)
    return float(2 * np.sum(t1 + t2))


@dataclass
class SuccessCurve:
    """Success probability of gradient descent from uniformly random starts vs alpha (T4).

    Every figure "success probability vs alpha with Wilson bars" reads straight off the
    arrays: ``errorbar(alphas, rate, yerr=(rate - ci_low, ci_high - rate))``, with the
    empirical ``alpha_50`` and, for comparison, ``alpha_alg(N)`` of :func:`alpha_alg`.

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
                        progress: bool = False) -> SuccessCurve:
    """Success rate of gradient descent (E5) from uniformly random starts, vs alpha (T4).

    For each alpha, ``runs`` independent problems (E1-E3: teacher, data and a uniformly
    random start with ``|m0| ~ 1/sqrt(N)``, ``m0=None``) are run by
    :func:`dmft.simulate.simulate` (``seeds=runs``, ``replicas=1``); the alphas go through
    :func:`sweep` (parallel, cached per alpha). Each alpha has its own seed derived from
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
        As in :func:`sweep`.
    progress : bool
        Show a tqdm bar over alphas.

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
    with _progress_executor(executor, len(a), progress, f"success N={N}") as ex:
        points = sweep(_success_point, a.tolist(), executor=ex, cache_dir=cache_dir, **params)
    k = np.array([int(np.sum(p["success"])) for p in points])
    n = np.array([p["success"].size for p in points])
    return _make_curve(N, a, k, n, np.array([p["t_hit"] for p in points]), confidence,
                       params)


def _make_curve(N, a, k, n, t_hit, confidence, params) -> SuccessCurve:
    low, high = wilson_interval(k, n, confidence)
    try:
        fit = fit_alpha_50(a, k, n)
    except ValueError:  # all successes or all failures
        fit = LogisticFit(np.nan, np.nan, np.nan, np.nan, np.nan)
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


@contextmanager
def _progress_executor(executor: Executor | None, total: int, progress: bool, desc: str):
    """``executor`` (or an owned process pool) whose finished points tick a tqdm bar."""
    if not progress:
        yield executor
        return
    from tqdm.auto import tqdm

    own = None
    if executor is None:
        own = ProcessPoolExecutor(max_workers=min(total, os.cpu_count() or 1))
    bar = tqdm(total=total, desc=desc, unit="alpha")
    try:
        yield _TickingExecutor(executor or own, bar)
    finally:
        bar.close()
        if own is not None:
            own.shutdown()


class _TickingExecutor:
    def __init__(self, executor, bar):
        self._executor, self._bar = executor, bar

    def submit(self, fn, *args, **kwargs):
        fut = self._executor.submit(fn, *args, **kwargs)
        fut.add_done_callback(lambda _: self._bar.update(1))
        return fut
