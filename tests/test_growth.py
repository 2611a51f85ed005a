"""Growth factor (tangent equations) vs full DMFT at small m0; threshold inversion; sweeps."""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from dmft import phase_diagram as pd
from dmft.solver import solve


def test_growth_factor_is_the_small_m0_limit_of_full_dmft():
    """Tangent route (m0 = 1e-10) vs the non-linear march at small m0, same populations.

    With common random numbers the only difference is the non-linearity in m0: it must
    vanish as m0 -> 0 (measured: 15 % at m0 = 1e-2, 0.2 % at 1e-3 by t = 1, alpha = 6).
    """
    alpha = 6.0
    g = pd.growth_factor(alpha, t_max=1.0, dt=0.02, n_samples=4000, seed=5)
    assert np.all(g.G > 0) and g.G[-1] > 2  # alpha = 6: the outlier drives m up early on
    dev = []
    for m0 in (1e-2, 1e-3):
        full = solve(alpha, m0, 1.0, dt=0.02, n_samples=4000, seed=5)
        dev.append(np.max(np.abs(full.m / m0 / g.G - 1)))
    assert dev[1] < 0.01
    assert dev[1] < dev[0] / 10  # at least linear convergence of the non-linear correction


def test_growth_factor_of_linear_regression_is_deterministic_and_grows():
    """Linear regression has no BBP story: m grows from any m0 (f linear, kernels exact)."""
    g = pd.growth_factor(2.0, t_max=1.0, dt=0.02, n_samples=2000, loss="linear_regression")
    assert np.all(np.diff(g.G) > 0)
    assert np.all(g.G_sem < 0.05 * g.G)


def _toy_point(alpha: float, scale: float = 1.0, **solver_params) -> dict[str, np.ndarray]:
    return {"log_G_max": np.array(scale * (alpha - 3.0)), "log_G_max_sem": np.array(0.1)}


def test_alpha_alg_inverts_log_growth(monkeypatch, tmp_path):
    """With log G_max = alpha - 3, alpha_alg(N) = 3 + log(sqrt(N) m_escape / c) exactly."""
    monkeypatch.setattr(pd, "_growth_point", _toy_point)
    N = np.array([100.0, 1e4, 1e6])
    with ThreadPoolExecutor(2) as ex:
        res = pd.alpha_alg(N, alphas=np.arange(3.0, 14.0), c=1.0, m_escape=0.5, executor=ex)
    expected = 3 + np.log(np.sqrt(N) * 0.5)
    np.testing.assert_allclose(res.alpha_alg, expected, rtol=1e-12)
    np.testing.assert_allclose(res.alpha_alg_err, np.hypot(0.1, 0.1), rtol=1e-12)
    # outside the swept range: NaN, not an extrapolated number
    out = pd.alpha_alg([1e12], alphas=[3.0, 4.0, 5.0], executor=ThreadPoolExecutor(1))
    assert np.isnan(out.alpha_alg[0])


def test_sweep_caches_points_on_disk(tmp_path):
    calls = []

    def point(alpha, scale=1.0):
        calls.append(alpha)
        return _toy_point(alpha, scale)

    with ThreadPoolExecutor(2) as ex:
        first = pd.sweep(point, [4.0, 5.0], executor=ex, cache_dir=tmp_path, scale=2.0)
        second = pd.sweep(point, [4.0, 5.0], executor=ex, cache_dir=tmp_path, scale=2.0)
        pd.sweep(point, [4.0], executor=ex, cache_dir=tmp_path, scale=3.0)  # new params
    assert sorted(calls) == [4.0, 4.0, 5.0]
    for a, b in zip(first, second, strict=True):
        assert float(a["log_G_max"]) == float(b["log_G_max"])
    assert len(list(tmp_path.glob("*.npz"))) == 3


@pytest.mark.parametrize("bad", [[], [0.0], [float("nan")]])
def test_sweep_rejects_bad_alphas(bad):
    with pytest.raises(ValueError):
        pd.sweep(_toy_point, bad)


