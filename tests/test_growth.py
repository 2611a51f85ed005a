"""Growth factor (tangent equations) vs full DMFT at small m0; threshold inversion (T4)."""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from dmft import _data
from dmft import growth as pd
from dmft.solver import solve
from dmft.success import SuccessCurve, implied_m_escape


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
        res = pd.alpha_alg(N, alphas=np.arange(3.0, 14.0), c=1.0, m_escape=0.5, executor=ex,
                           progress=False)
    expected = 3 + np.log(np.sqrt(N) * 0.5)
    np.testing.assert_allclose(res.alpha_alg, expected, rtol=1e-12)
    np.testing.assert_allclose(res.alpha_alg_err, np.hypot(0.1, 0.1), rtol=1e-12)
    # outside the swept range: NaN, not an extrapolated number
    out = pd.alpha_alg([1e12], alphas=[3.0, 4.0, 5.0], executor=ThreadPoolExecutor(1),
                       progress=False)
    assert np.isnan(out.alpha_alg[0])


def test_alpha_alg_rejects_bad_sizes():
    with pytest.raises(ValueError, match="N must be"):
        pd.alpha_alg([1.0])


def test_shipped_growth_factor_is_the_small_m0_limit_of_the_non_linear_dmft():
    """data/growth_factor.npz (tangent route, m0 = 1e-10) vs an independent route: the
    full non-linear DMFT at finite m0 = 1e-3, 5e-4, 2.5e-4, ``m(t)/m0``, with the paths of
    the shipped run (its seed 0 and S = 8000: common random numbers, so the Monte Carlo
    error, 7-20 % here, cancels and only the non-linearity in m0 is left). The non-linear
    correction must shrink as m0 halves and, at the smallest m0, be below twice the last
    change (measured: it shrinks about as sqrt(m0), 0.9 %, 0.7 %, 0.4 % at alpha = 4,
    t = 1), plus the floating-point resolution of the tangent pairs (1e-6 / m0 relative to
    m0 = 1e-10: 1e-5)."""
    ref = {g.alpha: g for g in pd.reference_growth()}
    assert sorted(ref) == list(np.arange(4.0, 13.0))  # data/README.md
    for alpha in (4.0, 8.0):
        r = ref[alpha]
        # the shipped run's settings (the solver defaults when it was made, data/README.md)
        G = {m0: solve(alpha, m0, 1.0, dt=0.02, n_samples=8000, seed=0, n_groups=4,
                       n_response=2000).m / m0
             for m0 in (1e-3, 5e-4, 2.5e-4)}
        for t in (0.5, 1.0):
            k, kr = int(round(t / 0.02)), int(np.argmin(np.abs(r.t - t)))
            assert r.t[kr] == pytest.approx(t)
            dev = {m0: abs(g[k] / r.G[kr] - 1) for m0, g in G.items()}
            last_change = abs(G[2.5e-4][k] - G[5e-4][k]) / r.G[kr]
            assert dev[2.5e-4] < 2 * last_change + 1e-5, (alpha, t, dev, last_change)
            assert dev[2.5e-4] < dev[1e-3] + 1e-5, (alpha, t, dev)


def test_invert_growth_sorts_unsorted_alphas():
    """Unsorted alphas (issue 14 row 15) give the same threshold as sorted ones, and the
    same as the closed form for log G_max = alpha - 3; repeated alphas are refused."""
    a = np.array([3.0, 4.0, 5.0, 6.0, 7.0])
    perm = np.array([3, 0, 4, 2, 1])
    N = [1e3, 1e4]
    ordered = pd.invert_growth(N, a, a - 3, np.full(5, 0.1), c=1.0, m_escape=0.5)
    shuffled = pd.invert_growth(N, a[perm], (a - 3)[perm], np.full(5, 0.1), c=1.0,
                                m_escape=0.5)
    np.testing.assert_allclose(shuffled.alpha_alg, 3 + np.log(np.sqrt(N) * 0.5), rtol=1e-12)
    np.testing.assert_array_equal(shuffled.alpha_alg, ordered.alpha_alg)
    np.testing.assert_array_equal(shuffled.alphas, a)
    with pytest.raises(ValueError, match="distinct"):
        pd.invert_growth(N, [3.0, 4.0, 3.0], [0.0, 1.0, 0.0], [0.1] * 3)
    with pytest.raises(ValueError, match="one length"):
        pd.invert_growth(N, [3.0, 4.0], [0.0, 1.0, 2.0], [0.1] * 3)


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
    curve = SuccessCurve(N=N, alphas=np.array([a50]), successes=z, trials=z + 1, rate=z,
                            ci_low=z, ci_high=z, t_max=5.0, eta=0.01, alpha_50=a50,
                            alpha_50_err=0.1, t_hit=np.zeros((1, 1)))
    m, err = implied_m_escape(curve, growths)  # t_max 5 > end of G: capped at t = 2
    assert m == pytest.approx(m_escape, rel=1e-12)
    assert err == pytest.approx(m_escape * 1.0 * 0.1, rel=1e-9)  # d log G_h / d alpha = 1
    for bad in (math.nan, 9.5):  # no 50 % point; outside the swept alphas
        with pytest.raises(ValueError, match="alpha_50"):
            implied_m_escape(dataclasses.replace(curve, alpha_50=bad), growths)


