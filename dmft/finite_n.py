"""Finite-N Hessian spectra along gradient descent (validation layer; H1, E5).

Runs the finite-N simulator and diagonalises the dense Riemannian Hessians, for a
comparison with the Hessian law of the DMFT (H2-H8) such as figure (b).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["hessian_eigenvalues_along_gd"]


def hessian_eigenvalues_along_gd(alpha: float, N: int, times: Sequence[float], seeds: int,
                                 eta: float, seed: int = 0,
                                 ) -> tuple[list[np.ndarray], list[float]]:
    """Riemannian Hessian eigenvalues after gradient descent from ``m0 = 0`` (H1, E5).

    For each of ``seeds`` independent problems (teacher, data and a start exactly
    orthogonal to the teacher, E1-E3), gradient descent with step ``eta`` runs to each
    time of ``times``; there the dense Riemannian Hessian on the tangent space is
    diagonalised, its trivial zero mode (along w) removed.

    Parameters
    ----------
    alpha : float
        Sample ratio M/N.
    N : int
        Dimension (dense diagonalisation: O(N^3) per problem and time).
    times : sequence of float
        Gradient-descent times (0 is the start itself).
    seeds : int
        Independent problems pooled per time.
    eta : float
        Step size of gradient descent (E5).
    seed : int
        Root seed of the problems.

    Returns
    -------
    eigs : list of arrays
        Per time, the pooled ``seeds * (N - 1)`` eigenvalues.
    m_abs : list of float
        Per time, the mean ``|m| = |w . w*| / N`` over the problems.
    """
    from dmft.hessian import riemannian_hessian_dense
    from dmft.problem import make_problem
    from dmft.simulate import simulate

    children = np.random.SeedSequence(seed).spawn(seeds)
    probs = [make_problem(alpha, N, m0=0.0, seed=c) for c in children]
    eigs, m_abs = [], []
    for t in times:
        W = ([p.W0[0] for p in probs] if t == 0 else
             simulate(alpha, N, m0=0.0, t_max=t, eta=eta, seeds=seeds, seed=seed).w_final)
        lams = []
        for p, w in zip(probs, W, strict=True):
            lam = np.linalg.eigvalsh(riemannian_hessian_dense(p.X, p.y, w))
            lams.append(np.delete(lam, np.argmin(abs(lam))))  # the trivial 0 along w
        eigs.append(np.concatenate(lams))
        m_abs.append(float(np.mean([abs(w @ p.w_star) / N
                                    for p, w in zip(probs, W, strict=True)])))
    return eigs, m_abs
