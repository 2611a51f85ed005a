"""DMFT solver (THEORY.md D1-D9): exact limits, symmetries, building blocks, failure paths.

The cross-checks against finite-N gradient descent live in ``test_solver_vs_simulation.py``.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from dmft import _march, cli, solver
from dmft._kernels import response_row
from dmft._march import (
    _PIVOT_TOL,
    _advance_h_reference,
    _qr_append,
    _qr_append_reference,
    _stratified_normal,
)
from dmft.losses import get_loss
from dmft.solver import Solution, solve


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


def test_standard_errors_are_those_of_the_group_means():
    """m, e, mu are the means of the independent group curves and *_sem the standard error
    of that mean, sqrt(sum_g (x_g - x)^2 / (G (G - 1))), written out here directly."""
    s = solve(4.0, 0.2, 0.3, dt=0.02, n_samples=3000, seed=11, n_groups=9)
    for name in ("m", "e", "mu"):
        groups = getattr(s, f"{name}_groups")
        G = groups.shape[0]
        assert groups.shape == (9, s.t.size) and s.metadata["n_groups"] == G
        np.testing.assert_allclose(getattr(s, name), groups.sum(axis=0) / G, rtol=1e-13)
        dev = groups - groups.sum(axis=0) / G
        direct = np.sqrt((dev**2).sum(axis=0) / (G * (G - 1)))
        np.testing.assert_allclose(getattr(s, f"{name}_sem"), direct, rtol=1e-10)
        assert np.all(direct[1:] > 0)  # the groups are different populations


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


def _compact_qr(F):
    T, S = F.shape
    Q, Rq, r = np.empty((T, S)), np.zeros((T, T)), 0
    for n in range(T):
        r = _qr_append(Q, Rq, r, n, F[n].copy())
    return Q, Rq, r


def test_incremental_qr_reproduces_gram_matrix_with_degenerate_columns():
    """The noise factor: Rq^T Rq = F F^T even when forces repeat (rank deficiency), and
    dependent columns add no basis vector."""
    rng = np.random.default_rng(1)
    S, T = 50, 8
    F = rng.normal(size=(T, S))
    F[3] = F[1]  # exactly dependent column
    F[5] = 2 * F[0] - F[2]
    Q, Rq, r = _compact_qr(F)
    assert r == T - 2
    np.testing.assert_allclose(Rq.T @ Rq, F @ F.T, atol=1e-9)
    np.testing.assert_allclose(Q[:r] @ Q[:r].T, np.eye(r), atol=1e-13)
    assert not np.any(Rq[r:])


def test_incremental_qr_drops_innovations_below_the_pivot_tolerance():
    """A column whose new direction is a fraction p of its norm adds a basis vector iff
    p > _PIVOT_TOL, and the Gram matrix stays within _PIVOT_TOL |f_n| |f_n'| of F F^T."""
    rng = np.random.default_rng(3)
    S, T = 400, 6
    F = rng.normal(size=(T, S))
    Q0, _ = np.linalg.qr(F[:3].T)
    fresh = rng.normal(size=S)
    fresh -= Q0 @ (Q0.T @ fresh)
    fresh /= np.linalg.norm(fresh)
    for n, p in ((3, 0.1 * _PIVOT_TOL), (4, 10 * _PIVOT_TOL)):
        base = F[:3].T @ rng.normal(size=3)
        F[n] = base + p * np.linalg.norm(base) * fresh
    Q, Rq, r = _compact_qr(F)
    assert r == T - 1  # the column at n = 3 was dropped, n = 4 was kept
    norms = np.linalg.norm(F, axis=1)
    assert np.all(np.abs(Rq.T @ Rq - F @ F.T) <= 2 * _PIVOT_TOL * np.outer(norms, norms))


def test_incremental_qr_stays_orthonormal_for_nearly_collinear_forces():
    """Forces at successive steps differ by O(dt): the basis must stay orthonormal to
    round-off (one Gram-Schmidt pass alone loses it as eps * cond^2) and reproduce F."""
    rng = np.random.default_rng(2)
    S, T = 1500, 40
    F = 1.0 + np.cumsum(1e-4 * rng.normal(size=(T, S)), axis=0)  # cond(F) ~ 1e6
    Q, Rq, r = _compact_qr(F)
    assert r == T
    np.testing.assert_allclose(Q @ Q.T, np.eye(T), atol=1e-13)
    np.testing.assert_allclose(Q.T @ Rq, F.T, atol=1e-12)