# ------------------------------------------------------------------ normalised loss l_a (E4a)
@pytest.mark.parametrize("a, scheme, dt, alpha", [(0.01, "prox", 0.01, 4.0),
                                                   (1.0, "explicit", 0.02, 6.0)])
def test_la_growth_factor_is_the_small_m0_limit_of_full_dmft(a, scheme, dt, alpha):
    """l_a: tangent route (m0 = 1e-10, ``growth_factor(a=, scheme=)``) vs the non-linear
    march at m0 = 0.04, 0.02, 0.01 on the same paths (common random numbers, so only the
    non-linearity in m0 differs). m(t) is odd in m0 (y depends on h*^2), so m/m0 - G is
    O(m0^2): the deviation must fall ~4x per halving (asked: > 3x), i.e. extrapolate to 0,
    which a wrong tangent G (a plateau) cannot do. Measured: 1.9 %, 0.46 %, 0.12 %
    (a = 0.01) and 1.1 %, 0.27 %, 0.07 % (a = 1) up to t = 1."""
    from dmft.losses import get_loss

    g = pd.growth_factor(alpha, t_max=1.0, dt=dt, n_samples=2000, seed=3, a=a, scheme=scheme)
    assert g.a == a and g.scheme == scheme and g.G[-1] > 1.5
    loss = get_loss("phase_retrieval", a=a)
    dev = []
    for m0 in (0.04, 0.02, 0.01):
        full = solve(alpha, m0, 1.0, dt=dt, n_samples=2000, seed=3, loss=loss, scheme=scheme)
        dev.append(np.max(np.abs(full.m / m0 / g.G - 1)))
    assert dev[1] < dev[0] / 3 and dev[2] < dev[1] / 3, dev
    assert dev[2] < 0.005, dev


def test_la_growth_factor_refuses_bad_loss_and_step():
    """Combinations that would be ignored or meaningless are refused (that a= reaches the
    solver is shown by the small-m0 test above: the non-linear side runs l_a itself)."""
    with pytest.raises(ValueError, match="prox"):
        pd.growth_factor(6.0, t_max=0.1, scheme="prox")
    with pytest.raises(ValueError, match="either loss"):
        pd.growth_factor(6.0, t_max=0.1, a=1.0, loss="phase_retrieval")
    with pytest.raises(ValueError, match="scheme"):
        pd.growth_factor(6.0, t_max=0.1, a=1.0, scheme="implicit")


@pytest.mark.parametrize("a, alpha", [(1.0, 8.0), (0.01, 4.0)])
def test_shipped_la_growth_is_the_small_m0_limit_of_the_non_linear_dmft(a, alpha):
    """data/growth_factor_la<a>.npz (tangent route, m0 = 1e-10) recomputed by an
    independent route at small size (t <= 1): the full non-linear DMFT at m0 = 0.02 and
    0.01, ``m(t)/m0``, with the shipped run's paths (its seed 0, S and step: common random
    numbers, so the Monte Carlo error, 5-15 % of G here, cancels and only the
    non-linearity in m0, O(m0^2), is left). The deviation must fall > 3x as m0 halves
    and be < 1 % at m0 = 0.01 (measured on fresh paths: 0.12 % at a = 0.01, 0.07 % at
    a = 1)."""
    from dmft.losses import get_loss

    r = {g.alpha: g for g in pd.reference_growth(a=a)}[alpha]
    assert r.a == a
    _, meta = pd.load_npz(_data.shipped_path("growth_factor", ".npz", a))
    loss = get_loss("phase_retrieval", a=a)
    dev = []
    for m0 in (0.02, 0.01):
        full = solve(alpha, m0, 1.0, dt=meta["dt"], n_samples=meta["n_samples"],
                     seed=meta["seed"], loss=loss, scheme=meta["scheme"])
        ks = [int(round(t / meta["dt"])) for t in (0.5, 1.0)]
        krs = [int(np.argmin(np.abs(r.t - t))) for t in (0.5, 1.0)]
        dev.append(max(abs(full.m[k] / m0 / r.G[kr] - 1) for k, kr in zip(ks, krs,
                                                                          strict=True)))
    assert dev[1] < dev[0] / 3 and dev[1] < 0.01, dev


