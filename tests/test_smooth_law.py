"""The smooth estimator of a sample law (issue 13 item 2, :mod:`dmft._smooth_law`) and the
resolution of sample laws, against independent routes: Silverman's rule for the bandwidth,
the exact quadrature law at t = 0 (plain loss: ``WeightLaw.gaussian``; l_a:
``WeightLaw.normalised``) for laws built from draws of the same distribution, with error
bars from a delete-one-group jackknife of the draws (4 groups, as the DMFT keeps them)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dmft._smooth_law import cv_bandwidth
from dmft.losses import get_loss
from dmft.spectrum import RESOLVE_SAMPLES, WeightLaw, jackknife_se, spectrum_curves


def test_cv_bandwidth_near_silverman_for_gaussian_data():
    """For Gaussian data the MISE-optimal Gaussian-kernel bandwidth is 1.06 sd S^(-1/5)
    (Silverman); the likelihood cross validation must land within a factor 1.6 of it (its
    grid is 1.3x and its optimum is broad), also through the subset rescaling above 8000."""
    rng = np.random.default_rng(2)
    for S in (3000, 30000):
        u = rng.standard_normal(S)
        h = cv_bandwidth(u)
        assert 1 / 1.6 < h / (1.06 * S ** -0.2) < 1.6, (S, h)


@pytest.mark.parametrize(("S", "seed"), [(2000, 0)])
def test_resolved_region_matches_the_exact_density(S, seed):
    """Where ``resolved`` (>= 5 samples beyond the level) the density of a law of S draws
    of the t = 0 weights agrees with the exact one within 3 / sqrt(5) relative (Poisson
    error of 5 counts, 3 s.e.); the bands of single extreme samples beyond (relative errors
    up to 6 measured) are outside."""
    alpha = 2.5
    ex = WeightLaw.gaussian(alpha, 0.0, n_quad=128)
    rng = np.random.default_rng(seed)
    h, hs = rng.standard_normal(S), rng.standard_normal(S)
    c = spectrum_curves(WeightLaw.from_samples(3 * h * h - hs * hs, hs, alpha, ex.mu))
    rel = np.abs(c.density - ex.density(c.lam).rho) / ex.density(c.lam).rho
    assert c.resolved.sum() > 0.5 * c.lam.size
    assert rel[c.resolved].max() < 3 / math.sqrt(RESOLVE_SAMPLES), rel[c.resolved].max()


def _jackknife(z, g, alpha, mu, m, G=4):
    """Outlier location, overlap^2 and hard edge of the kde law and their jackknife errors."""
    def row(zz, gg):
        law = WeightLaw.from_samples(zz, gg, alpha, mu, m, estimator="kde")
        out = law.outlier()
        return np.array([out.lam, out.overlap2, law.hard_edge().lam])

    full = row(z, g)
    blocks = np.arange(z.size) * G // z.size
    reps = np.array([row(z[blocks != j], g[blocks != j]) for j in range(G)])
    return full, np.array([jackknife_se(f, reps[:, k]) for k, f in enumerate(full)])


@pytest.mark.slow
def test_kde_law_converges_to_the_exact_la_law():
    """l_a (a = 0.01), alpha = 6, m = 0.3, t = 0: the outlier exists below a hard edge. Two
    draws of S = 16000: the kde law's outlier location, overlap^2 and hard edge within 3
    jackknife errors (+ 1 % of the overlap: the kernel's boundary bias at z = -1, measured
    0.2-0.5 s.e.) of the exact quadrature law. Measured (4 draws each, mean +- s.e.):
    S = 4000 / 16000 / 64000: overlap^2 0.417 +- 0.022 / 0.4055 +- 0.0055 / 0.403 +- 0.008
    against the exact 0.3996. ~60 s."""
    alpha, a, m = 6.0, 0.01, 0.3
    ex = WeightLaw.normalised(alpha, a, m)
    out = ex.outlier()
    exact = np.array([out.lam, out.overlap2, ex.hard_edge().lam])
    loss = get_loss("phase_retrieval", a=a)
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        h, g = rng.standard_normal(16000), rng.standard_normal(16000)
        hs = m * h + math.sqrt(1 - m * m) * g
        est, se = _jackknife(loss.fp(h, hs * hs), g, alpha, ex.mu, m)
        assert np.all(np.abs(est - exact) < 3 * se + np.array([0, 0.01 * exact[1], 0])), (
            est, se, exact)
