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


# THEORY.md H8: "alpha_c(N) grows like ln N (about 3.9, 4.6, 5.4, 6.2 at N = 500, 1000, 2000,
# 4000)": the contract's values, stated to one decimal (+-0.05)
THEORY_ALPHA_C = {500: 3.9, 1000: 4.6, 2000: 5.4, 4000: 6.2}


def test_alpha_c_matches_the_theory_values():
    got = {N: alpha_c(N, n_quad=128) for N in THEORY_ALPHA_C}
    for N, value in THEORY_ALPHA_C.items():
        assert abs(got[N] - value) <= 0.05 + 1e-9, (N, got[N], value)
    # ln N growth (H8): equal steps in ln N give steps of one sign
    assert np.all(np.diff(list(got.values())) > 0)


def test_h8_picture_at_alpha_c_vs_dense_hessians():
    """At alpha_c(500), t = 0, m = 0: the H8 prediction from the law against 40 dense
    Riemannian Hessians of dmft.hessian (an independent route: real data, real H1).

    The lowest eigenvalue within 4 s.e. + 0.5 and the overlap^2 of the lowest eigenvector
    with w* within 4 s.e. + 0.04 (H8's stated precision; local-ratio route). Measured: the
    resonance is broad there (weight 1.05, FWHM 9), the overlaps of the lowest eigenvector
    are unimodal (0.00-0.36, mean 0.215 +- 0.013) and no single state carries the outlier, so
    "the outlier is the lowest half the time" has no per-dataset test at N = 500; the
    outlier-state route (0.52) misses, the local ratio (0.18) holds.
    """
    from dmft.hessian import riemannian_hessian_dense
    from dmft.problem import make_problem

    N, n = 500, 40
    a = alpha_c(N, n_quad=128)
    fn = WeightLaw.gaussian(a, n_quad=128).finite_n(N)
    lam1, ov1 = [], []
    for i in range(n):
        p = make_problem(a, N, m0=0.0, seed=np.random.SeedSequence([N, i]))
        w = p.W0[0]
        lam, V = np.linalg.eigh(riemannian_hessian_dense(p.X, p.y, w))
        keep = np.arange(N) != np.argmax(np.abs(V.T @ w))  # drop the trivial mode along w
        lam1.append(lam[keep][0])
        ov1.append((p.w_star @ V[:, keep][:, 0]) ** 2 / N)
    se = lambda x: np.std(x, ddof=1) / np.sqrt(n)  # noqa: E731
    assert abs(np.mean(lam1) - fn.lam_low[0]) < 4 * se(lam1) + 0.5
    assert abs(np.mean(ov1) - fn.overlap2_lowest_local) < 4 * se(ov1) + 0.04


def test_bad_alpha():
    with pytest.raises(ValueError):
        WeightLaw.gaussian(0.0)


# ------------------------------------------------------------------ normalised loss l_a (E4a)
@pytest.mark.parametrize("a, kind", [(0.01, "edge"), (10.0, "support")])
def test_alpha_bbp_init_normalised_against_outlier_scan(a, kind):
    """T1 for l_a: the constrained minimum of -1/(s R(s)) (alpha_bbp_init_bounded, two
    quadrature levels) against the independent scan of S_PV on the branch in
    WeightLaw.outlier, on both sides of the threshold (+-0.1%)."""
    from dmft.thresholds import outlier_at

    b = alpha_bbp_init(a=a)
    assert b.kind == kind and b.a == a and b.loss == f"normalised_phase_retrieval(a={a!r})"
    assert b.error < 1e-9 * b.alpha and b.before_turn
    assert outlier_at(b.alpha * 0.999, a=a).status == "absent"
    above = outlier_at(b.alpha * 1.001, a=a)
    assert above.status == "exists"
    if kind == "edge":  # leaving the edge: the overlap^2 starts from 0 (standard BBP)
        assert 0 < above.overlap2 < 0.1


def test_alpha_bbp_init_a_inf_is_the_plain_loss_and_bad_a_is_refused():
    assert alpha_bbp_init(n_quads=(64, 128), a=np.inf).kind == "pair"
    for bad in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="a"):
            alpha_bbp_init(a=bad)