def test_reference_growth_names_the_shipped_a_values():
    with pytest.raises(FileNotFoundError, match=r"shipped a values: .*0\.01.*1"):
        pd.reference_growth(a=0.5)
    plain = pd.reference_growth(a=np.inf)  # a = inf is the plain loss
    assert plain[0].a is None and plain[0].scheme == "explicit"
    with pytest.raises(ValueError, match="holds the growth factors of a"):
        pd.reference_growth(pd._data.data_path("growth_factor.npz"), a=1.0)


def test_tangent_rescaling_is_exact_in_the_linear_regime(monkeypatch):
    """solve(tangent=True) rescales the odd part whenever |m| > _TANGENT_SPAN m0; forced
    here at every 1.5x of growth, it must reproduce the run without rescaling (same seed)
    while both are linear: to the pair difference's float resolution (~1e-6 relative per
    rescale at m0 = 1e-10) in m, to round-off in the even observables."""
    from dmft import _march

    kw = dict(dt=0.02, n_samples=2000, seed=3, n_groups=4)
    ref = solve(8.0, 1e-10, 0.3, **kw)
    monkeypatch.setattr(_march, "_TANGENT_SPAN", 1.5)
    calls = []
    rescale = _march._March._rescale_odd
    monkeypatch.setattr(_march._March, "_rescale_odd",
                        lambda self, k, lam: (calls.append(k), rescale(self, k, lam)))
    tan = solve(8.0, 1e-10, 0.3, tangent=True, **kw)
    assert len(calls) >= 8 and ref.m[-1] / 1e-10 > 4  # rescaled in every group, G grew
    np.testing.assert_allclose(tan.m, ref.m, rtol=1e-5)
    np.testing.assert_allclose(tan.rho, ref.rho, rtol=1e-5, atol=1e-16)
    np.testing.assert_allclose(tan.e, ref.e, rtol=0, atol=1e-12)
    assert tan.metadata["tangent"] and not ref.metadata["tangent"]


def test_tangent_rescaling_keeps_the_sphere(monkeypatch):
    """C(t, t) = 1 exactly through the rescales: the O(m^2) change goes into P = C - m m^T.
    (A deviation of C's diagonal grows under the march: putting the rescale into C made
    C(t,t) = 0.75 by t = 18 at alpha = 12.) m0 = 1e-6 makes m^2 visible in float64."""
    from dmft import _march

    monkeypatch.setattr(_march, "_TANGENT_SPAN", 1.5)
    tan = solve(8.0, 1e-6, 0.3, dt=0.02, n_samples=2000, seed=3, n_groups=4, tangent=True)
    assert tan.m[-1] / 1e-6 > 4
    np.testing.assert_array_equal(np.diag(tan.C), 1.0)


def test_tangent_mode_refuses_large_m0_and_odd_labels():
    with pytest.raises(ValueError, match="m0"):
        solve(6.0, 0.1, 0.1, n_samples=400, tangent=True)
    with pytest.raises(ValueError, match="m0"):
        solve(6.0, 0.0, 0.1, n_samples=400, tangent=True)
    with pytest.raises(ValueError, match="even"):
        solve(2.0, 1e-10, 0.1, n_samples=400, loss="linear_regression", tangent=True)