def test_alpha_alg_rejects_bad_sizes():
    with pytest.raises(ValueError, match="N must be"):
        pd.alpha_alg([1.0])


def test_reference_growth_curve_is_reproduced_at_small_size():
    """data/growth_factor.npz vs a fresh, independent (other seed, fewer paths) solve."""
    ref = {g.alpha: g for g in pd.reference_growth()}
    assert sorted(ref) == list(np.arange(4.0, 13.0))  # data/README.md
    g = pd.growth_factor(8.0, t_max=2.0, dt=0.02, n_samples=4000, seed=11)
    r = ref[8.0]
    for t in (0.5, 1.0, 1.5, 2.0):
        k, kr = int(round(t / 0.02)), int(np.argmin(np.abs(r.t - t)))
        se = np.hypot(g.G_sem[k], r.G_sem[kr])
        assert abs(g.G[k] - r.G[kr]) < 4 * se, (t, g.G[k], r.G[kr], se)


def test_predicted_success_matches_sampled_uniform_starts():
    """Closed form 2 Phi(-sqrt(N) m_escape / G_h) vs escapes counted over sampled uniform
    starts on the sphere (|m0| = |w0 . w*| / N), with a toy G; binomial standard errors."""
    N, n, m_escape = 300, 20000, 0.5
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, N))
    m0 = np.abs(x[:, 0]) / np.linalg.norm(x, axis=1)  # w* = sqrt(N) e_1, |w0|^2 = N
    t = np.linspace(0, 2, 21)
    growths = [pd.GrowthFactor(a, t, np.exp(a * t / 2), np.zeros_like(t)) for a in (3, 4, 5)]
    a, p, _ = pd.predicted_success(N, growths, t_max=1.0, m_escape=m_escape)
    for ai, pi in zip(a, p, strict=True):
        frac = np.mean(m0 * np.exp(ai / 2) >= m_escape)
        se = np.sqrt(pi * (1 - pi) / n)
        assert abs(frac - pi) < 4 * se + 1.0 / N  # O(1/N): sphere vs Gaussian m0
    assert np.median(np.sqrt(N) * m0) == pytest.approx(pd.C_MEDIAN, rel=0.02)
    with pytest.raises(ValueError, match="known up to"):
        pd.log_G_horizon(growths[0], 3.0)


def test_implied_m_escape_inverts_the_predicted_threshold():
    """Forward (m_escape -> alpha_alg, :func:`threshold_at_horizon`) and backward
    (alpha_50 -> m_escape, :func:`implied_m_escape`) routes agree on a toy G with
    log G_h = alpha exactly linear in alpha."""
    t = np.linspace(0, 2, 21)
    growths = [pd.GrowthFactor(a, t, np.exp(a * t / 2), np.zeros_like(t))
               for a in np.arange(3.0, 9.0)]
    N, m_escape = 5000, 0.3  # log(sqrt(N) m_escape / c) = 3.45, inside alpha = 3..8
    a50 = float(pd.threshold_at_horizon([N], growths, 2.0, m_escape=m_escape).alpha_alg[0])
    assert 3 < a50 < 8
    z = np.zeros(1)
    curve = pd.SuccessCurve(N=N, alphas=np.array([a50]), successes=z, trials=z + 1, rate=z,
                            ci_low=z, ci_high=z, t_max=5.0, eta=0.01, alpha_50=a50,
                            alpha_50_err=0.1, t_hit=np.zeros((1, 1)))
    m, err = pd.implied_m_escape(curve, growths)  # t_max 5 > end of G: capped at t = 2
    assert m == pytest.approx(m_escape, rel=1e-12)
    assert err == pytest.approx(m_escape * 1.0 * 0.1, rel=1e-9)  # d log G_h / d alpha = 1
    for bad in (math.nan, 9.5):  # no 50 % point; outside the swept alphas
        with pytest.raises(ValueError, match="alpha_50"):
            pd.implied_m_escape(dataclasses.replace(curve, alpha_50=bad), growths)
