"""DMFT solver (THEORY.md D1-D9): exact limits, symmetries, building blocks, failure paths.

The cross-checks against finite-N gradient descent live in ``test_solver_vs_simulation.py``.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from dmft import cli
from dmft._kernels import response_row
from dmft.solver import Solution, _qr_append, _stratified_normal, solve


@pytest.fixture(scope="module")
def short_solution() -> Solution:
    return solve(5.0, 0.3, 0.2, dt=0.02, n_samples=16_000, seed=3, n_groups=8)


def test_initial_values_match_exact_gaussian_integrals(short_solution):
    """THEORY section 1: e(0) = 1 - m0^2 and mu(0) = 2 alpha (1 - m0^2), within 4 s.e."""
    s, m0, alpha = short_solution, 0.3, 5.0
    assert abs(s.e[0] - (1 - m0**2)) < 4 * s.e_sem[0]
    assert abs(s.mu[0] - 2 * alpha * (1 - m0**2)) < 4 * s.mu_sem[0]
    # local part of M_R at t = 0: alpha E[f'] = alpha E[3h^2 - h*^2] = 2 alpha
    assert s.M_R_local[0] == pytest.approx(2 * alpha, rel=0.05)
    assert s.m[0] == m0 and s.C[0, 0] == 1.0 and s.R[0, 0] == 1.0


def test_solution_structure(short_solution):
    s = short_solution
    T = s.t.size
    assert s.status == 0 and s.success
    assert s.C.shape == s.R.shape == s.M_C.shape == s.M_R.shape == (T, T)
    np.testing.assert_allclose(s.C, s.C.T)
    np.testing.assert_allclose(s.M_C, s.M_C.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(s.R), 1.0)
    assert np.all(np.triu(s.R, 1) == 0)
    assert s.c_diag_error < 1e-10  # the multiplier keeps C(t, t) = 1 (module docstring)
    assert np.all(np.linalg.eigvalsh(s.M_C) > -1e-9 * np.abs(s.M_C).max())
    assert s.h_samples.shape == (s.sample_times.size, s.h_star.size)
    h0 = s.samples_at(0.0)  # D1: Var(u(0)) = 1, Cov(u(0), h*) = m0
    assert abs(np.mean(h0 * s.h_star) - 0.3) < 4 / np.sqrt(h0.size)
    assert abs(np.mean(h0**2) - 1.0) < 4 * np.sqrt(2 / h0.size)
    with pytest.raises(ValueError, match="no samples kept"):
        s.samples_at(0.06)


def test_m0_zero_stays_at_zero():
    """E1-E5: y depends on h*^2, so m0 = 0 gives m(t) = 0 for all t."""
    s = solve(6.0, 0.0, 1.0, dt=0.02, n_samples=4000, seed=1)
    assert s.status == 0
    assert np.all(np.abs(s.m) <= np.maximum(4 * s.m_sem, 1e-12))


def test_seed_reproduces_run():
    a = solve(4.0, 0.2, 0.3, dt=0.02, n_samples=2000, seed=7)
    b = solve(4.0, 0.2, 0.3, dt=0.02, n_samples=2000, seed=7)
    c = solve(4.0, 0.2, 0.3, dt=0.02, n_samples=2000, seed=8)
    np.testing.assert_array_equal(a.m, b.m)
    np.testing.assert_array_equal(a.h_samples, b.h_samples)
    assert not np.array_equal(a.m, c.m)


def test_response_row_matches_dense_inverse():
    """D3 by the adjoint sweep vs the dense inverse of the discretised Volterra operator."""
    rng = np.random.default_rng(0)
    n, S, dt = 12, 5, 0.05
    R = np.tril(rng.uniform(0.2, 1.0, (n + 1, n + 1)))
    np.fill_diagonal(R, 1.0)
    FP = rng.normal(0, 3, (S, n + 1))
    w = rng.uniform(0.5, 1.5, S)
    w /= w.sum()
    got = response_row(n, dt, np.ascontiguousarray(R.T), FP, w, 3)
    expected = np.zeros(n)
    for a in range(S):
        # delta h = delta P - dt R_strict F' delta h  =>  chi_total = (I + dt R_strict F')^-1
        A = dt * np.tril(R, -1) * FP[a][None, :]
        chi = (np.linalg.inv(np.eye(n + 1) + A)[n, :n]) / dt
        expected += w[a] * FP[a, n] * chi
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_incremental_qr_reproduces_gram_matrix_with_degenerate_columns():
    """The noise factor: Rq^T Rq = F F^T even when forces repeat (rank deficiency)."""
    rng = np.random.default_rng(1)
    S, T = 50, 8
    F = rng.normal(size=(T, S))
    F[3] = F[1]  # exactly dependent column
    F[5] = 2 * F[0] - F[2]
    Q, Rq = np.empty((T, S)), np.zeros((T, T))
    for n in range(T):
        _qr_append(Q, Rq, n, F[n].copy())
    np.testing.assert_allclose(Rq.T @ Rq, F @ F.T, atol=1e-9)
    assert Rq[3, 3] == 0.0 and Rq[5, 5] == 0.0


def test_stratified_normals_are_standard_normal():
    rng = np.random.default_rng(2)
    x = _stratified_normal(20_000, rng)
    from scipy import stats

    assert stats.kstest(x, "norm").pvalue > 1e-3
    # stratification: the sample variance is much closer to 1 than iid sampling allows
    assert abs(x.var() - 1) < 3 * np.sqrt(2 / x.size)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"m0": 1.5}, "m0"),
        ({"m0": 1.0}, "m0"),
        ({"dt": -0.1}, "dt"),
        ({"dt": 2.0}, "exceeds"),
        ({"n_samples": 3}, "n_samples"),
        ({"sample_times": [2.0]}, "sample_times"),
        ({"noise": -1.0}, "noise"),
        ({"loss": "nope"}, "unknown loss"),
    ],
)
def test_bad_input_raises_clear_errors(kwargs, match):
    args = {"alpha": 3.0, "m0": 0.1, "t_max": 1.0, "dt": 0.1, "n_samples": 200}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        solve(args.pop("alpha"), args.pop("m0"), args.pop("t_max"), **args)


def test_non_finite_forces_stop_and_keep_results():
    """A loss that turns non-finite mid-run: status -1, time named, the past kept."""
    from dmft.losses import PHASE_RETRIEVAL, Loss

    calls = {"n": 0}

    def f(h, y):  # finite for the first 10 evaluations, NaN afterwards
        calls["n"] += 1
        return PHASE_RETRIEVAL.f(h, y) * (np.nan if calls["n"] > 10 else 1.0)

    loss = Loss("breaks", PHASE_RETRIEVAL.l, f, PHASE_RETRIEVAL.fp, PHASE_RETRIEVAL.label)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = solve(4.0, 0.2, 1.0, dt=0.05, n_samples=400, seed=0, n_groups=2, loss=loss)
    assert s.status == -1 and not s.success
    assert "non-finite forces at t=0.25" in s.message
    assert any("stopped early" in str(w.message) for w in caught)
    assert s.t.size == 5  # steps 0..4 complete (two groups, 10 good evaluations)
    for name in ("m", "e", "mu", "C", "R", "M_C", "M_R"):
        assert np.all(np.isfinite(getattr(s, name))), name


def test_unstable_step_is_reported_not_integrated():
    """dt beyond the stability of the explicit step (finite-N analogue: eta lambda_max > 2,
    lambda_max ~ 45-67 at alpha = 6-15) raises the loss; the march stops and says so, while
    dt = 0.02 at the same alpha runs through with a non-increasing energy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bad = solve(12.0, 0.1, 1.0, dt=0.04, n_samples=2000, seed=1)
    assert bad.status == -1 and "unstable" in bad.message and "reduce dt" in bad.message
    assert np.all(np.isfinite(bad.e)) and bad.t.size < 26
    good = solve(12.0, 0.1, 1.0, dt=0.02, n_samples=2000, seed=1)
    assert good.status == 0
    assert np.all(np.diff(good.e) < 3 * good.e_sem[1:] + 1e-12)