def test_spectrum_of_a_tangent_solution_is_the_m0_to_zero_law(monkeypatch):
    """A tangent solution's m is m0 G(t), not an overlap: its Hessian law is the m = 0 one,
    and (while the untangented run is linear) equal to that of the plain m0 = 1e-10 run."""
    from dmft import _march
    from dmft.spectrum import WeightLaw

    kw = dict(dt=0.02, n_samples=2000, seed=3, n_groups=4, sample_times=[0.0, 0.3])
    ref = solve(8.0, 1e-10, 0.3, **kw)
    monkeypatch.setattr(_march, "_TANGENT_SPAN", 1.5)
    tan = solve(8.0, 1e-10, 0.3, tangent=True, **kw)
    tan.m = tan.m * 2e10  # even an "overlap" far above 1 must not reach the law
    law_t, law_r = (WeightLaw.from_solution(s, 0.3) for s in (tan, ref))
    assert law_t.m == 0.0 and abs(law_r.m) < 1e-8
    assert law_t.mu == pytest.approx(law_r.mu, rel=1e-9)
    x = np.linspace(law_r.z_min, law_r.z_max, 9)[1:-1]  # off the end samples
    np.testing.assert_allclose(law_t.cdf(x), law_r.cdf(x), atol=1e-6)
    assert law_t.outlier().lam == pytest.approx(law_r.outlier().lam, rel=1e-6, abs=1e-9)


