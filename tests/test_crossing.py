"""The estimator of t_BBP (T2): majority rule on a noisy margin (``dmft._crossing``,
:meth:`SpectrumTrajectory.t_bbp`).

Synthetic margins with a known zero and independent Gaussian noise per spectrum time: the
majority rule against the truth (tolerances from the spread of the estimator over the
draws), the raw first merge for contrast, isolated glitches and a fast early crossing.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dmft._crossing import first_down_crossing, local_linear
from dmft.spectrum import SpectrumTrajectory

T = np.arange(0.0, 3.0 + 1e-9, 0.05)  # the spectrum grid of dmft.bbp.t_bbp
T_TRUE = 1.6


def _margin(t):
    return 0.25 * (1.0 - t / T_TRUE)  # slope -0.156 per unit time, as at l_a, alpha = 3.5


def _traj(margin, status=None) -> SpectrumTrajectory:
    n = T.size
    nan = np.full(n, np.nan)
    status = status or ["exists" if x > 0 else "absent" for x in margin]
    return SpectrumTrajectory(T, nan, nan, nan, nan, nan, status, nan, ["hard"] * n, nan,
                              nan, nan, np.asarray(margin, float))


def test_local_linear_reproduces_a_straight_line_exactly():
    y = 2.0 - 0.7 * T
    for rel in (0.05, 0.2, 1.0, 10.0):
        assert np.allclose(local_linear(T, y, rel), y, atol=1e-12)
    assert first_down_crossing(T, local_linear(T, y, 0.3)) == pytest.approx(2.0 / 0.7,
                                                                 abs=1e-12)


def test_majority_rule_is_unbiased_where_the_raw_first_merge_comes_early():
    rng = np.random.default_rng(7)
    n, sigma = 400, 0.08  # per-point noise: sigma / |slope| = 0.5 time units
    trajs = [_traj(_margin(T) + sigma * rng.normal(size=T.size) * (T > 0)) for _ in range(n)]
    rule = np.array([tr.t_bbp() for tr in trajs])
    raw = np.array([tr.t_bbp(0.0) for tr in trajs])
    assert np.all(np.isfinite(rule))
    se_rule = rule.std(ddof=1) / math.sqrt(n)
    se_raw = raw.std(ddof=1) / math.sqrt(n)
    # the majority crosses where the mean margin does (symmetric noise); the window's
    # asymmetry about a slope costs O(h^2 y'') = 0 for a straight margin
    assert abs(rule.mean() - T_TRUE) < 4 * se_rule
    assert raw.mean() < T_TRUE - 10 * se_raw  # the bias the rule removes (~0.6 here)
    assert rule.std() < raw.std()


def test_isolated_glitches_do_not_move_the_estimate():
    """One spectrum time without the outlier while it exists (a dip of the binned law), and
    one with a large positive margin while the outlier is rejected (the sample-law artefact
    of the plain loss, status absent), change nothing: the running majority of three
    removes both."""
    y = _margin(T)
    clean = _traj(y).t_bbp()
    assert clean == pytest.approx(T_TRUE, abs=0.03)  # majority of +-1: midpoint of a step
    dip = y.copy()
    dip[10] = -2.0  # t = 0.5
    assert _traj(dip).t_bbp(0.0) == pytest.approx(0.5, abs=0.05)  # the raw rule stops here
    assert _traj(dip).t_bbp() == clean
    late = y.copy()
    late[45] = 40.0  # t = 2.25, outlier rejected: not present whatever the margin
    status = ["exists" if x > 0 else "absent" for x in y]
    assert _traj(late, status).t_bbp() == clean


def test_early_fast_crossings_keep_the_resolution_of_the_grid():
    """A margin falling through 0 within the first spectrum steps (the plain loss just
    above alpha_BBP_init) is not smeared: the window at early t is below one grid step."""
    tr = _traj(-0.05 + np.exp(-T / 0.02))  # zero at 0.02 ln 20 = 0.060
    assert abs(tr.t_bbp() - 0.02 * math.log(20)) < 0.05


def test_edge_cases():
    assert math.isnan(_traj(1.0 + T).t_bbp())  # the outlier survives
    assert _traj(-1.0 - T).t_bbp() == 0.0  # none at t = 0
    y = _margin(T)
    y[[3, 20]] = np.nan  # non-finite margins count as no outlier; isolated: no effect
    assert _traj(y).t_bbp() == _traj(_margin(T)).t_bbp()
    assert math.isnan(first_down_crossing(T[:0], T[:0]))
    with pytest.raises(ValueError, match="smooth"):
        _traj(y).t_bbp(-0.1)
    with pytest.raises(ValueError, match="smooth"):
        _traj(y).t_bbp(float("nan"))
