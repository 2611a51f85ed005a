"""Private numba kernels of the DMFT solver (typed arrays in and out, no Python objects)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True, fastmath=True)
def response_row(n: int, dt: float, RT: np.ndarray, FP: np.ndarray, weights: np.ndarray,
                 n_chunks: int) -> np.ndarray:
    """Row ``E_w[f'(h(t_n)) chi(t_n, t_j)]``, j < n, of the regular response kernel (D3).

    For every path ``a`` the per-sample response (D3, left-point rule)
    ``chi(n, j) = -f'_j [R(n, j) + dt sum_{j<k<n} chi(n, k) R(k, j)]`` is solved backward in
    ``j`` (adjoint sweep, O(n^2) per path, O(n) memory), then weighted by ``f'_n``.

    Parameters
    ----------
    n : int
        Current time index.
    dt : float
        Time step.
    RT : (T+1, T+1) float64
        The response transposed, ``RT[j, k] = R(t_k, t_j)``, filled for ``j <= k <= n``.
    FP : (S_R, T+1) float64
        ``f'(h_a(t_k))`` of the response paths.
    weights : (S_R,) float64
        Estimator weights (sum to 1 over the population).
    n_chunks : int
        Number of independent partial sums (parallel reduction).
    """
    S = FP.shape[0]
    partial = np.zeros((n_chunks, n))
    for c in prange(n_chunks):
        chi = np.empty(n)
        for a in range(c, S, n_chunks):
            fpn = FP[a, n] * weights[a]
            for j in range(n - 1, -1, -1):
                acc = 0.0
                for k in range(j + 1, n):
                    acc += chi[k] * RT[j, k]
                chi[j] = -FP[a, j] * (RT[j, n] + dt * acc)
                partial[c, j] += fpn * chi[j]
    return partial.sum(axis=0)