@pytest.mark.parametrize("n_samples, t_max", [(4400, 0.4), (2000, 0.8)])
def test_fast_march_reproduces_reference_path(monkeypatch, n_samples, t_max):
    """Issue 15: the in-place march (compact 3-pass Gram-Schmidt, fused path update) is the
    old one (a row of Q and of Z per step) up to the order of floating-point sums: same
    seed, same curves to round-off over a horizon short enough that the march has not yet
    amplified it. 4400 paths: two tiles of the fused pass per group; 2000 paths to
    t = 0.8: the basis drops pivots below _PIVOT_TOL (measured: 38-41 vectors for 41
    steps)."""
    kw = dict(dt=0.02, n_samples=n_samples, n_response=400, seed=4, n_groups=4)
    fast = solve(3.0, 0.3, t_max, **kw)
    monkeypatch.setattr(_march, "_qr_append", _qr_append_reference)
    monkeypatch.setattr(solver._March, "_advance_h", _advance_h_reference)
    ref = solve(3.0, 0.3, t_max, **kw)
    for name in ("m", "e", "mu", "rho", "m_sem"):
        np.testing.assert_allclose(getattr(fast, name), getattr(ref, name), rtol=0,
                                   atol=1e-12, err_msg=name)
    for name in ("C", "M_C", "M_R", "h_samples"):
        np.testing.assert_allclose(getattr(fast, name), getattr(ref, name), rtol=0,
                                   atol=1e-10, err_msg=name)


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
        s = solve(4.0, 0.2, 1.0, dt=0.05, n_samples=400, seed=0, n_groups=2, loss=loss,
                  n_workers=1)  # the call counter is shared: one thread keeps its order
    assert s.status == -1 and not s.success
    assert "non-finite forces at t=0.25" in s.message
    assert any("stopped early" in str(w.message) for w in caught)
    assert s.t.size == 5  # steps 0..4 complete (two groups, 10 good evaluations)
    for name in ("m", "e", "mu", "C", "R", "M_C", "M_R"):
        assert np.all(np.isfinite(getattr(s, name))), name


