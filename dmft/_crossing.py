"""First downward zero crossing of a noisy curve sampled on a grid (used for t_BBP, T2).

No physics here. A curve ``y(t)`` known at grid points with noise is smoothed by a local
linear fit whose half width grows with t (``rel * t``: early times, where the curve moves
fast, keep their own values; later ones are averaged over many grid points), with tricube
weights and, optionally, robustness iterations with bisquare weights on the residuals
(LOWESS), after a running median of three points (it leaves monotone runs unchanged and
removes an isolated glitch of one grid point); the first crossing from ``y > 0`` to
``y <= 0`` of the smoothed curve is interpolated linearly between grid points. ``rel = 0``
is the raw first crossing.

t_BBP (:meth:`dmft.spectrum.SpectrumTrajectory.t_bbp`) applies it to the +-1 indicator of
the outlier's presence along a DMFT run (a majority rule: only signs enter, so the sample
law's artefacts do not, THEORY T2). Why smooth at all: the estimator noise is nearly
independent between spectrum times; near a slow crossing (slope ``s``, per-point noise
``sigma``) the raw first crossing is the first downward fluctuation, early by several
``sigma / |s|`` and scattered by as much, while the majority over a window crosses where
the mean does. The noise of the path population itself is correlated in time (the same
paths at every time) and is not removed: the seed and population-size reruns of
:func:`dmft.bbp.t_bbp` measure it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["local_linear", "first_down_crossing"]

ROBUST_ITER = 2  # LOWESS robustness iterations (Cleveland 1979)


def local_linear(t: np.ndarray, y: np.ndarray, rel: float,
                 robust: int = ROBUST_ITER) -> np.ndarray:
    """Local linear smoothing of ``y(t)`` with a half width growing with t (LOWESS).

    Parameters
    ----------
    t : (n,) array
        Increasing grid (``t >= 0``).
    y : (n,) array
        Finite values on it.
    rel : float
        Half width of the window at ``t``, relative to ``t``: points with
        ``|t_j - t| < rel t + d/2`` (``d`` the median grid spacing) enter with tricube
        weights. 0: ``y`` itself. Where the window holds fewer than three points (early
        times) ``y`` is kept: a fast early transient is not smeared, while a slow late
        approach is averaged over many points.
    robust : int
        Robustness iterations (Cleveland's bisquare weights ``(1 - (r / 6 s)^2)^2`` on the
        residuals ``r``, ``s`` their median absolute value). Before the fit, a running
        median of three replaces every interior point (it leaves monotone runs unchanged
        and removes an isolated glitch of the estimator, a single spectrum time whose
        margin jumps by many noise widths, which a window of a few points could not weight
        out).

    Returns
    -------
    (n,) array
        The fit's value at each ``t[i]``.
    """
    t, y = np.asarray(t, float), np.asarray(y, float)
    if rel <= 0 or t.size < 3:
        return y.copy()
    y = y.copy()
    y[1:-1] = np.median(np.vstack([y[:-2], y[1:-1], y[2:]]), axis=0)  # 3-point median
    h = rel * t + 0.5 * float(np.median(np.diff(t)))
    rw = np.ones(t.size)
    for it in range(robust + 1):
        fit = _fit(t, y, h, rw)
        if it == robust:
            return fit
        r = y - fit
        s = float(np.median(np.abs(r)))
        if s <= 1e-9 * float(np.max(np.abs(y))):  # exact to round-off: nothing to reweight
            return fit
        rw = np.clip(1 - (r / (6 * s)) ** 2, 0.0, None) ** 2
    return fit


def _fit(t: np.ndarray, y: np.ndarray, h: np.ndarray, rw: np.ndarray) -> np.ndarray:
    out = y.copy()
    for i in range(t.size):
        x = t - t[i]
        j = np.abs(x) < h[i]
        if j.sum() < 3:
            continue
        x = x[j]
        w = (1 - (np.abs(x) / h[i]) ** 3) ** 3 * rw[j]
        sw, sx, sxx = w.sum(), (w * x).sum(), (w * x * x).sum()
        sy, sxy = (w * y[j]).sum(), (w * x * y[j]).sum()
        det = sw * sxx - sx * sx
        if det > 1e-12 * sw * sxx:
            out[i] = (sxx * sy - sx * sxy) / det
    return out


def first_down_crossing(t: np.ndarray, y: np.ndarray, rel: float = 0.0,
                        robust: int = ROBUST_ITER) -> float:
    """First ``t`` at which ``y`` (smoothed by :func:`local_linear` with ``rel``) goes from
    > 0 to <= 0.

    Non-finite entries of ``y`` are dropped first. Returns ``t[0]`` when the (smoothed)
    curve starts at or below 0 and NaN when it stays positive; otherwise the zero of the
    straight line through the last positive point and the first non-positive one.
    """
    t, y = np.asarray(t, float), np.asarray(y, float)
    ok = np.isfinite(y)
    t, y = t[ok], local_linear(t[ok], y[ok], rel, robust)
    if t.size == 0:
        return math.nan
    down = np.flatnonzero(y <= 0)
    if down.size == 0:
        return math.nan
    i = int(down[0])
    if i == 0:
        return float(t[0])
    a, b = y[i - 1], y[i]
    return float(t[i - 1] + a / (a - b) * (t[i] - t[i - 1]))
