"""Finite-N success probability (issue 5, item 2): Wilson intervals, the 50 % point, sweep.

Every check compares independent routes or uses a tolerance from binomial statistics:
Wilson bounds vs scipy's implementation and the closed forms at k = 0, n; coverage by
simulated Bernoulli trials vs the exact binomial sum; the logistic 50 % point vs a direct
minimisation of the likelihood and vs a known curve (z-scores from its own standard
error); a tiny real sweep at N = 120 whose rates must reject 1/2 at the 99 % level.
"""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pytest
from scipy import optimize, stats

import dmft.simulate
from dmft.stats import fit_alpha_50, wilson_interval
from dmft.success import SuccessCurve, success_probability


class _Serial:
    """Executor running each task at submission (no process start-up in tests)."""

    def submit(self, fn, *args, **kwargs):
        fut = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


# ------------------------------------------------------------------------------ Wilson


@pytest.mark.parametrize("confidence", [0.68, 0.95, 0.99])
def test_wilson_matches_scipy(confidence):
    for n in (1, 5, 20, 137):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence,
                                                     method="wilson")
            low, high = wilson_interval(k, n, confidence)
            assert low == pytest.approx(max(ci.low, 0.0), abs=1e-12)
            assert high == pytest.approx(min(ci.high, 1.0), abs=1e-12)


def test_wilson_matches_the_closed_form_score_interval():
    """scipy's binomtest route vs the score interval written out (Wilson 1927):
    (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)."""
    k = np.arange(0, 41)[:, None]
    n = np.array([40, 55, 300])
    for conf in (0.68, 0.95, 0.999):
        z2 = stats.norm.ppf(0.5 + conf / 2) ** 2
        p = k / n
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = np.sqrt(z2) / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n**2))
        low, high = wilson_interval(k, n, conf)
        np.testing.assert_allclose(low, np.clip(centre - half, 0, 1), atol=1e-12)
        np.testing.assert_allclose(high, np.clip(centre + half, 0, 1), atol=1e-12)


def test_wilson_edges_and_broadcasting():
    n = np.array([1, 7, 40, 1000])
    z2 = stats.norm.ppf(0.975) ** 2
    low0, high0 = wilson_interval(np.zeros_like(n), n)
    lown, highn = wilson_interval(n, n)
    np.testing.assert_array_equal(low0, 0.0)
    np.testing.assert_array_equal(highn, 1.0)
    np.testing.assert_allclose(high0, z2 / (n + z2), rtol=1e-12)  # closed form at k = 0
    np.testing.assert_allclose(lown, n / (n + z2), rtol=1e-12)  # and at k = n
    low, high = wilson_interval(np.arange(11)[:, None], np.array([10, 20, 30]))
    assert low.shape == high.shape == (11, 3)
    assert np.all((0 <= low) & (low <= np.arange(11)[:, None] / [10, 20, 30]) & (high <= 1))


@pytest.mark.parametrize("p", [0.3, 0.5, 0.8])
def test_wilson_coverage_by_simulation(p):
    n, reps = 50, 2000
    k = np.random.default_rng(12).binomial(n, p, size=reps)
    low, high = wilson_interval(k, n)
    covered = np.mean((low <= p) & (p <= high))
    grid = np.arange(n + 1)  # exact coverage: sum of the binomial pmf over covering k
    lo_g, hi_g = wilson_interval(grid, n)
    exact = np.sum(stats.binom.pmf(grid, n, p)[(lo_g <= p) & (p <= hi_g)])
    assert abs(covered - exact) < 4 * np.sqrt(exact * (1 - exact) / reps)
    # Wilson's coverage oscillates around the nominal level (Brown, Cai, DasGupta 2001);
    # at n = 50 and p in [0.3, 0.8] it stays within 0.02 of it.
    assert abs(exact - 0.95) < 0.02


# ------------------------------------------------------------------------ 50 % point


def _logistic(a, a50, width):
    return 1.0 / (1.0 + np.exp(-(a - a50) / width))