def test_save_load_round_trip(tmp_path, short_solution):
    path = short_solution.save(tmp_path / "sol")
    back = Solution.load(path)
    for name in ("t", "C", "R", "m", "mu", "e", "M_C", "M_R", "h_samples", "h_star", "y"):
        np.testing.assert_array_equal(getattr(back, name), getattr(short_solution, name))
    assert back.loss.name == "phase_retrieval"
    assert back.alpha == 5.0 and back.status == 0
    with pytest.raises(ValueError, match="expected 'solution'"):
        from dmft._io import save_npz

        Solution.load(save_npz(tmp_path / "other", "simulation", {"t": np.zeros(2)}, {}))


def test_cli_solve_json(capsys, tmp_path):
    rc = cli.main(["solve", "--alpha", "3", "--m0", "0.2", "--t-max", "0.2", "--dt", "0.05",
                   "--samples", "400", "--json", "--no-progress",
                   "--out", str(tmp_path / "s.npz")])
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    for key in ("t", "m", "e", "mu", "m_sem", "e_sem"):
        assert len(payload[key]) == 5
    assert (tmp_path / "s.npz").exists()


def test_cli_solve_bad_input_exit_2(capsys):
    assert cli.main(["solve", "--alpha", "-2", "--m0", "0.1"]) == 2
    assert "alpha must be > 0" in capsys.readouterr().err
