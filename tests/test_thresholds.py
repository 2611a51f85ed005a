"""T1 at t = 0 (THEORY.md T1, H6, H8)."""

from __future__ import annotations

import numpy as np
import pytest

from dmft.spectrum import WeightLaw
from dmft.thresholds import alpha_bbp_init, alpha_c


def test_alpha_bbp_init_converged_and_consistent():
    b = alpha_bbp_init()
    assert b.error < 1e-6 * b.alpha  # at least 4 significant digits, shown by refinement
    assert b.before_turn
    # independent route: scan S_PV(s) for a sign change (WeightLaw.pv_root) on each side
    below = WeightLaw.gaussian(b.alpha * 0.99, n_quad=256)
    above = WeightLaw.gaussian(b.alpha * 1.01, n_quad=256)
    assert below.outlier().status == "absent"
    assert above.outlier().status == "resonance"
    assert above.outlier().reason


def test_alpha_c_grows_like_log_n_and_matches_h8():
    a1, a2 = alpha_c(500, n_quad=128), alpha_c(4000, n_quad=128)
    assert a1 < a2
    law = WeightLaw.gaussian(a1, n_quad=128)
    fn = law.finite_n(500)
    assert fn.p_outlier_lowest == pytest.approx(0.5, abs=1e-3)
    assert np.isfinite(fn.lam_low).all()


def test_bad_alpha():
    with pytest.raises(ValueError):
        WeightLaw.gaussian(0.0)