def test_cli_solve_tangent(tmp_path, capsys):
    """dmft solve --tangent reaches the solver (its m is m0 G, recorded as a tangent run
    that loads back) and a too-large m0 is one error line with exit code 2."""
    from dmft import cli
    from dmft.solution import Solution

    out = tmp_path / "g.npz"
    argv = ["solve", "--alpha", "8", "--t-max", "0.2", "--n-samples", "800", "--no-progress",
            "--tangent"]
    assert cli.main([*argv, "--m0", "1e-10", "--out", str(out)]) == 0
    sol = Solution.load(out)
    assert sol.metadata["tangent"] and sol.m[-1] / 1e-10 > 1.5
    assert cli.main([*argv, "--m0", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "tangent" in err


def test_shipped_long_growth_is_recomputed_at_small_size():
    """data/growth_factor_t100.npz (tangent mode, S = 2e4) against an independent shorter
    run (S = 16000, another seed) at t <= 2: the difference of log G within 3 combined
    standard errors (delta method), and the shipped run's own metadata says tangent mode.
    (At alpha = 14 groups of 1000 paths are not enough: measured log G(2) = 5.0-13.3
    between the groups of one S = 4000 run, 7.0-7.5 with 4000 paths per group.)"""
    from dmft._io import load_npz

    path = _data.data_path(_data.GROWTH_LONG)
    shipped = pd.reference_growth(path)
    assert load_npz(path)[1]["tangent"] is True
    g_ship = next(g for g in shipped if g.alpha == 14.0)
    g = pd.growth_factor(14.0, t_max=2.0, dt=0.02, n_samples=16000, seed=11, n_groups=4)
    for t in (0.5, 1.0, 2.0):
        i, j = np.argmin(np.abs(g_ship.t - t)), np.argmin(np.abs(g.t - t))
        diff = np.log(g.G[j]) - np.log(g_ship.G[i])
        err = np.hypot(g.G_sem[j] / g.G[j], g_ship.G_sem[i] / g_ship.G[i])
        assert abs(diff) < 3 * err + 0.02, (t, diff, err)


def test_group_log_G_is_consistent_with_the_group_mean_through_rescales(monkeypatch):
    """GrowthFactor.log_G_groups are the groups' own log G: their exp averages to the
    solver's G (its group mean) to round-off, also through the tangent rescales (each group
    has its own scale: forced at every 1.5x of growth they must reproduce the groups of the
    run without rescaling, up to amplified round-off); log_G, the mean of the logs, lies
    below log G (Jensen), visibly where the groups diverge (alpha = 14), and log_G_sem is
    the spread of the logs over sqrt(n_groups)."""
    from dmft import _march

    kw = dict(t_max=2.0, dt=0.02, n_samples=4000, seed=3, n_groups=4)
    ref = pd.growth_factor(14.0, **kw)
    assert np.max(ref.log_G_groups) < np.log(_march._TANGENT_SPAN)  # never rescaled
    monkeypatch.setattr(_march, "_TANGENT_SPAN", 1.5)
    g = pd.growth_factor(14.0, **kw)
    assert g.log_G_groups.shape == (4, g.t.size)
    # a group given another group's scale, or none, errs by >= log 1.5 = 0.4; the round-off
    # of each rescale is amplified by the sensitive dynamics at alpha = 14 (measured 2.6e-3
    # after ~20 rescales by t = 2, 4e-4 after ~2 at span 30, 5e-7 at span 1e3)
    np.testing.assert_allclose(g.log_G_groups, ref.log_G_groups, rtol=0, atol=0.05)
    np.testing.assert_allclose(np.exp(g.log_G_groups).mean(axis=0), g.G, rtol=1e-12)
    assert np.all(g.log_G <= np.log(g.G) + 1e-12)
    assert g.G[-1] > 1e3 and np.log(g.G[-1]) - g.log_G[-1] > 0.1  # the groups diverge
    spread = g.log_G_groups[:, -1].std(ddof=1) / 2
    np.testing.assert_allclose(g.log_G_sem[-1], spread, rtol=1e-12)


def test_rate_is_the_mean_of_the_group_slopes():
    """rate(t0, t1) on exactly exponential groups G_g = exp(l_g t + b_g): the mean of the
    l_g and std(ddof=1)/sqrt(k) of them (closed form), only on the window asked for."""
    t = np.linspace(0.0, 20.0, 201)
    lam = np.array([0.3, 0.5, 0.45, 0.1])
    logs = lam[:, None] * t + np.array([0.0, 1.0, -2.0, 0.5])[:, None]
    logs[:, t > 10] += 5.0 * (t[t > 10] - 10)  # another law after t = 10: outside the window
    g = pd.GrowthFactor(alpha=12.0, t=t, G=np.exp(logs).mean(axis=0),
                        G_sem=np.exp(logs).std(axis=0, ddof=1) / 2, log_G_groups=logs)
    rate, err = g.rate(2.0, 10.0)
    assert rate == pytest.approx(lam.mean(), rel=1e-10)
    assert err == pytest.approx(lam.std(ddof=1) / 2, rel=1e-8)
    bare = dataclasses.replace(g, log_G_groups=None)
    r_bare, e_bare = bare.rate(2.0, 10.0)
    assert math.isnan(e_bare) and r_bare != pytest.approx(rate, rel=1e-3)
    np.testing.assert_allclose(bare.log_G_sem, g.G_sem / g.G)
    with pytest.raises(ValueError, match="fewer than two"):
        g.rate(30.0, 40.0)
    with pytest.warns(RuntimeWarning, match="not positive"):  # no log of a G <= 0
        assert pd._group_logs(np.array([[1.0, 2.0], [1.0, -0.5]]), 12.0) is None


def test_log_G_max_is_the_maximum_of_the_mean_group_log():
    """With the groups kept, log_G_max is max_t of the mean of the group logs (not of the log
    of the group mean, which the fastest group dominates), its error the s.e. of that mean
    at the maximum; without them, log max G and the delta method (closed forms)."""
    t = np.linspace(0.0, 10.0, 101)
    logs = np.array([1.0, 1.2, 0.8, 6.0])[:, None] * np.sin(t / 4.0)  # one fast group
    g = pd.GrowthFactor(alpha=12.0, t=t, G=np.exp(logs).mean(axis=0),
                        G_sem=np.exp(logs).std(axis=0, ddof=1) / 2, log_G_groups=logs)
    k = int(np.argmax(np.sin(t / 4.0)))
    assert g.log_G_max == pytest.approx(logs[:, k].mean(), rel=1e-12)
    assert g.log_G_max_sem == pytest.approx(logs[:, k].std(ddof=1) / 2, rel=1e-12)
    bare = dataclasses.replace(g, log_G_groups=None)
    assert bare.log_G_max == pytest.approx(np.log(g.G.max()), rel=1e-12)
    assert bare.log_G_max_sem == pytest.approx(g.G_sem[k] / g.G[k], rel=1e-12)
    assert bare.log_G_max > g.log_G_max + 1.0  # Jensen: the fast group dominates the mean


def test_reference_growth_file_keeps_the_groups(tmp_path):
    """write_reference_growth stores each group's log G (thinned like G) and
    reference_growth gives them back; the same solve through growth_factor agrees."""
    path = tmp_path / "g.npz"
    kw = dict(t_max=0.5, dt=0.02, n_samples=2000)
    pd.write_reference_growth(path, alphas=[6.0], every=5, progress=False, **kw)
    (back,) = pd.reference_growth(path)
    direct = pd.growth_factor(6.0, seed=0, **kw)
    np.testing.assert_allclose(back.log_G_groups, direct.log_G_groups[:, ::5], rtol=1e-12)
    np.testing.assert_allclose(back.log_G, direct.log_G[::5], rtol=1e-12)