def test_fit_matches_direct_likelihood_minimisation():
    rng = np.random.default_rng(3)
    a = np.arange(4.0, 9.01, 0.5)
    n = np.full(a.size, 30)
    k = rng.binomial(n, _logistic(a, 6.3, 0.7))
    fit = fit_alpha_50(a, k, n)

    def nll(theta):
        p = np.clip(_logistic(a, theta[0], np.exp(theta[1])), 1e-300, 1 - 1e-16)
        return -np.sum(k * np.log(p) + (n - k) * np.log1p(-p))

    res = optimize.minimize(nll, [np.mean(a), 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
    assert fit.alpha_50 == pytest.approx(res.x[0], abs=1e-4)
    assert fit.width == pytest.approx(np.exp(res.x[1]), rel=1e-3)
    assert not fit.separated and fit.alpha_50_err > 0


def test_fit_recovers_known_alpha_50_within_its_error():
    """z = (estimate - truth) / reported error must look standard normal."""
    rng = np.random.default_rng(7)
    a50, width, reps = 6.3, 0.6, 200
    a = np.arange(4.0, 9.01, 0.5)
    n = np.full(a.size, 40)
    z = []
    for _ in range(reps):
        fit = fit_alpha_50(a, rng.binomial(n, _logistic(a, a50, width)), n)
        z.append((fit.alpha_50 - a50) / fit.alpha_50_err)
    z = np.array(z)
    assert np.max(np.abs(z)) < 5
    assert abs(np.mean(z)) < 4 / np.sqrt(reps)
    inside = np.mean(np.abs(z) < 1.96)
    assert abs(inside - 0.95) < 4 * np.sqrt(0.95 * 0.05 / reps)


def test_fit_at_recovers_a_drifting_alpha_50_from_escape_times():
    """SuccessCurve.fit_at(t) vs synthetic escape times with a known 50 % point at every t:
    run j succeeds by time t iff alpha > a50(t) + width * logit(u_j), u_j uniform, with
    a50(t) = 6 + 4/t, i.e. t_hit = 4 / (alpha - 6 - width logit u) (inf if never). At
    t = 10 and t = 5 the fit must find 6.4 and 6.8 within 4 of its stated errors."""
    rng = np.random.default_rng(21)
    a = np.arange(5.0, 9.01, 0.25)
    runs, width, t_max = 1500, 0.5, 10.0
    u = rng.uniform(size=(a.size, runs))
    gap = a[:, None] - 6.0 - width * np.log(u / (1 - u))
    t_hit = np.where(gap > 0, 4.0 / np.where(gap > 0, gap, 1.0), np.inf)
    k = np.sum(t_hit <= t_max, axis=1)
    n = np.full(a.size, runs)
    curve = SuccessCurve(N=100, alphas=a, successes=k, trials=n, rate=k / n, ci_low=k / n,
                         ci_high=k / n, t_max=t_max, eta=0.01, alpha_50=np.nan,
                         alpha_50_err=np.nan, t_hit=t_hit)
    for t in (t_max, t_max / 2):
        fit = curve.fit_at(t)
        truth = 6.0 + 4.0 / t
        assert 0 < fit.alpha_50_err < 0.05
        assert abs(fit.alpha_50 - truth) < 4 * fit.alpha_50_err, (t, fit.alpha_50, truth)


def test_fit_separated_data():
    fit = fit_alpha_50([1, 2, 3, 4], [0, 0, 5, 5], [5, 5, 5, 5])
    assert fit.separated and (fit.alpha_50, fit.alpha_50_err) == (2.5, 0.5)
    fit = fit_alpha_50([1, 2, 3], [0, 3, 5], [5, 5, 5])  # quasi: rate 0.6 at the shared alpha
    assert fit.separated and (fit.alpha_50, fit.alpha_50_err) == (1.5, 0.5)
    fit = fit_alpha_50([1, 2, 3], [0, 2, 5], [5, 5, 5])
    assert (fit.alpha_50, fit.alpha_50_err) == (2.5, 0.5)


# ----------------------------------------------------------------------- real sweep


def test_tiny_real_sweep_and_cache(tmp_path, monkeypatch):
    kw = {"runs": 16, "t_max": 10.0, "eta": 0.01, "seed": 5, "executor": _Serial(),
          "cache_dir": tmp_path / "cache"}
    c = success_probability(120, [2.0, 15.0], **kw)
    assert c.successes.shape == c.trials.shape == c.rate.shape == (2,)
    assert c.t_hit.shape == (2, 16)
    np.testing.assert_array_equal(c.trials, 16)
    # the rates must reject 1/2 at the 99 % level: rare at alpha = 2, frequent at 15
    low, high = wilson_interval(c.successes, c.trials, 0.99)
    assert high[0] < 0.5 and low[1] > 0.5
    assert np.all(c.rate_at(c.t_max) >= c.rate)  # a success has crossed by t_max
    assert 2.0 <= c.alpha_50 <= 15.0

    def boom(*args, **kwargs):
        raise AssertionError("simulate called despite the cache")

    monkeypatch.setattr(dmft.simulate, "simulate", boom)
    again = success_probability(120, [2.0, 15.0], **kw)
    np.testing.assert_array_equal(again.successes, c.successes)
    np.testing.assert_array_equal(again.t_hit, c.t_hit)

    loaded = SuccessCurve.load(c.save(tmp_path / "curve"))
    for name in ("alphas", "successes", "trials", "rate", "ci_low", "ci_high", "t_hit"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(c, name))
    assert (loaded.N, loaded.alpha_50, loaded.t_max) == (c.N, c.alpha_50, c.t_max)


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("k, n, conf", [(-1, 5, 0.95), (6, 5, 0.95), (0, 0, 0.95),
                                        (1.5, 5, 0.95), (1, -2, 0.95), (np.nan, 5, 0.95),
                                        (1, 5, 0.0), (1, 5, 1.0), (1, 5, 1.5)])
def test_wilson_bad_input(k, n, conf):
    with pytest.raises(ValueError):
        wilson_interval(k, n, conf)


@pytest.mark.parametrize("args", [([1, 2], [2, 2], [2, 2]), ([1, 2], [0, 0], [2, 2]),
                                  ([1, 1], [0, 2], [2, 2]), ([1, 2, 3], [0, 1], [2, 2])])
def test_fit_bad_input(args):
    with pytest.raises(ValueError):
        fit_alpha_50(*args)


@pytest.mark.parametrize("kw", [{"N": 1}, {"runs": 0}, {"alphas": []}, {"eta": -0.1},
                                {"t_max": 0.0}, {"alphas": [np.nan]},
                                {"alphas": [3.0, 3.0]}])
def test_success_probability_bad_input(kw):
    args = {"N": 50, "alphas": [3.0], "runs": 2, "t_max": 1.0, "executor": _Serial(), **kw}
    with pytest.raises(ValueError):
        success_probability(**args)
