"""The blocked response kernel (issue 15) against the scalar adjoint sweep and a direct solve.

Both kernels compute the regular response row of THEORY D3 exactly (left-point rule); they
differ only in the order of the floating-point sums, so they must agree to a few hundred
ulps of the row's scale. The independent route solves the per-path triangular system
``(I + dt D U) chi = -D r`` with LAPACK.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import solve_triangular

from dmft._kernels import response_row, response_row_reference

DT = 0.02


def _inputs(T: int, S: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Realistic ``RT`` (causal, unit diagonal, decaying in k - j), heavy-tailed ``FP``."""
    rng = np.random.default_rng(seed)
    lag = np.arange(T)[None, :] - np.arange(T)[:, None]
    RT = np.where(lag >= 0, np.exp(-0.05 * lag) * rng.uniform(0.5, 1.5, (T, T)), 0.0)
    np.fill_diagonal(RT, 1.0)
    FP = 2.0 * rng.standard_t(2.5, (S, T))  # f' of phase retrieval: heavy tails, both signs
    weights = rng.uniform(0.1, 1.0, S)
    return RT, FP, weights / weights.sum()


def _rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))


@pytest.mark.parametrize(("block", "leaf"), [(8, 8), (24, 5), (128, 32)])
def test_blocked_matches_reference_around_block_edges(block, leaf):
    """n below, at, just above and at multiples of the block, and with a ragged first block;
    blocks split in halves (also odd sizes) down to ``leaf``, or not split (leaf = block)."""
    RT, FP, w = _inputs(4 * block + 10, 37, seed=block)
    for n in sorted({1, 2, leaf + 1, block - 1, block, block + 1, 2 * block, 3 * block + 7}):
        ref = response_row_reference(n, DT, RT, FP, w, 3)
        got = response_row(n, DT, RT, FP, w, 3, block=block, leaf=leaf)
        assert got.shape == (n,)
        assert _rel_err(got, ref) < 1e-10, (n, block)


def test_blocked_matches_reference_on_many_paths():
    """More paths than one tile of the in-block triangle (2048), default block, long row."""
    RT, FP, w = _inputs(201, 2100, seed=3)
    n = 200
    ref = response_row_reference(n, DT, RT, FP, w, 4)
    assert _rel_err(response_row(n, DT, RT, FP, w, 4), ref) < 1e-10


def test_blocked_matches_direct_triangular_solve():
    """Independent route: per path, ``(I + dt D U) chi = -D r`` solved by LAPACK."""
    RT, FP, w = _inputs(150, 3, seed=5)
    n = 149
    expected = np.zeros(n)
    for a in range(FP.shape[0]):
        D = FP[a, :n]
        A = np.eye(n) + DT * D[:, None] * np.triu(RT[:n, :n], 1)
        chi = solve_triangular(A, -D * RT[:n, n], lower=False)
        expected += w[a] * FP[a, n] * chi
    assert _rel_err(response_row(n, DT, RT, FP, w, 1, block=16), expected) < 1e-10
    assert _rel_err(response_row(n, DT, RT, FP, w, 1), expected) < 1e-10


def test_blocked_rejects_bad_block():
    RT, FP, w = _inputs(5, 2, seed=0)
    with pytest.raises(ValueError, match="block"):
        response_row(4, DT, RT, FP, w, 1, block=0)
    with pytest.raises(ValueError, match="leaf"):
        response_row(4, DT, RT, FP, w, 1, leaf=0)
