"""Private kernels of the DMFT solver (typed arrays in and out, no Python objects).

The regular response row of THEORY D3 has two implementations with the same signature:
:func:`response_row` (blocked back-substitution across all response paths: matrix products
shared by the paths, numba only for the small in-block triangles) and
:func:`response_row_reference` (the scalar per-path adjoint sweep it replaced, kept as the
reference path). Both are exact for the left-point rule; they differ only in the order of
the floating-point sums. The blocked kernel runs its matrix products with the caller's BLAS
thread limit: on the shared 2-core machine two BLAS threads made a whole march 7x slower
under load (``benchmarks/bench_solver.py``), so the solver's ``threadpool_limits(1)`` stays.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath=True, nogil=True)
def _path_response(n: int, dt: float, RT: np.ndarray, fp: np.ndarray, w: float,
                   chi: np.ndarray, out: np.ndarray) -> None:
    """Add ``w f'_n chi(n, j)`` of one path to ``out[j]``, j < n (adjoint sweep of D3)."""
    fpn = fp[n] * w
    for j in range(n - 1, -1, -1):
        acc = 0.0
        for k in range(j + 1, n):
            acc += chi[k] * RT[j, k]
        chi[j] = -fp[j] * (RT[j, n] + dt * acc)
        out[j] += fpn * chi[j]


@njit(cache=True, parallel=True, fastmath=True)
def _response_row_parallel(n, dt, RT, FP, weights, n_chunks):
    S = FP.shape[0]
    partial = np.zeros((n_chunks, n))
    for c in prange(n_chunks):
        chi = np.empty(n)
        for a in range(c, S, n_chunks):
            _path_response(n, dt, RT, FP[a], weights[a], chi, partial[c])
    return partial.sum(axis=0)


@njit(cache=True, fastmath=True, nogil=True)
def _response_row_serial(n, dt, RT, FP, weights):
    out = np.zeros(n)
    chi = np.empty(n)
    for a in range(FP.shape[0]):
        _path_response(n, dt, RT, FP[a], weights[a], chi, out)
    return out


_PARALLEL_WORK = 2e7  # below this many multiply-adds a parallel region costs more than it saves


def response_row_reference(n: int, dt: float, RT: np.ndarray, FP: np.ndarray,
                           weights: np.ndarray, n_chunks: int) -> np.ndarray:
    """Row ``E_w[f'(h(t_n)) chi(t_n, t_j)]``, j < n, of the regular response kernel (D3).

    Reference path of :func:`response_row` (same arguments, same result up to the order of
    the sums): for every path ``a`` the per-sample response (D3, left-point rule)
    ``chi(n, j) = -f'_j [R(n, j) + dt sum_{j<k<n} chi(n, k) R(k, j)]`` is solved backward in
    ``j`` (adjoint sweep, O(n^2) per path, O(n) memory), then weighted by ``f'_n``. Small
    rows run serially: waking a thread pool for them was measured at ~40 ms per call on a
    loaded 2-core machine, against ~1 ms of work.

    Parameters
    ----------
    n : int
        Current time index.
    dt : float
        Time step.
    RT : (T+1, T+1) float64
        The response transposed, ``RT[j, k] = R(t_k, t_j)``, filled for ``j < k <= n``.
    FP : (S_R, T+1) float64
        ``f'(h_a(t_k))`` of the response paths.
    weights : (S_R,) float64
        Estimator weights (sum to 1 over the population).
    n_chunks : int
        Number of independent partial sums of the parallel reduction.
    """
    if FP.shape[0] * n * n / 2 < _PARALLEL_WORK:
        return _response_row_serial(n, dt, RT, FP, weights)
    return _response_row_parallel(n, dt, RT, FP, weights, n_chunks)


# ---------------------------------------------------------------------------------------
# Blocked back-substitution across all response paths (issue 15)
# ---------------------------------------------------------------------------------------

BLOCK = 128  # time block of the blocked sweep (its far part: one matrix product)
LEAF = 32  # in-block triangles are split in halves down to this size (numba below it)
_PATH_TILE = 2048  # paths per tile of the in-block triangle (measured: 512-S within noise)