def test_unstable_step_is_refused_at_start_and_reported_later():
    """dt beyond the stability of the explicit step (finite-N analogue: eta lambda_max > 2,
    lambda_max ~ 45-67 at alpha = 6-15) raises the loss. At alpha = 12, dt = 0.04 it does so
    at the first step: refused (ValueError) with a stable dt, which then runs through with a
    non-increasing energy; dt = 0.035 runs into the instability later (t ~ 0.8): status -1,
    the past kept."""
    with pytest.raises(ValueError, match=r"first 3 steps.*energy rose.*use dt <= ") as info:
        solve(12.0, 0.1, 1.0, dt=0.04, n_samples=2000, seed=1)
    advised = float(str(info.value).rsplit("= ", 1)[1])
    assert 0.005 < advised < 0.04
    good = solve(12.0, 0.1, 1.0, dt=advised, n_samples=2000, seed=1)
    assert good.status == 0
    assert np.all(np.diff(good.e) < 3 * good.e_sem[1:] + 1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        late = solve(12.0, 0.1, 1.0, dt=0.035, n_samples=2000, seed=0, n_response=200)
    assert late.status == -1 and "unstable" in late.message and "reduce dt" in late.message
    assert np.all(np.isfinite(late.e)) and 3 < late.t.size < 30


def test_energy_rise_from_noise_is_told_from_a_step_instability():
    """Issue 15: an energy rise with every path inside the step's stability bound is blamed
    on Monte Carlo feedback, not on dt. Independent check of that diagnosis: the same dt
    with a population 40x larger runs through (a step instability would not go away), and
    the step case (alpha = 12, dt = 0.035, test above) names the step."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        small = solve(6.0, 0.1, 2.5, dt=0.02, n_samples=400, seed=0, n_groups=4)
        large = solve(6.0, 0.1, 2.5, dt=0.02, n_samples=16_000, seed=0, n_groups=4)
    assert small.status == -1 and "energy rose" in small.message
    assert "Monte Carlo feedback" in small.message and "reduce dt" not in small.message
    assert large.status == 0, large.message


def test_save_load_round_trip(tmp_path, short_solution):
    path = short_solution.save(tmp_path / "sol")
    back = Solution.load(path)
    for name in ("t", "C", "R", "m", "mu", "e", "M_C", "M_R", "h_samples", "h_star", "y",
                 "m_groups", "e_groups", "mu_groups"):
        np.testing.assert_array_equal(getattr(back, name), getattr(short_solution, name))
    assert back.loss.name == "phase_retrieval"
    assert back.alpha == 5.0 and back.status == 0
    with pytest.raises(ValueError, match="expected 'solution'"):
        from dmft._io import save_npz

        Solution.load(save_npz(tmp_path / "other", "simulation", {"t": np.zeros(2)}, {}))


def test_cli_solve_json(capsys, tmp_path):
    rc = cli.main(["solve", "--alpha", "3", "--m0", "0.2", "--t-max", "0.2", "--dt", "0.05",
                   "--n-samples", "400", "--json", "--no-progress",
                   "--out", str(tmp_path / "s.npz")])
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    for key in ("t", "m", "e", "mu", "m_sem", "e_sem"):
        assert len(payload[key]) == 5
    assert (tmp_path / "s.npz").exists()


def test_cli_solve_bad_input_exit_2(capsys):
    assert cli.main(["solve", "--alpha", "-2", "--m0", "0.1"]) == 2
    assert "alpha must be > 0" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["solve", "simulate"])
@pytest.mark.parametrize("a", ["0", "-1", "nan"])
def test_cli_bad_a_is_a_one_line_error(capsys, command, a):
    """E4a: a <= 0 or NaN refused with exit 2 and one line naming a (issue 11 item 6)."""
    extra = ["--m0", "0.1"] if command == "solve" else ["--N", "20"]
    assert cli.main([command, "--alpha", "3", *extra, "--a", a, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a (normalisation of l_a, E4a) must be > 0" in err


def test_cli_a_reaches_solve_and_simulate_and_is_recorded(capsys, tmp_path):
    """--a gives l_a on both sides (the energy at t = 0 is E[l_a], not 1 - m0^2) and lands
    in the JSON metadata; a = inf is the plain loss; omitted, the plain loss as before."""
    from dmft.losses import get_loss

    base = ["--alpha", "3", "--m0", "0.2", "--json", "--no-progress"]
    assert cli.main(["solve", *base, "--t-max", "0.002", "--dt", "0.001", "--n-samples",
                     "4000", "--a", "0.5", "--out", str(tmp_path / "s.npz")]) == 0
    sol = json.loads(capsys.readouterr().out)
    la = get_loss("phase_retrieval", a=0.5)
    assert sol["metadata"]["a"] == 0.5 and sol["metadata"]["loss"] == la.name
    assert Solution.load(tmp_path / "s.npz").loss.name == la.name
    rng = np.random.default_rng(0)  # E[l_a] at t = 0 by independent sampling
    hs = rng.standard_normal(400_000)
    h = 0.2 * hs + np.sqrt(1 - 0.04) * rng.standard_normal(hs.size)
    e0 = la.l(h, hs**2)
    assert abs(sol["e"][0] - e0.mean()) < 4 * np.hypot(sol["e_sem"][0], e0.std() / 600)
    assert cli.main(["simulate", *base, "--N", "50", "--t-max", "0.002", "--eta", "0.001",
                     "--seeds", "1", "--a", "0.5"]) == 0
    sim = json.loads(capsys.readouterr().out)
    assert sim["metadata"]["a"] == 0.5 and sim["metadata"]["loss"] == la.name
    for a, expected in ((["--a", "inf"], None), ([], None)):
        assert cli.main(["solve", *base, "--t-max", "0.02", "--dt", "0.02",
                         "--n-samples", "200", *a]) == 0
        meta = json.loads(capsys.readouterr().out)["metadata"]
        assert meta["a"] is expected and meta["loss"] == "phase_retrieval"


# --- reliability (issue 14) ---------------------------------------------------------------


class _DirectMarch:
    """The march before issue 14: m from its own update only, which round-off carries past
    1 once 1 - m ~ 1e-16 (the old march stopped there with "|m| = 1 > 1 ... reduce dt")."""

    @staticmethod
    def make(base):
        class Direct(base):
            def _next_m(self, n, drift, nrm):
                return (self.m[n] - self.dt * drift) / nrm

        return Direct


@pytest.mark.parametrize("alpha, S", [(12.0, 2000), (10.0, 1000)])
def test_recovering_trajectory_reaches_t_max(monkeypatch, alpha, S):
    """Issue 14 row 17: a recovering run ends with status 0 and m in [1 - 1e-6, 1]; up to
    where the direct update of m (the old march) first crosses |m| = 1, both agree to
    round-off (same seed, so the same population)."""
    from dmft import solver

    kw = {"dt": 0.02, "n_samples": S, "seed": 0, "n_response": 500, "n_groups": 4}
    new = solve(alpha, 0.3, 4.0, **kw)
    assert new.status == 0 and new.t[-1] == pytest.approx(4.0)
    assert 1.0 - 1e-6 <= new.m[-1] <= 1.0 and np.all(np.abs(new.m) <= 1.0)
    monkeypatch.setattr(solver, "_March", _DirectMarch.make(solver._March))
    old = solve(alpha, 0.3, 4.0, **kw)
    crossed = np.flatnonzero(np.abs(old.m) > 1.0)
    assert crossed.size, "the direct update no longer crosses 1: the test lost its point"
    k = crossed[0]
    assert k > 50  # the old march got well into the recovery first
    np.testing.assert_allclose(new.m[:k], old.m[:k], rtol=0, atol=1e-12)
    np.testing.assert_allclose(new.e[:k], old.e[:k], rtol=0, atol=1e-12)


def test_keyboard_interrupt_returns_partial_solution(monkeypatch):
    """Ctrl-C at step 5: status 'interrupted', steps 0..4 kept; at step 0 it propagates."""
    from dmft import solver

    def interrupt_at(k):
        class Interrupted(solver._March):
            def step(self, n, c_diag_tol):
                if n == k:
                    raise KeyboardInterrupt
                return super().step(n, c_diag_tol)

        return Interrupted

    monkeypatch.setattr(solver, "_March", interrupt_at(5))
    for workers in (1, 2):
        s = solve(4.0, 0.2, 1.0, dt=0.05, n_samples=400, seed=0, n_groups=4, n_workers=workers)
        assert s.status == "interrupted" and not s.success and "interrupted" in s.message
        # every group completed steps 0..4 (the threads stay within a step of each other)
        assert s.t.size == 5
        assert np.all(np.isfinite(s.m)) and np.all(np.isfinite(s.C))
    monkeypatch.setattr(solver, "_March", interrupt_at(0))
    with pytest.raises(KeyboardInterrupt):
        solve(4.0, 0.2, 1.0, dt=0.05, n_samples=400, seed=0)


@pytest.mark.parametrize("t_max, dt", [("0.03", "0.01"), ("0.031", "0.01"), ("0.1", "0.003"),
                                       ("0.07", "0.007"), ("0.02", "0.02"), ("0.045", "0.005")])
def test_last_time_rule(t_max, dt):
    """Row 16: n_steps = ceil(t_max/dt) in exact (decimal) arithmetic; last time >= t_max."""
    import math
    from fractions import Fraction

    n_exact = math.ceil(Fraction(t_max) / Fraction(dt))
    s = solve(3.0, 0.1, float(t_max), dt=float(dt), n_samples=200, n_response=50)
    assert s.t.size == n_exact + 1
    assert s.t[-1] >= float(t_max) * (1 - 1e-9) and s.t[-1] < float(t_max) + float(dt)


def test_first_step_failure_names_the_cause():
    """Row 9: alpha = 1e300 used to end in 'zero-size array to reduction operation'."""
    with pytest.raises(ValueError, match=r"first step.*1/\|mu\(0\)\|"):
        solve(1e300, 0.1, 0.2, dt=0.05, n_samples=200)
    with pytest.raises(ValueError, match="c_diag_tol must be > 0"):
        solve(3.0, 0.1, 0.2, dt=0.05, n_samples=200, c_diag_tol=-1)


@pytest.mark.parametrize("kwargs", [{"n_samples": 10**9}, {"t_max": 10.0, "dt": 0.001}])
def test_memory_refused_before_allocating(kwargs):
    """Row 4: 1e9 paths or a 10^4 x 10^4 x (11 G) kernel set: refused with the estimate."""
    args = {"t_max": 1.0, "dt": 0.02, **kwargs}
    with pytest.raises(ValueError, match="GiB of memory, more than"):
        solve(3.0, 0.1, **args)


@pytest.mark.parametrize("t_max, dt, S", [(2.0, 0.02, 400), (0.2, 0.02, 40_000)])
def test_memory_estimate_matches_measured_peak(t_max, dt, S):
    """The estimate of _memory.solver_bytes against the peak that tracemalloc measures (numpy
    reports its buffers to it), one case dominated by the T x T kernels, one by the
    population: within a factor 2 either way."""
    import tracemalloc

    from dmft._memory import solver_bytes

    tracemalloc.start()
    s = solve(3.0, 0.1, t_max, dt=dt, n_samples=S, n_response=400)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    est = solver_bytes(s.t.size - 1, s.metadata["n_samples"], s.metadata["n_groups"],
                       s.metadata["n_response"])
    assert 0.5 < est / peak < 2.0, (est, peak)


def test_metadata_complete_and_warns_on_partial_runs(tmp_path):
    """Row 14: the metadata reproduces the run; row 13: loading a run that did not reach
    t_max warns."""
    from dmft import __version__

    s = solve(3.0, 0.1, 0.2, dt=0.05, n_samples=200, seed=7, noise=0.1, n_groups=4)
    for key, value in {"alpha": 3.0, "m0": 0.1, "dt": 0.05, "t_max": 0.2, "seed": 7,
                       "noise": 0.1, "loss": "phase_retrieval", "n_samples": 200,
                       "dmft_version": __version__}.items():
        assert s.metadata[key] == pytest.approx(value) if isinstance(value, float) else \
            s.metadata[key] == value, key
    s.status, s.message = -1, "stopped early for the test"
    path = s.save(tmp_path / "partial")
    with pytest.warns(RuntimeWarning, match="did not reach t_max"):
        back = Solution.load(path)
    assert back.status == -1 and back.metadata["seed"] == 7


def test_response_paths_default_by_loss():
    """n_response="auto": every path, for l_a (its response tail lives in stiff paths no
    label stratum catches, THEORY 6) and for the plain loss (a 2000-path subset biased
    8-group runs, issue 15); "auto" is then the same run as the explicit choice, and
    n_groups="auto" gives 4 groups below 8000 paths and 8 from there."""
    from dmft.losses import get_loss

    la = get_loss("phase_retrieval", a=1.0)
    auto = solve(4.0, 0.3, 0.06, dt=0.02, n_samples=3000, seed=2, loss=la)
    every = solve(4.0, 0.3, 0.06, dt=0.02, n_samples=3000, seed=2, loss=la, n_response=None)
    assert auto.metadata["n_response"] == auto.metadata["n_samples"]
    np.testing.assert_array_equal(auto.m, every.m)
    plain = solve(4.0, 0.3, 0.06, dt=0.02, n_samples=3000, seed=2)
    assert plain.metadata["n_response"] == plain.metadata["n_samples"]
    assert plain.metadata["n_groups"] == 4
    assert solve(4.0, 0.3, 0.04, n_samples=8000, seed=2).metadata["n_groups"] == 8
    with pytest.raises(ValueError, match="n_response"):
        solve(4.0, 0.3, 0.06, n_samples=3000, n_response="most")


def test_ctrl_c_in_the_main_thread_keeps_the_partial_run(monkeypatch):
    """A real Ctrl-C (SIGINT to the main thread while the marching threads run): the threads
    stop after their current step and the completed steps are returned."""
    import _thread
    import time

    from dmft import solver

    class CtrlC(solver._March):
        def step(self, n, c_diag_tol):
            if n == 6 and self is first[0]:
                _thread.interrupt_main()
            if n > 6:
                time.sleep(0.05)  # slow steps: the main thread gets the signal meanwhile
            return super().step(n, c_diag_tol)

    first = []

    def make(*args, **kw):
        march = CtrlC(*args, **kw)
        first.append(march) if not first else None
        return march

    monkeypatch.setattr(solver, "_March", make)
    s = solve(4.0, 0.2, 2.0, dt=0.05, n_samples=400, seed=0, n_groups=4, n_workers=2)
    assert s.status == "interrupted" and "KeyboardInterrupt" in s.message
    # the barrier keeps the threads within a step: all groups finished step 5
    assert 6 <= s.t.size < 41 and np.all(np.isfinite(s.m)) and np.all(np.isfinite(s.C))


@pytest.mark.parametrize("kw", [dict(alpha=3.0, m0=0.1),
                                dict(alpha=8.0, m0=1e-8, tangent=True),
                                dict(alpha=4.0, m0=0.1, scheme="prox",
                                     loss=get_loss("phase_retrieval", a=0.01))])
def test_marching_threads_do_not_change_the_result(kw):
    """Every n_workers gives the same solution bit for bit (groups are independent DMFTs
    with their own random streams; one BLAS thread per product)."""
    runs = [solve(t_max=0.6, dt=0.02, n_samples=1600, seed=5, n_groups=4, n_workers=w, **kw)
            for w in (1, 2, 3, "auto")]
    for other in runs[1:]:
        for name in ("m", "e", "mu", "C", "R", "M_C", "M_R", "h_samples", "m_sem"):
            assert np.array_equal(getattr(runs[0], name), getattr(other, name)), name


def test_first_failure_is_the_lockstep_one(monkeypatch):
    """Failures in several groups: the reported one is the first in (step, group) order and
    the kept steps those of the one-thread lockstep march, for every thread count."""
    from dmft import solver

    fail_at = {1: 5, 2: 5, 3: 7}  # group -> step
    made = []

    class Failing(solver._March):
        def step(self, n, c_diag_tol):
            g = made.index(self)
            if fail_at.get(g) == n:
                return f"group {g} failed at step {n}"
            return super().step(n, c_diag_tol)

    def make(*args, **kw):
        made.append(Failing(*args, **kw))
        return made[-1]

    monkeypatch.setattr(solver, "_March", make)
    for workers in (1, 2, 4):
        made.clear()
        with pytest.warns(RuntimeWarning, match="group 1 failed at step 5"):
            s = solve(4.0, 0.2, 1.0, dt=0.05, n_samples=400, seed=0, n_groups=4,
                      n_workers=workers)
        assert s.status == -1 and s.message == "group 1 failed at step 5" and s.t.size == 5


def test_bad_worker_counts_are_refused():
    for bad in (0, -1, 1.5, "many"):
        with pytest.raises(ValueError, match="n_workers"):
            solve(3.0, 0.1, 0.1, dt=0.05, n_samples=400, n_workers=bad)


def test_an_error_in_a_marching_thread_reaches_the_caller(monkeypatch):
    from dmft import solver

    class Broken(solver._March):
        def step(self, n, c_diag_tol):
            if n == 3:
                raise MemoryError("no room at step 3")
            return super().step(n, c_diag_tol)

    monkeypatch.setattr(solver, "_March", Broken)
    with pytest.raises(MemoryError, match="no room at step 3"):
        solve(4.0, 0.2, 1.0, dt=0.05, n_samples=400, seed=0, n_groups=4, n_workers=2)


def test_ctrl_c_while_the_threads_start_keeps_the_run(monkeypatch):
    """Ctrl-C in the main thread while it starts the marching threads (Thread.start waits
    for each): caught like any other, the threads joined, the completed steps kept."""
    import threading
    import time

    from dmft import _lockstep

    started = []

    class SlowStart(threading.Thread):
        def start(self):
            super().start()
            started.append(self)
            if len(started) == 2:
                time.sleep(0.3)  # the marches run meanwhile
                raise KeyboardInterrupt

    monkeypatch.setattr(_lockstep.threading, "Thread", SlowStart)
    s = solve(4.0, 0.2, 1.0, dt=0.05, n_samples=400, seed=0, n_groups=4, n_workers=2)
    assert s.status == "interrupted" and s.t.size >= 1
    assert not any(t.is_alive() for t in started)
