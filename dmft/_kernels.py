"""Private numba kernels of the DMFT solver (typed arrays in and out, no Python objects)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath=True)
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


@njit(cache=True, fastmath=True)
def _response_row_serial(n, dt, RT, FP, weights):
    out = np.zeros(n)
    chi = np.empty(n)
    for a in range(FP.shape[0]):
        _path_response(n, dt, RT, FP[a], weights[a], chi, out)
    return out


_PARALLEL_WORK = 2e7  # below this many multiply-adds a parallel region costs more than it saves


def response_row(n: int, dt: float, RT: np.ndarray, FP: np.ndarray, weights: np.ndarray,
                 n_chunks: int) -> np.ndarray:
    """Row ``E_w[f'(h(t_n)) chi(t_n, t_j)]``, j < n, of the regular response kernel (D3).

    For every path ``a`` the per-sample response (D3, left-point rule)
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
