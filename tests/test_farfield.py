"""The error-controlled far field of the response (issue 15) against the exact dense kernel.

Independent route: :func:`dmft._kernels.response_row` (dense blocked back-substitution,
itself checked against the scalar sweep and LAPACK in ``test_kernels.py``). With
``tol = 0`` the far field must be the dense method; with ``tol > 0`` every stored column is
exact to ``tol`` of its block's largest column, so the row's error is O(tol).
"""

from __future__ import annotations

import numpy as np
import pytest

from dmft._farfield import FarField, response_row_far
from dmft._kernels import response_row
from dmft.solver import solve

DT = 0.02


def _smooth_inputs(T: int, S: int, seed: int, rough: bool = False):
    """Causal ``RT`` smooth in both times (low rank far from the diagonal, as R(t, s)), or
    with iid multipliers (full rank), and heavy-tailed ``FP``; the far field built from it."""
    rng = np.random.default_rng(seed)
    j, k = np.arange(T)[:, None], np.arange(T)[None, :]
    lag = np.maximum(k - j, 0) * DT
    RT = np.exp(-0.8 * lag) * (1.0 + 0.3 * np.sin(0.05 * j) * np.cos(0.02 * k)) / (1 + lag)
    if rough:
        RT = RT * rng.uniform(0.5, 1.5, (T, T))
    RT = np.where(k >= j, RT, 0.0)
    np.fill_diagonal(RT, 1.0)
    FP = 2.0 * rng.standard_t(2.5, (S, T))
    w = rng.uniform(0.1, 1.0, S)
    return RT, FP, w / w.sum()


def _far(RT: np.ndarray, n: int, tol: float, dense_size: int) -> FarField:
    far = FarField(RT.shape[0], tol, dense_size=dense_size)
    for k in range(1, n + 1):
        far.add_column(RT[:k, k].copy(), k)
    return far


def _rel_err(got, ref) -> float:
    return float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))


@pytest.mark.parametrize("n", [1, 15, 16, 17, 63, 64, 65, 200, 257])
def test_zero_tolerance_is_the_dense_kernel(n):
    """tol = 0: no block is compressed; the tree recursion equals the dense kernel to
    round-off for n below, at and above the node sizes (dense_size 8: four levels)."""
    RT, FP, w = _smooth_inputs(260, 29, seed=n)
    far = _far(RT, n, 0.0, dense_size=8)
    assert all(r == -1 for ranks in far.ranks().values() for r in ranks)
    assert _rel_err(response_row_far(n, DT, RT, FP, w, far), response_row(n, DT, RT, FP, w)) \
        < 1e-12


@pytest.mark.parametrize("tol", [1e-4, 1e-7, 1e-10])
def test_compressed_row_error_is_controlled_by_tol(tol):
    """Smooth RT: blocks compress (rank well below the block), and the row's error stays
    within a modest multiple of tol (each column is exact to tol of its block's scale; the
    back-substitution sums ~log2(n) levels of such terms)."""
    n = 500
    RT, FP, w = _smooth_inputs(n + 1, 300, seed=1)
    far = _far(RT, n, tol, dense_size=32)
    ranks = [r for h, rs in far.ranks().items() for r in rs if h >= 128]
    assert ranks and min(ranks) >= 1 and max(ranks) < 128 // 4  # compressed, none dense
    err = _rel_err(response_row_far(n, DT, RT, FP, w, far), response_row(n, DT, RT, FP, w))
    assert err < 50 * tol
    assert err > 0.0  # the far field was used


def test_full_rank_blocks_fall_back_to_dense():
    """iid multipliers make RT full rank: blocks stop compressing (rank > h/4) and the row
    is still exact."""
    n = 300
    RT, FP, w = _smooth_inputs(n + 1, 50, seed=2, rough=True)
    far = _far(RT, n, 1e-8, dense_size=16)
    assert any(r == -1 for rs in far.ranks().values() for r in rs)
    assert _rel_err(response_row_far(n, DT, RT, FP, w, far), response_row(n, DT, RT, FP, w)) \
        < 1e-6


def test_bad_tolerance_is_refused():
    for tol in (-1e-3, float("nan")):
        with pytest.raises(ValueError, match="tolerance"):
            FarField(100, tol)
    with pytest.raises(ValueError, match="response_tol"):
        solve(3.0, 0.3, 0.1, dt=0.02, n_samples=200, response_tol=-1.0)


def test_solver_with_far_field_matches_dense_solver():
    """Whole march past two node sizes (T = 301, dense size 128): the far-field solve
    (response_tol = 1e-8) reproduces the dense one (response_tol = 0) with common random
    numbers, far below the Monte Carlo error."""
    kw = dict(dt=0.02, n_samples=2000, n_response=1000, seed=5, n_groups=2)
    far = solve(8.0, 0.1, 6.0, response_tol=1e-8, **kw)
    dense = solve(8.0, 0.1, 6.0, response_tol=0.0, **kw)
    assert far.status == dense.status == 0
    assert _rel_err(far.M_R, dense.M_R) < 1e-6
    for name in ("m", "e", "mu"):
        diff = np.abs(getattr(far, name) - getattr(dense, name)).max()
        assert diff < 1e-3 * getattr(dense, f"{name}_sem")[1:].max(), name


def test_cli_passes_response_tol_and_groups(tmp_path, capsys):
    """dmft solve --response-tol / --n-groups reach the solver (recorded in the file's
    metadata) and bad values are one error line with exit code 2."""
    from dmft import cli
    from dmft.solution import Solution

    out = tmp_path / "s.npz"
    argv = ["solve", "--alpha", "3", "--m0", "0.3", "--t-max", "0.1", "--n-samples", "400",
            "--no-progress", "--out", str(out)]
    assert cli.main([*argv, "--response-tol", "0", "--n-groups", "2"]) == 0
    meta = Solution.load(out).metadata
    assert meta["response_tol"] == 0.0 and meta["n_groups"] == 2
    for bad in (["--response-tol", "-1"], ["--n-groups", "many"]):
        with pytest.raises(SystemExit) as exc:
            code = cli.main([*argv, *bad])
            raise SystemExit(code)
        assert exc.value.code == 2
        assert capsys.readouterr().err.count("error:") == 1
