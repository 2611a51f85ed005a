"""Smooth estimator of a sample law of weights (issue 13 item 2). Private part of
:mod:`dmft.spectrum`, reached through ``WeightLaw.from_samples(..., estimator="kde")``.

The binned law (:meth:`dmft._spectral_laws.DensityLaw.from_samples`) is a histogram: its
Cauchy transform is exact for a piecewise-linear density with kinks at every knot, so the
derivatives entering the outlier's overlap and width (``B1``, ``S'``: H6) are derivatives of
a histogram. Here the densities ``p(z)`` and ``p2(z) = E[g^2 | z] p(z)`` are Gaussian
kernel estimates in ``u = asinh((z - c)/w)`` (``c`` the median, ``w`` the half
inter-quartile range): a kernel of fixed width in u is a kernel of width ``~ h |z|`` in the
tails, where the samples are sparse (a bandwidth that follows the local spacing). The
bandwidth ``h`` maximises the leave-one-out likelihood of the samples in u (cross
validation over a geometric grid). The smooth densities are tabulated on a fine u grid and
handed to :class:`dmft._spectral_laws.DensityLaw` (exact Cauchy transform of the
interpolant, now of a smooth curve), with the same normalisation (mass 1, ``E g^2`` the
sample mean). The support extends 4 bandwidths beyond the extreme samples.
"""

from __future__ import annotations

import math

import numpy as np

from dmft._spectral_laws import DensityLaw

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _coords(z: np.ndarray) -> tuple[float, float]:
    """Centre and width of the asinh coordinates."""
    c = float(np.median(z))
    q1, q3 = np.percentile(z, [25, 75])
    return c, max(0.5 * float(q3 - q1), 1e-12 * (1.0 + abs(c)))


def cv_bandwidth(u: np.ndarray, n_ref: int = 8000, n_eval: int = 1000, n_h: int = 16,
                 seed: int = 0) -> float:
    """Bandwidth (u units) maximising the leave-one-out log-likelihood of a Gaussian
    kernel estimate, over ``n_h`` values geometric between 0.01 and 0.5 of the sample
    standard deviation. Above ``n_ref`` samples the likelihood is that of a random subset
    of ``n_ref`` and the bandwidth is scaled by ``(n_ref/S)^(1/5)`` (the optimal bandwidth
    of a smooth density falls like ``S^(-1/5)``); it is summed over ``n_eval`` samples."""
    S = u.size
    rng = np.random.default_rng(seed)
    ref = u[rng.choice(S, size=n_ref, replace=False)] if S > n_ref else u
    n = ref.size
    pick = rng.choice(n, size=min(n_eval, n), replace=False)
    sd = float(np.std(u))
    hs = sd * np.geomspace(0.01, 0.5, n_h)
    d2 = (ref[pick][:, None] - ref[None, :]) ** 2  # (n_eval, n)
    scores = []
    for h in hs:
        k = np.exp(-0.5 * d2 / (h * h))
        k[np.arange(pick.size), pick] = 0.0  # leave one out
        dens = k.sum(axis=1) / ((n - 1) * h)
        scores.append(float(np.sum(np.log(np.maximum(dens, 1e-300)))) - pick.size * _LOG_SQRT_2PI)
    return float(hs[int(np.argmax(scores))]) * (n / S) ** 0.2


def kde_law(z: np.ndarray, g2: np.ndarray, bandwidth: float | None = None,
            n_knots: int = 800, chunk: int = 200) -> tuple[DensityLaw, float]:
    """Smooth :class:`DensityLaw` of samples ``z``, ``g2`` (module docstring) and the
    bandwidth used (u units; cross-validated when ``bandwidth`` is None)."""
    z = np.asarray(z, float)
    g2 = np.asarray(g2, float)
    c, w = _coords(z)
    u = np.arcsinh((z - c) / w)
    h = cv_bandwidth(u) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    grid = np.linspace(u.min() - 4.0 * h, u.max() + 4.0 * h, n_knots)
    pu, p2u = np.zeros(n_knots), np.zeros(n_knots)
    for i in range(0, n_knots, chunk):
        k = np.exp(-0.5 * ((grid[i:i + chunk, None] - u[None, :]) / h) ** 2)
        pu[i:i + chunk] = k.sum(axis=1)
        p2u[i:i + chunk] = k @ g2
    jac = w * np.cosh(grid)  # dz/du
    b = c + w * np.sinh(grid)
    law = DensityLaw(b, pu / jac, p2u / jac, None)
    p = law.p / law.mass0
    p2 = law.p2 * (float(np.mean(g2)) / law.mass2) if law.mass2 > 0 else law.p2
    return DensityLaw(b, p, p2, None, n_samples=z.size), h
