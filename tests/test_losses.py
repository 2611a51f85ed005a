"""Losses (E4, E4a): derivatives vs finite differences, the a -> inf limit, names, bad input."""

import math

import numpy as np
import pytest

from dmft.losses import PHASE_RETRIEVAL, get_loss, normalised_loss


@pytest.mark.parametrize("a", [1e-3, 0.01, 1.0, 100.0])
def test_normalised_derivatives_match_finite_differences(a):
    rng = np.random.default_rng(0)
    h = rng.standard_normal(200)
    y = rng.standard_normal(200) ** 2
    lo = normalised_loss(a)
    eps = 1e-4
    fd_f = (lo.l(h + eps, y) - lo.l(h - eps, y)) / (2 * eps)
    fd_fp = (lo.f(h + eps, y) - lo.f(h - eps, y)) / (2 * eps)
    # central differences: truncation eps^2 |l'''| / 6 (l''' = 6 h / (a + y)), rounding
    # 1e-16 |l| / eps
    scale = 1.0 / (a + y)
    tol_f = eps**2 * np.abs(h) * scale + 1e-12 * (1 + np.abs(lo.l(h, y))) / eps
    tol_fp = eps**2 * scale + 1e-12 * (1 + np.abs(lo.f(h, y))) / eps
    assert np.all(np.abs(fd_f - lo.f(h, y)) <= 2 * tol_f)
    assert np.all(np.abs(fd_fp - lo.fp(h, y)) <= 2 * tol_fp)


def test_a_times_la_tends_to_plain_loss():
    rng = np.random.default_rng(1)
    h = rng.standard_normal(500)
    y = rng.standard_normal(500) ** 2
    plain = [PHASE_RETRIEVAL.l(h, y), PHASE_RETRIEVAL.f(h, y), PHASE_RETRIEVAL.fp(h, y)]
    errs = []
    for a in (1e2, 1e4, 1e6):
        lo = normalised_loss(a)
        mine = [a * lo.l(h, y), a * lo.f(h, y), a * lo.fp(h, y)]
        # a l_a - l = -l y / (a + y): relative error y / (a + y) <= max(y) / a
        for p, q in zip(plain, mine, strict=True):
            assert np.all(np.abs(q - p) <= np.abs(p) * y / (a + y) * (1 + 1e-9) + 1e-12)
        errs.append(max(np.max(np.abs(q - p)) for p, q in zip(plain, mine, strict=True)))
    assert errs[0] > 50 * errs[1] > 2500 * errs[2]


def test_name_round_trip_and_a_inf():
    lo = get_loss("phase_retrieval", a=0.01)
    assert lo.a == 0.01 and "a=0.01" in lo.name
    back = get_loss(lo.name)
    h, y = np.array([0.3, -1.2]), np.array([0.5, 2.0])
    assert back.a == lo.a and np.array_equal(back.fp(h, y), lo.fp(h, y))
    odd = normalised_loss(1 / 3)
    assert get_loss(odd.name).a == 1 / 3  # repr of the float reads back exactly
    assert get_loss("phase_retrieval", a=math.inf) is PHASE_RETRIEVAL
    assert get_loss("phase_retrieval") is PHASE_RETRIEVAL


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, "x"])
def test_bad_a_is_refused(bad):
    with pytest.raises(ValueError, match="a "):
        get_loss("phase_retrieval", a=bad)
    with pytest.raises(ValueError, match="a "):
        normalised_loss(bad)


def test_a_inf_refused_by_normalised_loss_and_a_on_other_losses():
    with pytest.raises(ValueError, match="plain loss"):
        normalised_loss(math.inf)
    with pytest.raises(ValueError, match="phase_retrieval"):
        get_loss("linear_regression", a=1.0)


def test_label_noise_that_makes_a_plus_y_nonpositive_is_refused():
    lo = normalised_loss(0.01)
    rng = np.random.default_rng(2)
    y = lo.label(rng.standard_normal(50), rng, 0.0)
    assert np.all(y >= 0)
    with pytest.raises(ValueError, match="a \\+ y <= 0"):
        lo.label(np.zeros(1000), rng, 1.0)