@njit(cache=True, fastmath=True, nogil=True)
def _block_triangle(n: int, dt: float, j0: int, j1: int, RT: np.ndarray, FP: np.ndarray,
                    ChiT: np.ndarray) -> None:
    """Finish ``ChiT[j0:j1]`` in place: on entry it holds the sums over ``k >= j1``.

    ``ChiT[j, a] = chi_a(n, j)``. Row ``j`` (descending) adds the in-block terms
    ``sum_{j<k<j1} RT[j, k] ChiT[k]`` (vectorised across paths, four ``k`` at a time), then
    applies ``chi = -f'_j (RT[j, n] + dt acc)`` (D3, left-point rule).
    """
    S = ChiT.shape[1]
    nb = j1 - j0
    fpt = np.empty((nb, S))  # f' of the block, transposed so that paths are contiguous
    for c0 in range(0, S, 64):  # in chunks of 64 paths: the rows of FP read stay in L1
        for jj in range(nb):
            for a in range(c0, min(S, c0 + 64)):
                fpt[jj, a] = FP[a, j0 + jj]
    acc = np.empty(_PATH_TILE)
    for a0 in range(0, S, _PATH_TILE):
        m = min(S - a0, _PATH_TILE)
        for j in range(j1 - 1, j0 - 1, -1):
            row = ChiT[j, a0:a0 + m]
            for i in range(m):
                acc[i] = row[i]
            k = j + 1
            while k + 3 < j1:
                r0, r1, r2, r3 = RT[j, k], RT[j, k + 1], RT[j, k + 2], RT[j, k + 3]
                x0, x1 = ChiT[k, a0:a0 + m], ChiT[k + 1, a0:a0 + m]
                x2, x3 = ChiT[k + 2, a0:a0 + m], ChiT[k + 3, a0:a0 + m]
                for i in range(m):
                    acc[i] += r0 * x0[i] + r1 * x1[i] + r2 * x2[i] + r3 * x3[i]
                k += 4
            while k < j1:
                r0, x0 = RT[j, k], ChiT[k, a0:a0 + m]
                for i in range(m):
                    acc[i] += r0 * x0[i]
                k += 1
            c = RT[j, n]
            fj = fpt[j - j0, a0:a0 + m]
            for i in range(m):
                row[i] = -fj[i] * (c + dt * acc[i])


def _solve_block(n: int, dt: float, j0: int, j1: int, RT: np.ndarray, FP: np.ndarray,
                 ChiT: np.ndarray, leaf: int) -> None:
    """Finish ``ChiT[j0:j1]`` (holding the sums over ``k >= j1``) by halving down to ``leaf``.

    The later half is solved first; its terms in the earlier half are one matrix product.
    """
    if j1 - j0 <= leaf:
        _block_triangle(n, dt, j0, j1, RT, FP, ChiT)
        return
    mid = (j0 + j1) // 2
    _solve_block(n, dt, mid, j1, RT, FP, ChiT, leaf)
    ChiT[j0:mid] += RT[j0:mid, mid:j1] @ ChiT[mid:j1]
    _solve_block(n, dt, j0, mid, RT, FP, ChiT, leaf)


def response_row(n: int, dt: float, RT: np.ndarray, FP: np.ndarray, weights: np.ndarray,
                 n_chunks: int = 1, block: int = BLOCK, leaf: int = LEAF) -> np.ndarray:
    """Row ``E_w[f'(h(t_n)) chi(t_n, t_j)]``, j < n, of the regular response kernel (D3).

    Same result as :func:`response_row_reference` (the method is exact; only the order of
    the sums differs), computed for all ``S_R`` paths at once. With ``ChiT[j, a] =
    chi_a(n, j)``, D3 (left-point rule) reads ``chi_a(n, j) = -f'_a(j) [RT[j, n] + dt
    sum_{j<k<n} RT[j, k] chi_a(n, k)]``, a back-substitution in ``j``. The times are cut
    into blocks ``[j0, j1)`` from the end; the terms ``k >= j1`` of a block are one
    matrix product ``RT[j0:j1, j1:n] @ ChiT[j1:n]`` shared by all paths (BLAS, with the
    calling thread's BLAS thread limit); inside the block the later half is solved first
    and its terms in the earlier half are another product, down to triangles of ``leaf``
    steps done by a numba kernel; the row is then ``ChiT @ (w f'(t_n))``. Cost
    ``S_R n^2`` flops (as the reference), O(S_R n) memory.

    Parameters
    ----------
    n : int
        Current time index (``n >= 1``).
    dt : float
        Time step.
    RT : (T+1, T+1) float64
        The response transposed, ``RT[j, k] = R(t_k, t_j)``, filled for ``j < k <= n``.
    FP : (S_R, T+1) float64
        ``f'(h_a(t_k))`` of the response paths.
    weights : (S_R,) float64
        Estimator weights (sum to 1 over the population).
    n_chunks : int
        Unused; kept so that the call matches :func:`response_row_reference`.
    block, leaf : int
        Time-block size and the size below which the in-block triangle is done in numba
        (the numba triangles cost ``S_R n leaf`` of the ``S_R n^2`` flops, at a lower rate
        than the matrix products; measured in ``benchmarks/bench_solver.py``).

    Returns
    -------
    (n,) float64
        ``sum_a w_a f'_a(n) chi_a(n, j)`` for ``j = 0 .. n-1``.
    """
    if block < 1 or leaf < 1:
        raise ValueError(f"block and leaf must be positive numbers of time steps, got "
                         f"block={block}, leaf={leaf}")
    ChiT = np.empty((n, FP.shape[0]))
    j1 = n
    while j1 > 0:
        j0 = max(0, j1 - block)
        if j1 < n:
            np.matmul(RT[j0:j1, j1:n], ChiT[j1:n], out=ChiT[j0:j1])
        else:
            ChiT[j0:j1] = 0.0
        _solve_block(n, dt, j0, j1, RT, FP, ChiT, leaf)
        j1 = j0
    return ChiT @ (weights * FP[:, n])
