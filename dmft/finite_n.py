"""Finite-N Hessian spectra along gradient descent (validation layer; H1, E5).

Runs the finite-N simulator and diagonalises the dense Riemannian Hessians, for a
comparison with the Hessian law of the DMFT (H2-H8) such as figure (b).
"""

from __future__ import annotations

import numpy as np

__all__ = ["finite_n_hessians"]


def finite_n_hessians(alpha: float, N: int, times, seeds: int, eta: float, *,
                      loss="phase_retrieval", scheme: str = "explicit",
                      seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Dense Riemannian Hessians (H1) after gradient descent from ``m0 = 0`` (E5, E5p).

    Each of ``seeds`` problems (teacher, data with the labels of
    ``loss``, a start exactly orthogonal to the teacher) runs gradient descent with step
    ``eta`` to each time, on ``loss`` (``"explicit"``) or on its Moreau envelope
    (``"prox"``, the finite-N twin of ``solve(scheme="prox", dt=eta)``); there the Hessian of
    ``loss`` itself is diagonalised, its trivial zero mode along w removed.

    Parameters
    ----------
    alpha : float
        Sample ratio M/N.
    N : int
        Dimension (dense diagonalisation: O(N^3) per problem and time).
    times : sequence of float
        Gradient-descent times (0 is the start itself).
    seeds : int
        Independent problems per time.
    eta : float
        Step size of gradient descent (E5).
    loss, scheme :
        Per-sample loss (E4, E4a) and step (``"explicit"`` or ``"prox"``).
    seed : int
        Root seed of the problems.

    Returns
    -------
    list of dict, one per time, each with arrays over the problems:
    ``eigs`` (seeds, N - 1), ``mu`` (the problem's multiplier ``sum_mu f h / N``, E5),
    ``overlap2_1`` (squared overlap of the lowest eigenvector with w*/sqrt(N)) and ``m``.
    """
    import math

    from dmft.hessian import riemannian_hessian_dense
    from dmft.losses import get_loss
    from dmft.moreau import moreau_envelope
    from dmft.problem import make_problem
    from dmft.simulate import simulate

    loss = get_loss(loss)
    if scheme not in ("explicit", "prox"):
        raise ValueError(f"scheme must be 'explicit' or 'prox', got {scheme!r}")
    gd_loss = moreau_envelope(loss, eta) if scheme == "prox" else loss
    children = np.random.SeedSequence(seed).spawn(seeds)
    probs = [make_problem(alpha, N, m0=0.0, seed=c, loss=loss) for c in children]
    out = []
    for t in times:
        W = ([p.W0[0] for p in probs] if t == 0 else
             simulate(alpha, N, m0=0.0, t_max=t, eta=eta, seeds=seeds, seed=seed,
                      loss=gd_loss, check_eta=scheme == "explicit").w_final)
        rows = {"eigs": [], "mu": [], "overlap2_1": [], "m": []}
        for p, w in zip(probs, W, strict=True):
            lam, vec = np.linalg.eigh(riemannian_hessian_dense(p.X, p.y, w, loss=loss))
            keep = np.arange(lam.size) != np.argmin(abs(lam))  # the trivial 0 along w
            h = p.X @ w / math.sqrt(N)
            rows["eigs"].append(lam[keep])
            rows["mu"].append(float(loss.f(h, p.y) @ h) / N)
            rows["overlap2_1"].append(float(vec[:, keep][:, 0] @ p.w_star) ** 2 / N)
            rows["m"].append(float(w @ p.w_star) / N)
        out.append({k: np.asarray(v) for k, v in rows.items()})
    return out
