"""Tests of the finite-N simulator (THEORY.md E1-E5, H1).

Tolerances come from error estimates (finite differences: the difference between two step
sizes bounds the truncation error) or from the ensemble statistics (standard errors); no
number is copied from the code's own output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dmft.losses import get_loss
from dmft.simulate import (
    HessianEigs,
    Problem,
    SimulationInterrupted,
    SimulationResult,
    SimulationStatus,
    energy,
    hessian_extremes,
    make_problem,
    riemannian_gradient,
    riemannian_hessian_dense,
    riemannian_hessian_matvec,
    simulate,
)

EPS = np.finfo(np.float64).eps


# ------------------------------------------------------------------------------------------
# helpers: an independent route to L on the sphere
# ------------------------------------------------------------------------------------------


def _loss_total(X, y, w, loss="phase_retrieval"):
    """L(w) = sum_mu l(h_mu; y_mu), straight from E4 (no code from dmft.simulate)."""
    h = X @ w / math.sqrt(X.shape[1])
    return float(np.sum(get_loss(loss).l(h, y)))


def _curve(w, v, s):
    """Retraction curve on the sphere |w|^2 = N through w with velocity v (tangent)."""
    z = w + s * v
    return z * (math.sqrt(w.size) / np.linalg.norm(z))


def _tangent(rng, w):
    v = rng.standard_normal(w.size)
    return v - (v @ w) / (w @ w) * w


def _point(alpha=5.0, N=40, m0=0.4, seed=1, loss="phase_retrieval"):
    p = make_problem(alpha, N, m0=m0, seed=seed, loss=loss)
    return p, p.W0[0].copy()


# ------------------------------------------------------------------------------------------
# problem generation
# ------------------------------------------------------------------------------------------


def test_make_problem_norms_and_overlaps():
    N = 200
    p = make_problem(3.0, N, m0=[0.2, -0.5, 1.0], seed=3, replicas=3)
    assert isinstance(p, Problem)
    assert p.X.shape == (600, N) and p.X.flags.c_contiguous
    assert p.y.shape == (600,) and p.M == 600 and p.N == N
    np.testing.assert_allclose(p.w_star @ p.w_star, N, rtol=1e-12)
    np.testing.assert_allclose(np.sum(p.W0**2, axis=1), N, rtol=1e-12)
    np.testing.assert_allclose(p.m0, [0.2, -0.5, 1.0], atol=1e-12)
    # labels follow E2
    h_star = p.X @ p.w_star / math.sqrt(N)
    np.testing.assert_allclose(p.y, h_star**2, rtol=1e-12)
    # dataset independent of the starts
    q = make_problem(3.0, N, m0=None, seed=3, replicas=5)
    np.testing.assert_array_equal(p.X, q.X)
    np.testing.assert_array_equal(p.w_star, q.w_star)
    # random starts: m0 ~ N(0, 1/N), far below 1; 6 standard deviations
    assert np.all(np.abs(q.m0) < 6 / math.sqrt(N))
    # float32 problem is the float64 one rounded
    r = make_problem(3.0, N, m0=0.2, seed=3, dtype=np.float32)
    assert r.X.dtype == np.float32 and r.W0.dtype == np.float32
    np.testing.assert_array_equal(r.X, p.X.astype(np.float32))


# ------------------------------------------------------------------------------------------
# gradient and Hessian against finite differences along a retraction curve
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["phase_retrieval", "linear_regression"])
def test_riemannian_gradient_finite_differences(loss):
    p, w = _point(loss=loss)
    rng = np.random.default_rng(0)
    g, mu = riemannian_gradient(p.X, p.y, w, loss=loss)
    assert abs(g @ w) <= 1e-10 * np.linalg.norm(g) * np.linalg.norm(w)  # tangent
    L0 = _loss_total(p.X, p.y, w, loss)
    for _ in range(3):
        v = _tangent(rng, w)
        exact = g @ v

        def fd(s, v=v):
            return (
                _loss_total(p.X, p.y, _curve(w, v, s), loss)
                - _loss_total(p.X, p.y, _curve(w, v, -s), loss)
            ) / (2 * s)

        s = 1e-3
        d1, d2 = fd(s), fd(s / 2)
        # O(s^2) truncation: |d2 - exact| ~ |d1 - d2| / 3; plus round-off eps L / s
        tol = abs(d1 - d2) + 100 * EPS * abs(L0) / (s / 2)
        assert abs(d2 - exact) <= tol, (d2, exact, tol)
    # mu = w.grad L / N (E5), computed independently
    h = p.X @ w / math.sqrt(p.N)
    f = get_loss(loss).f(h, p.y)
    np.testing.assert_allclose(mu, f @ h / p.N, rtol=1e-12)


@pytest.mark.parametrize("loss", ["phase_retrieval", "linear_regression"])
def test_riemannian_hessian_finite_differences(loss):
    p, w = _point(loss=loss)
    rng = np.random.default_rng(1)
    L0 = _loss_total(p.X, p.y, w, loss)

    def q_fd(v, s):
        """d^2/ds^2 L(curve(s)) at 0 = v^T H v for tangent v (the curve is second order)."""
        lp = _loss_total(p.X, p.y, _curve(w, v, s), loss)
        lm = _loss_total(p.X, p.y, _curve(w, v, -s), loss)
        return (lp - 2 * L0 + lm) / s**2

    for _ in range(3):
        u, v = _tangent(rng, w), _tangent(rng, w)
        Hv = riemannian_hessian_matvec(p.X, p.y, w, v, loss=loss)
        exact_uv = u @ Hv  # polarisation: u^T H v = (q(u+v) - q(u-v)) / 4
        s = 2e-3
        est1 = (q_fd(u + v, s) - q_fd(u - v, s)) / 4
        est2 = (q_fd(u + v, s / 2) - q_fd(u - v, s / 2)) / 4
        tol = abs(est1 - est2) + 100 * EPS * abs(L0) / (s / 2) ** 2
        assert abs(est2 - exact_uv) <= tol, (est2, exact_uv, tol)
        exact_vv = v @ Hv
        e1, e2 = q_fd(v, s), q_fd(v, s / 2)
        tol = abs(e1 - e2) + 100 * EPS * abs(L0) / (s / 2) ** 2
        assert abs(e2 - exact_vv) <= tol
        # H v is tangent
        assert abs(Hv @ w) <= 1e-10 * np.linalg.norm(Hv) * np.linalg.norm(w)


def test_dense_hessian_matches_matvec():
    p, w = _point(N=60)
    Hd = riemannian_hessian_dense(p.X, p.y, w)
    V = np.random.default_rng(2).standard_normal((p.N, 4))
    HV = riemannian_hessian_matvec(p.X, p.y, w, V)
    scale = np.linalg.norm(Hd, 2) * np.linalg.norm(V, axis=0)
    assert np.all(np.linalg.norm(Hd @ V - HV, axis=0) <= 1e-12 * scale)
    np.testing.assert_allclose(riemannian_hessian_matvec(p.X, p.y, w, V[:, 0]), HV[:, 0])
    # the trivial direction w is a zero mode of H1
    assert np.linalg.norm(Hd @ w) <= 1e-12 * np.linalg.norm(Hd, 2) * np.linalg.norm(w)
    with pytest.raises(ValueError, match="N <= 2000"):
        riemannian_hessian_dense(np.zeros((2, 2001)), np.zeros(2), np.ones(2001))


def _dense_nontrivial(X, y, w):
    """Eigenpairs of the dense H1 without the trivial mode along w (numpy.linalg.eigh)."""
    lam, vec = np.linalg.eigh(riemannian_hessian_dense(X, y, w))
    trivial = np.argmax(np.abs(vec.T @ w))
    keep = np.arange(lam.size) != trivial
    return lam[keep], vec[:, keep]


@pytest.mark.parametrize("m0", [0.0, 0.5])
def test_lanczos_extremes_match_dense(m0):
    N = 300
    p = make_problem(4.0, N, m0=m0, seed=11)
    w = p.W0[0]
    tol = 1e-10
    ev = hessian_extremes(p.X, p.y, w, p.w_star, k_low=3, k_high=2, method="lanczos", tol=tol)
    assert isinstance(ev, HessianEigs)
    lam, vec = _dense_nontrivial(p.X, p.y, w)
    norm = np.max(np.abs(lam))
    # ARPACK: eigenvalue residual <= tol * |lam|
    np.testing.assert_allclose(ev.lam_low, lam[:3], rtol=0, atol=10 * tol * norm)
    np.testing.assert_allclose(ev.lam_high, lam[::-1][:2], rtol=0, atol=10 * tol * norm)
    assert np.all(np.diff(ev.lam_low) >= 0) and np.all(np.diff(ev.lam_high) <= 0)
    # eigenvector error ~ residual / gap
    gaps = np.minimum(np.diff(lam[:4]), np.r_[np.inf, np.diff(lam[:3])])
    ov_dense = (p.w_star @ vec[:, :3]) ** 2 / N
    # d(<v,w*>^2/N) <= 2 |dv| with |dv| <~ residual / gap, residual <= tol * |lam|
    assert np.all(np.abs(ev.overlap2_low - ov_dense) <= 2 * 10 * tol * norm / gaps)
    # dense method of hessian_extremes agrees too
    evd = hessian_extremes(p.X, p.y, w, p.w_star, method="dense")
    np.testing.assert_allclose(evd.lam_low, lam[:3], atol=1e-10 * norm)


def test_trivial_direction_excluded_at_global_minimum():
    # at w = w*: f = 0, mu = 0 and H1 = P (2/N sum h*^2 x x^T) P is positive on the tangent
    # space, while the dense matrix has the trivial eigenvalue 0 along w.
    p = make_problem(4.0, 200, m0=1.0, seed=5)
    ev = hessian_extremes(p.X, p.y, p.w_star, p.w_star, method="lanczos")
    lam, _ = _dense_nontrivial(p.X, p.y, p.w_star)
    assert lam[0] > 0 and ev.lam_low[0] > 0
    np.testing.assert_allclose(ev.lam_low, lam[:3], atol=1e-7 * lam[-1])
    # eigenvectors orthogonal to w = w*: overlaps vanish
    assert np.all(ev.overlap2_low < 1e-12)


# ------------------------------------------------------------------------------------------
# dynamics
# ------------------------------------------------------------------------------------------


def test_sphere_preserved_energy_decreases_reproducible():
    kw = dict(alpha=6.0, N=300, m0=0.2, t_max=0.5, eta=0.005, seeds=2, replicas=2, seed=7)
    r = simulate(**kw)
    assert r.status == 0 and r.m.shape == (4, 101) and r.t[0] == 0 and r.t[-1] == 0.5
    np.testing.assert_allclose(np.sum(r.w_final**2, axis=1), 300, rtol=1e-12)
    assert np.all(np.abs(r.m) <= 1 + 1e-12)
    # m of the final weights: recompute with the teacher of each dataset
    children = np.random.SeedSequence(7).spawn(2)
    for d in range(2):
        p = make_problem(6.0, 300, m0=0.2, seed=children[d], replicas=2)
        np.testing.assert_allclose(r.m[2 * d : 2 * d + 2, 0], p.m0, atol=1e-12)
        np.testing.assert_allclose(
            r.w_final[2 * d : 2 * d + 2] @ p.w_star / 300, r.m[2 * d : 2 * d + 2, -1], atol=1e-12
        )
        np.testing.assert_allclose(r.e[2 * d, -1], energy(p.X, p.y, r.w_final[2 * d]), rtol=1e-10)
    # small eta: e decreases step by step (up to round-off)
    de = np.diff(r.e, axis=1)
    assert np.all(de <= 1e-12 * r.e[:, 1:])
    # reproducible from the seed, different for another seed
    r2 = simulate(**kw)
    np.testing.assert_array_equal(r.m, r2.m)
    np.testing.assert_array_equal(r.e, r2.e)
    r3 = simulate(**{**kw, "seed": 8})
    assert not np.array_equal(r.m[:, -1], r3.m[:, -1])
    # dataset d does not depend on the number of datasets
    r4 = simulate(**{**kw, "seeds": 1})
    np.testing.assert_array_equal(r4.m, r.m[:2])


@pytest.mark.parametrize("m0", [0.0, 0.6])
def test_initial_energy_and_multiplier(m0):
    """e(0) = 1 - m0^2 and mu(0) = 2 alpha (1 - m0^2) (THEORY section 1, exact)."""
    alpha, R = 4.0, 40
    r = simulate(alpha, 400, m0=m0, t_max=0.01, eta=0.01, seeds=R, replicas=1, seed=21)
    e0, mu0 = r.e[:, 0], r.mu[:, 0]
    se_e = e0.std(ddof=1) / math.sqrt(R)
    se_mu = mu0.std(ddof=1) / math.sqrt(R)
    np.testing.assert_allclose(r.sem("e")[0], se_e)
    assert abs(e0.mean() - (1 - m0**2)) < 4 * se_e
    assert abs(mu0.mean() - 2 * alpha * (1 - m0**2)) < 4 * se_mu


def test_initial_values_random_start():
    # random start: each run has its own m(0) ~ 1/sqrt(N); e(0) = 1 - m(0)^2 in expectation
    alpha, R = 3.0, 40
    r = simulate(alpha, 400, m0=None, t_max=0.01, eta=0.01, seeds=R, seed=4)
    d_e = r.e[:, 0] - (1 - r.m[:, 0] ** 2)
    d_mu = r.mu[:, 0] - 2 * alpha * (1 - r.m[:, 0] ** 2)
    assert abs(d_e.mean()) < 4 * d_e.std(ddof=1) / math.sqrt(R)
    assert abs(d_mu.mean()) < 4 * d_mu.std(ddof=1) / math.sqrt(R)


def test_gradient_descent_tends_to_gradient_flow():
    """eta -> eta/2 moves m(t) by less than the ensemble standard error (GD -> GF, E5).

    alpha = 4, m0 = 0.3: m(t) still rises over 0 < t <= 2, so every recorded time tests it."""
    kw = dict(alpha=4.0, N=500, m0=0.3, t_max=2.0, seeds=8, seed=3, record_every=0.25)
    r1 = simulate(eta=0.01, **kw)
    r2 = simulate(eta=0.005, **kw)
    np.testing.assert_allclose(r1.t, r2.t)
    assert r2.m_mean[-1] < 1 - 2 * r2.m_sem[-1]  # not trivially converged at t = 2
    diff = np.abs(r1.m_mean - r2.m_mean)[1:]
    assert np.all(diff < r2.m_sem[1:]), (diff, r2.m_sem[1:])


def test_recovery_at_alpha_15():
    r = simulate(15.0, 300, m0=0.1, t_max=3.0, eta=0.01, seeds=4, success_threshold=0.99)
    assert np.all(np.abs(r.m[:, -1]) > 0.99)
    assert r.success_rate == 1.0 and r.success.all()


def test_early_stop():
    r = simulate(
        15.0,
        200,
        m0=0.5,
        t_max=20.0,
        eta=0.01,
        seeds=2,
        grad_tol=1e-6,
        hessian_every=5.0,
        k_low=1,
        k_high=1,
    )
    assert r.status == 1 and "early stop" in r.message
    assert r.t[-1] == 20.0 and r.hessian_t[-1] == 20.0  # records filled up to t_max
    assert np.all(r.grad_norm[:, -1] < 1e-6)
    assert np.all(np.isfinite(r.m)) and np.all(np.isfinite(r.hess_low))
    # the frozen state: the last records repeat the converged values
    np.testing.assert_array_equal(r.m[:, -1], r.m[:, -2])
    np.testing.assert_array_equal(r.hess_low[:, -1], r.hess_low[:, -2])
    assert np.all(np.abs(r.m[:, -1]) > 0.99)


def test_hessian_snapshots_in_simulate():
    kw = dict(alpha=5.0, N=200, m0=0.3, t_max=0.4, eta=0.01, seeds=2, replicas=2, seed=9)
    r = simulate(hessian_every=0.2, k_low=2, k_high=1, **kw)
    np.testing.assert_allclose(r.hessian_t, [0.0, 0.2, 0.4])
    assert r.hess_low.shape == (4, 3, 2) and r.hess_high.shape == (4, 3, 1)
    assert r.hess_low_overlap2.shape == (4, 3, 2)
    # snapshot at t = 0 equals a direct evaluation on the same dataset
    p = make_problem(5.0, 200, m0=0.3, seed=np.random.SeedSequence(9).spawn(2)[1], replicas=2)
    ev = hessian_extremes(p.X, p.y, p.W0[1], p.w_star, k_low=2, k_high=1)
    np.testing.assert_allclose(r.hess_low[3, 0], ev.lam_low, rtol=1e-6)
    np.testing.assert_allclose(r.hess_high[3, 0], ev.lam_high, rtol=1e-6)
    assert r.mean("hess_low").shape == (3, 2)


def test_float32_agrees_with_float64():
    kw = dict(alpha=6.0, N=300, m0=0.3, t_max=1.0, eta=0.01, seeds=4, seed=2)
    r64 = simulate(**kw)
    r32 = simulate(dtype=np.float32, **kw)
    assert r32.metadata["dtype"] == "float32"
    # the float32 rounding error must be negligible against the ensemble fluctuations
    assert np.all(np.abs(r32.m_mean - r64.m_mean)[1:] < r64.m_sem[1:])


def test_save_load_round_trip(tmp_path):
    r = simulate(
        5.0,
        100,
        m0=[0.1, 0.4],
        t_max=0.2,
        eta=0.01,
        seeds=2,
        replicas=2,
        hessian_every=0.1,
        k_low=2,
        k_high=1,
    )
    path = r.save(tmp_path / "sim")
    assert path.suffix == ".npz"
    q = SimulationResult.load(path)
    for name in (
        "t",
        "m",
        "e",
        "mu",
        "grad_norm",
        "hessian_t",
        "hess_low",
        "hess_low_overlap2",
        "hess_high",
        "success",
        "w_final",
    ):
        np.testing.assert_array_equal(getattr(q, name), getattr(r, name))
    assert q.success.dtype == bool
    assert q.status == r.status and q.message == r.message
    assert q.metadata == r.metadata
    assert r.metadata["m0"] == [0.1, 0.4] and r.metadata["N"] == 100
    np.testing.assert_array_equal(q.m_mean, r.m_mean)


def test_mean_sem_nan_safe():
    r = simulate(5.0, 100, m0=0.2, t_max=0.05, eta=0.01, seeds=1)
    assert np.all(np.isnan(r.sem("m")))  # one run: no error bar
    r.m[0, 1] = np.nan
    assert np.isfinite(r.mean("m")[0]) and np.isnan(r.mean("m")[1])
    with pytest.raises(ValueError, match="unknown observable"):
        r.mean("nope")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": -2.0}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"N": 1}, "N"),
        ({"eta": 0.0}, "eta"),
        ({"eta": -0.01}, "eta"),
        ({"eta": float("inf")}, "eta"),
        ({"m0": 1.5}, "m0"),
        ({"m0": -1.01}, "m0"),
        ({"m0": [0.1, 0.2]}, "m0"),
        ({"t_max": 0.0}, "t_max"),
        ({"seeds": 0}, "seeds"),
        ({"replicas": 0}, "replicas"),
        ({"dtype": np.int64}, "dtype"),
        ({"loss": "nope"}, "loss"),
        ({"hessian_every": -1.0}, "hessian_every"),
        ({"eta": 1.0}, "eta"),  # unstable: eta * lambda_max > 2
    ],
)
def test_bad_inputs_raise(kwargs, match):
    base = dict(alpha=8.0, N=100, m0=0.1, t_max=1.0, eta=0.01, seeds=1)
    with pytest.raises(ValueError, match=match):
        simulate(**{**base, **kwargs})


def test_divergence_stops_and_keeps_results():
    with pytest.warns(RuntimeWarning, match="non-finite"):
        # |w|^2 = N is restored every step, so only an absurd eta overflows (to inf/nan)
        r = simulate(8.0, 100, m0=0.1, t_max=5e300, eta=1e300, seeds=2, check_eta=False)
    assert r.status == -1
    assert "step" in r.message and "eta" in r.message
    assert r.t.size >= 1 and r.t[0] == 0
    assert r.m.shape[1] == r.t.size and np.all(np.isfinite(r.m[0]))
    np.testing.assert_allclose(r.m[0, 0], 0.1, atol=1e-12)


def test_too_large_eta_warns_when_not_rejected():
    # without the stability check, eta = 0.1 at alpha = 8 (eta * lambda_max >> 2) drives the
    # runs up in energy: a RuntimeWarning says so
    with pytest.warns(RuntimeWarning, match="energy increased"):
        simulate(8.0, 100, m0=0.1, t_max=2.0, eta=0.1, seeds=1, check_eta=False)


def test_linear_regression_initial_values_with_noise():
    """Pluggable loss and label noise: for l = (h - y)^2 / 2, y = h* + sqrt(Delta) xi,
    e(0) = 1 - m0 + Delta / 2 and mu(0) = alpha (1 - m0), exactly in expectation."""
    alpha, m0, delta, R = 3.0, 0.4, 0.5, 40
    r = simulate(
        alpha,
        300,
        m0=m0,
        t_max=0.01,
        eta=0.01,
        seeds=R,
        seed=5,
        loss="linear_regression",
        noise=delta,
    )
    assert r.metadata["loss"] == "linear_regression" and r.metadata["noise"] == delta
    e0, mu0 = r.e[:, 0], r.mu[:, 0]
    assert abs(e0.mean() - (1 - m0 + delta / 2)) < 4 * e0.std(ddof=1) / math.sqrt(R)
    assert abs(mu0.mean() - alpha * (1 - m0)) < 4 * mu0.std(ddof=1) / math.sqrt(R)


def test_tangent_step_same_flow():
    # w - eta (grad L - mu w) and w - eta grad L differ at O(eta^2) per step: same flow (E5)
    kw = dict(alpha=4.0, N=300, m0=0.3, t_max=1.0, eta=0.01, seeds=6, seed=8, record_every=0.25)
    a = simulate(**kw)
    b = simulate(tangent_step=True, **kw)
    assert b.metadata["tangent_step"] is True
    assert not np.array_equal(a.m, b.m)
    assert np.all(np.abs(a.m_mean - b.m_mean)[1:] < a.m_sem[1:])


def test_make_problem_seed_sequence_not_consumed():
    ss = np.random.SeedSequence(123)
    p1 = make_problem(2.0, 50, m0=0.5, seed=ss)
    p2 = make_problem(2.0, 50, m0=0.5, seed=ss)
    np.testing.assert_array_equal(p1.X, p2.X)
    np.testing.assert_array_equal(p1.W0, p2.W0)
    p3 = make_problem(2.0, 50, m0=0.5, seed=np.random.SeedSequence(124))
    assert not np.array_equal(p1.X, p3.X)


def test_rising_energy_is_a_failed_run_with_the_fix_in_the_message():
    """Issue 14 row 6: alpha = 14, eta = 0.035 passes the start check (eta lambda_max ~ 1.8)
    but the energy rises (1.03 -> 5.05); it used to be reported as converged."""
    with pytest.warns(RuntimeWarning, match="unstable step"):
        r = simulate(alpha=14, N=200, seeds=2, t_max=3, eta=0.035)
    assert r.status == SimulationStatus.FAILED and r.status < 0
    assert "eta * lambda_max >= 2" in r.message and "smaller eta" in r.message
    assert np.any(r.e[:, -1] > r.e[:, 0])  # the symptom, read off the records themselves
    # the eta the message proposes gives a proper descent
    eta_ok = float(r.message.rsplit("eta <= ", 1)[1])
    good = simulate(alpha=14, N=200, seeds=2, t_max=0.5, eta=eta_ok)
    assert good.status >= 0 and np.all(np.diff(good.e, axis=1) <= 1e-12 * good.e[:, 1:])


def test_keyboard_interrupt_returns_the_partial_result(monkeypatch, tmp_path):
    """Issue 14 row 3: Ctrl-C in the second dataset raises SimulationInterrupted (a
    KeyboardInterrupt) carrying the partial result; the first dataset is complete and equal
    to an uninterrupted run, what was not reached is NaN."""
    import dmft.simulate as sim

    kw = dict(alpha=5.0, N=100, m0=0.2, t_max=0.2, eta=0.01, seeds=3, seed=4)
    full = simulate(**kw)
    step, calls = sim._Block.step, {"n": 0}

    def interrupting_step(self, *args):
        calls["n"] += 1
        if calls["n"] == 25:  # dataset 1 (20 steps each), step 5
            raise KeyboardInterrupt
        return step(self, *args)

    monkeypatch.setattr(sim._Block, "step", interrupting_step)
    with pytest.raises(KeyboardInterrupt) as exc:
        simulate(**kw)
    assert isinstance(exc.value, SimulationInterrupted)
    part = exc.value.result
    assert part.status == SimulationStatus.INTERRUPTED and "interrupted" in part.message
    np.testing.assert_array_equal(part.m[0], full.m[0])
    np.testing.assert_array_equal(part.m[1, :5], full.m[1, :5])
    assert np.all(np.isnan(part.m[1, 6:])) and np.all(np.isnan(part.m[2]))
    q = SimulationResult.load(part.save(tmp_path / "partial"))
    assert q.status == SimulationStatus.INTERRUPTED


@pytest.mark.parametrize("t_max, t_end", [(0.015, 0.02), (0.025, 0.03), (0.03, 0.03),
                                          (0.02 + 1e-12, 0.02)])
def test_final_time_is_the_ceiling_rule_of_the_solver(t_max, t_end):
    """Issue 14 row 16: n_steps = ceil(t_max / eta) up to 1e-9 steps, as in the solver
    (0.025 / 0.01 used to round to 2 steps, ending before t_max)."""
    from dmft.solver import solve

    r = simulate(3.0, 50, m0=0.3, t_max=t_max, eta=0.01, seeds=1)
    sol = solve(3.0, 0.3, t_max, dt=0.01, n_samples=64)
    assert r.t[-1] == pytest.approx(t_end, abs=1e-15) and sol.t[-1] == pytest.approx(t_end)
    assert r.t.size == sol.t.size and r.metadata["t_end"] == r.t[-1]


# ------------------------------------------------------------------ eta=None (issue 11 item 3)
def test_chosen_eta_from_lambda_max_against_dense_hessian():
    """eta=None with l_a (a = 0.01): eta = 0.5/lambda_max at the start of dataset 0, with
    lambda_max (Lanczos lower bound) against the top of the dense Riemannian Hessian (H1) of
    the same problem (SeedSequence(seed).spawn(seeds)[0]) to the Lanczos tolerance 1e-3; the
    run with that step decreases the energy, one 20 times larger is reported FAILED."""
    lo = get_loss("phase_retrieval", a=0.01)
    kw = dict(alpha=4.0, N=120, t_max=0.2, seeds=2, seed=5, loss=lo)
    r = simulate(**kw)
    meta = r.metadata
    assert meta["eta_chosen_from"] == "lambda_max" and r.status == 0
    prob = make_problem(4.0, 120, None, np.random.SeedSequence(5).spawn(2)[0], 1, lo)
    top = np.linalg.eigvalsh(riemannian_hessian_dense(prob.X, prob.y, prob.W0[0], lo))[-1]
    assert meta["lambda_max_start"] <= top * (1 + 1e-12)
    assert meta["eta"] * top == pytest.approx(0.5, rel=2e-3)
    assert np.all(r.e[:, -1] < r.e[:, 0])
    with pytest.warns(RuntimeWarning, match="unstable step|non-finite"):
        bad = simulate(**kw, eta=20 * meta["eta"], check_eta=False)
    assert bad.status == SimulationStatus.FAILED and bad.metadata["eta_chosen_from"] == "given"


def test_chosen_eta_plain_loss_small_alpha_is_the_default():
    """Plain loss, alpha = 1.5: 0.5/lambda_max > 0.01 (lambda_max = O(10 alpha)), so the cap
    0.01 is chosen; the dense Hessian confirms 0.5/lambda_max exceeds it."""
    r = simulate(1.5, 100, t_max=0.05, seeds=1, seed=2)
    assert r.metadata["eta_chosen_from"] == "default" and r.metadata["eta"] == 0.01
    prob = make_problem(1.5, 100, None, np.random.SeedSequence(2).spawn(1)[0], 1)
    top = np.linalg.eigvalsh(riemannian_hessian_dense(prob.X, prob.y, prob.W0[0]))[-1]
    assert 0.5 / top > 0.01
