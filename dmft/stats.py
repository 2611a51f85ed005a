"""Statistics without physics: Wilson intervals and the logistic 50 % point of success
counts, and a distribution-free interval for a median.

No physics here: counts ``k`` of ``n`` trials per alpha in, intervals and a fitted 50 %
point out (used by :mod:`dmft.success` for the finite-N success curves of T4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dmft import _checks

__all__ = ["wilson_interval", "difference_interval", "LogisticFit", "fit_alpha_50",
           "median_interval"]


def wilson_interval(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (vectorised, broadcasting).

    Each element is ``scipy.stats.binomtest(k, n).proportion_ci(confidence, "wilson")``,
    clipped to [0, 1] (exactly 0 at k = 0 and 1 at k = n). With ``p = k / n`` and ``z`` the
    two-sided normal quantile of ``confidence`` it is
    ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``; unlike the Wald interval
    it stays inside [0, 1] and keeps close to nominal coverage for small n.

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
    from scipy.stats import binomtest

    k, n = _check_counts(successes, trials)
    confidence = _checks.finite("confidence", confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    low, high = np.empty(k.shape), np.empty(k.shape)
    for idx in np.ndindex(k.shape):
        ci = binomtest(int(k[idx]), int(n[idx])).proportion_ci(confidence_level=confidence,
                                                              method="wilson")
        low[idx], high[idx] = ci.low, ci.high
    low = np.where(k == 0, 0.0, np.clip(low, 0.0, 1.0))
    high = np.where(k == n, 1.0, np.clip(high, 0.0, 1.0))
    return low, high


def difference_interval(k1, n1, k2, n2, confidence: float = 0.95) -> tuple[float, float]:
    """Interval for ``p1 - p2`` of two independent binomials from their Wilson intervals.

    Newcombe's hybrid score interval (Newcombe 1998, method 10): with ``(l_i, u_i)`` the
    Wilson intervals (:func:`wilson_interval`) and ``d = k1/n1 - k2/n2``,
    ``[d - sqrt((p1 - l1)^2 + (u2 - p2)^2), d + sqrt((u1 - p1)^2 + (p2 - l2)^2)]``.
    Two success rates measured independently at the same point agree at level
    ``confidence`` when the interval holds 0.

    Parameters
    ----------
    k1, n1, k2, n2 : int
        Successes and trials of the two samples (as in :func:`wilson_interval`).
    confidence : float
        Two-sided level in (0, 1).

    Returns
    -------
    low, high : float
    """
    (l1, u1), (l2, u2) = (wilson_interval(k, n, confidence) for k, n in ((k1, n1), (k2, n2)))
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    return (float(d - np.hypot(p1 - l1, u2 - p2)), float(d + np.hypot(u1 - p1, p2 - l2)))


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


def median_interval(x: np.ndarray, level: float = 0.6827,
                    horizons: np.ndarray | None = None) -> tuple[float, float]:
    """Sample median and the half-width of a distribution-free confidence interval for the
    population median at ``level`` (one sigma by default).

    The interval runs between the order statistics ``x_(l)`` and ``x_(n + 1 - l)``
    (1-based), ``l`` the largest rank with ``P(l <= B < n + 1 - l) >= level`` for ``B ~
    Binomial(n, 1/2)`` (the number of samples below the median), so it holds whatever the
    law of ``x``. Needs ``n >= 2`` (with fewer than ~4 the interval is the whole range and
    its coverage above ``level``).

    Right-censored samples: ``+inf`` marks a value known only to exceed its ``horizons``
    entry (e.g. a merge time beyond the end of its run). They sort last, which is their true
    rank against every value below the smallest censoring horizon, so the median and the
    interval are exact when ``x_(n + 1 - l)`` is finite and below that horizon; otherwise a
    ValueError says so (too many censored values: extend their horizons).
    """
    from scipy.stats import binom

    x = np.asarray(x, dtype=float)
    xs, n = np.sort(x), x.size
    if n < 2:
        raise ValueError(f"the median interval needs two or more values, got {n}")
    if np.any(np.isnan(x)) or np.any(xs == -np.inf):
        raise ValueError("the median interval takes finite values or +inf (censored), got "
                         "NaN or -inf")
    lo = 1
    while lo + 1 <= n - lo and binom.cdf(n - lo - 1, n, 0.5) - binom.cdf(lo, n, 0.5) >= level:
        lo += 1
    censored = ~np.isfinite(x)
    if censored.any():
        if horizons is None:
            raise ValueError("censored values (+inf) need their horizons")
        h_min = float(np.min(np.asarray(horizons, dtype=float)[censored]))
        if not xs[n - lo] < h_min:
            raise ValueError(
                f"{int(censored.sum())} of {n} values are censored (beyond horizons >= "
                f"{h_min:g}): the median and its interval are not determined; extend the "
                "horizons")
    return float(np.median(xs)), float(0.5 * (xs[n - lo] - xs[lo - 1]))
