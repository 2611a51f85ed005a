"""First downward zero crossing of a noisy curve sampled on a grid (used for t_BBP, T2).

No physics here. :func:`local_linear` smooths a curve ``y(t)`` known at grid points by a
local linear fit whose half width grows with t (``rel * t``: early times, where the curve
moves fast, keep their own values; later ones are averaged over many grid points), with
tricube weights, after a running median of three points (it leaves monotone runs unchanged
and removes an isolated glitch of one grid point); :func:`first_down_crossing` finds the
first crossing from ``y > 0`` to ``y <= 0``, interpolated linearly between grid points.

t_BBP (:meth:`dmft.spectrum.SpectrumTrajectory.t_bbp`) applies both to the +-1 indicator of
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


def local_linear(t: np.ndarray, y: np.ndarray, rel: float) -> np.ndarray:
    """Local linear smoothing of ``y(t)`` with a half width growing with t.

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
        times) the (median-filtered) value is kept: a fast early transient is not
        smeared, while a slow late approach is averaged over many points. Before the fit,
        a running median of three replaces every interior point (it leaves monotone runs
        unchanged and removes an isolated glitch, which a window of a few points could not
        average out).

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
    out = y.copy()
    for i in range(t.size):
        x = t - t[i]
        j = np.abs(x) < h[i]
        if j.sum() < 3:
            continue
        x = x[j]
        w = (1 - (np.abs(x) / h[i]) ** 3) ** 3
        sw, sx, sxx = w.sum(), (w * x).sum(), (w * x * x).sum()
        sy, sxy = (w * y[j]).sum(), (w * x * y[j]).sum()
        det = sw * sxx - sx * sx
        if det > 1e-12 * sw * sxx:
            out[i] = (sxx * sy - sx * sxy) / det
    return out


def first_down_crossing(t: np.ndarray, y: np.ndarray) -> float:
    """First ``t`` at which ``y`` goes from > 0 to <= 0.

    Non-finite entries of ``y`` are dropped first. Returns ``t[0]`` when ``y`` starts at or
    below 0 and NaN when it stays positive; otherwise the zero of the straight line through
    the last positive point and the first non-positive one.
    """
    t, y = np.asarray(t, float), np.asarray(y, float)
    ok = np.isfinite(y)
    t, y = t[ok], y[ok]
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
