"""The shipped l_a success curves (``data/success_la0.01_N*.npz``) against a recomputation.

Two independent routes per check: the shipped file (written by ``benchmarks/la_success.py``)
vs the current code, rerun at a small cost; the binomial allowance is Newcombe's interval
of the difference of two proportions, itself checked against the published table.
"""

from __future__ import annotations

import numpy as np
import pytest

from dmft import _data
from dmft.losses import get_loss
from dmft.stats import difference_interval
from dmft.success import SuccessCurve, success_probability

A = 0.01
N_SMALL = 250  # the smallest shipped curve


class _Serial:
    def submit(self, fn, *args, **kwargs):
        from concurrent.futures import Future

        fut = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


@pytest.fixture(scope="module")
def shipped() -> SuccessCurve:
    return SuccessCurve.load(_data.data_dir() / f"success_la{A:g}_N{N_SMALL}.npz")


def _alpha_at_rate(curve: SuccessCurve, t: float, rate: float) -> float:
    """The shipped alpha whose success rate by time t is closest to ``rate``."""
    return float(curve.alphas[np.argmin(abs(curve.rate_at(t) - rate))])


def _run(curve: SuccessCurve, alpha: float, runs: int, t_max: float, seed: int):
    return success_probability(curve.N, [alpha], runs=runs, t_max=t_max, eta=curve.eta,
                               seed=seed, success_threshold=curve.success_threshold,
                               loss=curve.loss, scheme=curve.scheme, executor=_Serial(),
                               progress=False)


def test_difference_interval_matches_newcombe_1998():
    """Newcombe (1998), Stat. Med. 17, 873, Table II, method 10 (4 decimals printed)."""
    table = {(56, 70, 48, 80): (0.0524, 0.3339), (9, 10, 3, 10): (0.1705, 0.8090),
             (6, 7, 2, 7): (0.0582, 0.8062), (5, 56, 0, 29): (-0.0381, 0.1926)}
    for counts, expected in table.items():
        assert difference_interval(*counts) == pytest.approx(expected, abs=6e-5)


def test_shipped_curve_is_the_la_prox_experiment(shipped):
    assert shipped.loss == get_loss("phase_retrieval", a=A).name
    assert shipped.scheme == "prox"
    assert np.all(shipped.trials >= 30)
    k_end = np.sum(np.isfinite(shipped.t_hit), axis=1)
    assert np.array_equal(k_end, shipped.successes)  # success <=> first hit before t_max


def test_same_seed_reproduces_the_shipped_escape_times(shipped):
    """Dataset d of a point does not depend on the number of runs, and a shorter run is a
    prefix of the longer one: the first runs, stopped at t = 5, must hit at the shipped
    times (to one recording step, 0.1) or not at all if the shipped hit is later."""
    alpha, runs, t_short = _alpha_at_rate(shipped, 10.0, 0.5), 4, 5.0
    i = int(np.flatnonzero(shipped.alphas == alpha)[0])
    new = _run(shipped, alpha, runs, t_short, shipped.seed).t_hit[0]
    old = shipped.t_hit[i, :runs]
    expect = np.where(old <= t_short, old, np.inf)
    assert np.array_equal(np.isinf(new), np.isinf(expect)), (new, old)
    np.testing.assert_allclose(new[np.isfinite(new)], expect[np.isfinite(expect)], atol=0.1 + 1e-9)


def test_fresh_seed_agrees_with_the_shipped_rate_within_binomial_allowance(shipped):
    """10 new runs (another seed) at the shipped alpha whose rate by t = 10 is nearest 3/4
    (a shift of the curve by its width, or a lost signal, moves it by > 1/2); the shipped
    rate by t = 10 (``rate_at``) and the new one must differ by less than Newcombe's 99 %
    allowance."""
    t, runs = 10.0, 10
    alpha = _alpha_at_rate(shipped, t, 0.75)
    i = int(np.flatnonzero(shipped.alphas == alpha)[0])
    new = _run(shipped, alpha, runs, t, shipped.seed + 1)
    k_old = int(np.sum(shipped.t_hit[i] <= t))
    low, high = difference_interval(int(new.successes[0]), runs, k_old, int(shipped.trials[i]),
                                    confidence=0.99)
    assert low <= 0.0 <= high, (alpha, new.successes[0], k_old)


def test_shipped_dmft_predictor_point_is_recomputed_with_another_seed():
    """One point of the shipped non-linear DMFT predictor (``data/success_la0.01_dmft.json``,
    alpha = 4.5, m0 = 0.06, shipped t_hit = 1.87, seed 0) against a fresh solve with another
    seed: the first time with m > 0.9 agrees within 3 standard errors of m translated into
    time (m_sem / (dm/dt) at the crossing) plus one step either side."""
    import json

    from dmft.solver import solve

    d = json.loads((_data.data_dir() / f"success_la{A:g}_dmft.json").read_text())
    i, j = d["alphas"].index(4.5), d["m0s"].index(0.06)
    t_ship = d["t_hit"][i][j]
    sol = solve(4.5, 0.06, t_ship + 0.6, dt=d["dt"], n_samples=d["n_samples"], seed=7,
                loss=get_loss(d["loss"]), n_response=None, scheme=d["scheme"])
    assert sol.status == 0, sol.message
    k = int(np.argmax(sol.m > d["success_threshold"]))
    assert k > 0, "m never crossed the threshold"
    slope = (sol.m[k] - sol.m[k - 1]) / (sol.t[k] - sol.t[k - 1])
    tol = 3 * float(np.hypot(sol.m_sem[k], sol.m_sem[k])) / slope + 2 * d["dt"]
    assert abs(sol.t[k] - t_ship) <= tol, (sol.t[k], t_ship, tol)
