"""Moreau envelope of l_a (dmft.moreau): the prox, the envelope and its derivatives, each
against an independent route (brute-force minimisation, finite differences)."""

from __future__ import annotations

import numpy as np
import pytest

from dmft.losses import get_loss
from dmft.moreau import moreau_envelope, prox_normalised

CASES = [(0.01, 0.001), (0.01, 0.01), (1.0, 0.05), (100.0, 0.5)]


def _points(seed: int = 0, n: int = 200):
    rng = np.random.default_rng(seed)
    h = rng.normal(0.0, 2.0, n)
    h[:4] = [0.0, 1e-8, -30.0, 30.0]
    y = rng.normal(size=n) ** 2
    y[4:8] = [0.0, 1e-12, 50.0, 1e-4]
    return h, y


@pytest.mark.parametrize("a, gamma", CASES)
def test_prox_solves_the_backward_euler_equation(a, gamma):
    h, y = _points()
    p = prox_normalised(h, y, a, gamma)
    la = get_loss("phase_retrieval", a=a)
    resid = p + gamma * la.f(p, y) - h
    assert np.all(np.abs(resid) <= 1e-12 * (1.0 + np.abs(h)))


@pytest.mark.parametrize("a, gamma", CASES)
def test_envelope_equals_brute_force_minimum(a, gamma):
    """l^gamma(h) = min_p l(p) + (p - h)^2 / (2 gamma), minimised on a fine grid."""
    h, y = _points(1, 40)
    env = moreau_envelope(get_loss("phase_retrieval", a=a), gamma)
    la = get_loss("phase_retrieval", a=a)
    grid = np.linspace(-35.0, 35.0, 70_001)
    dx = grid[1] - grid[0]

    def objective(p, hi, yi):
        return la.l(p, yi) + (p - hi) ** 2 / (2 * gamma)

    for hi, yi in zip(h, y, strict=True):  # coarse grid, then a fine one around its minimum
        p0 = grid[np.argmin(objective(grid, hi, yi))]
        brute = np.min(objective(np.linspace(p0 - dx, p0 + dx, 20_001), hi, yi))
        got = env.l(np.array([hi]), np.array([yi]))[0]
        assert got <= brute + 1e-12 * (1 + abs(brute))
        assert brute - got < 1e-6 * (1 + abs(brute)), (hi, yi, got, brute)


@pytest.mark.parametrize("a, gamma", CASES)
def test_envelope_derivatives_match_finite_differences(a, gamma):
    h, y = _points(2)
    env = moreau_envelope(get_loss("phase_retrieval", a=a), gamma)
    eps = 1e-6 * (1 + np.abs(h))
    fd_f = (env.l(h + eps, y) - env.l(h - eps, y)) / (2 * eps)
    fd_fp = (env.f(h + eps, y) - env.f(h - eps, y)) / (2 * eps)
    f, fp = env.f(h, y), env.fp(h, y)
    np.testing.assert_allclose(f, fd_f, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fp, fd_fp, rtol=1e-5, atol=1e-6)
    assert np.all(fp < 1.0 / gamma) and np.all(fp > -1.0 / (1.0 - gamma))


def test_envelope_tends_to_the_loss_as_gamma_vanishes():
    """l^gamma -> l_a at first order in gamma: ``l - l^gamma = (gamma / 2) f^2 (1 - gamma f'
    + ...)``, so the leading term holds to a relative ``~gamma |f'|`` (points with
    ``gamma |f'| < 0.1``)."""
    h, y = _points(3)
    la = get_loss("phase_retrieval", a=0.5)
    for gamma in (1e-4, 1e-5):
        env = moreau_envelope(la, gamma)
        gap = la.l(h, y) - env.l(h, y)
        lead = 0.5 * gamma * la.f(h, y) ** 2
        stiff = gamma * np.abs(la.fp(h, y))
        ok = stiff < 0.1
        assert np.all(gap >= -1e-12) and ok.sum() > 150
        assert np.all(np.abs(gap - lead)[ok] <= 2 * stiff[ok] * lead[ok] + 1e-12)


@pytest.mark.parametrize("loss, gamma, match", [
    ("phase_retrieval", 0.01, "normalised loss l_a only"),
    ("linear_regression", 0.01, "normalised loss l_a only"),
    ("normalised_phase_retrieval(a=0.01)", 0.0, r"\(0, 1\)"),
    ("normalised_phase_retrieval(a=0.01)", 1.0, r"\(0, 1\)"),
    ("normalised_phase_retrieval(a=0.01)", float("nan"), r"\(0, 1\)"),
])
def test_bad_input_is_refused(loss, gamma, match):
    with pytest.raises(ValueError, match=match):
        moreau_envelope(loss, gamma)


def test_solve_prox_scheme_is_the_march_on_the_envelope_and_records_it():
    """scheme='prox' is solve(loss=moreau_envelope(l_a, dt)) (same seed: same numbers), with
    Solution.loss = l_a and the scheme in the metadata; unknown schemes are refused."""
    from dmft.solver import solve

    la = get_loss("phase_retrieval", a=0.1)
    kw = {"dt": 0.01, "n_samples": 400, "seed": 3, "n_response": None}
    prox = solve(4.0, 0.2, 0.05, loss=la, scheme="prox", **kw)
    direct = solve(4.0, 0.2, 0.05, loss=moreau_envelope(la, 0.01), **kw)
    np.testing.assert_array_equal(prox.m, direct.m)
    assert prox.loss.name == la.name and prox.metadata["scheme"] == "prox"
    with pytest.raises(ValueError, match="scheme must be"):
        solve(4.0, 0.2, 0.05, loss=la, scheme="implicit", **kw)
    with pytest.raises(ValueError, match="l_a only"):
        solve(4.0, 0.2, 0.05, scheme="prox", **kw)
