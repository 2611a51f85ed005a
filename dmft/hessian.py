"""Finite-N Riemannian Hessian of the spherical loss (THEORY.md H1).

``H = P ((1/N) sum_mu f'_mu x_mu x_mu^T - mu I) P`` at a point ``w`` of the sphere
``|w|^2 = N``, with ``P = I - w w^T / |w|^2``, ``h = X w / sqrt(N)``, ``f = l'(h; y)``,
``f' = l''(h; y)`` (E4) and ``mu = (1/N) sum_mu f_mu h_mu`` (E5). Available as a
matrix-free product (:func:`riemannian_hessian_matvec`), as a dense matrix for small N
(:func:`riemannian_hessian_dense`), through its extreme eigenpairs on the ``N - 1``-dimensional
tangent space (:func:`hessian_extremes`, ``scipy.sparse.linalg.eigsh``), and through a cheap
lower bound of its largest eigenvalue (:func:`lambda_max_lower_bound`, used to check the step
of gradient descent).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse.linalg as spla

from dmft import _checks as checks
from dmft.losses import Loss, get_loss

__all__ = [
    "HessianEigs",
    "hessian_extremes",
    "lambda_max_lower_bound",
    "riemannian_hessian_dense",
    "riemannian_hessian_matvec",
]

_DENSE_MAX_N = 2000


def check_data(X, y, w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate data ``X`` (M, N), labels ``y`` (M,) and a point ``w`` (N,); ValueError
    saying what is wrong. ``y`` and ``w`` are cast to the dtype of ``X``."""
    X = np.asarray(X)
    if X.ndim != 2 or X.dtype.kind != "f":
        raise ValueError(f"X must be a 2-D float array, got shape {X.shape}, dtype {X.dtype}")
    M, N = X.shape
    y = np.asarray(y, dtype=X.dtype)
    w = np.asarray(w, dtype=X.dtype)
    if y.shape != (M,):
        raise ValueError(f"y must have shape ({M},) to match X, got {y.shape}")
    if w.shape != (N,):
        raise ValueError(f"w must have shape ({N},) to match X, got {w.shape}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(w))):
        raise ValueError("y and w must be finite")
    if not np.any(w):
        raise ValueError("w must be non-zero")
    return X, y, w


class _TangentHessian:
    """Precomputed pieces of the Riemannian Hessian (H1) at one point ``w``."""

    def __init__(self, X: np.ndarray, y: np.ndarray, w: np.ndarray, loss: Loss):
        self.X = X
        self.N = X.shape[1]
        h = (X @ w) / math.sqrt(self.N)
        self.fp = np.asarray(loss.fp(h, y), dtype=X.dtype) / X.dtype.type(self.N)
        self.mu = float(np.dot(loss.f(h, y), h)) / self.N
        w64 = w.astype(np.float64)
        self.w_hat = w64 / np.linalg.norm(w64)

    def project(self, V: np.ndarray) -> np.ndarray:
        """``P V`` with ``P = I - w_hat w_hat^T``; V of shape (N,) or (N, k)."""
        return V - np.multiply.outer(self.w_hat, self.w_hat @ V).reshape(V.shape)

    def euclid(self, V: np.ndarray) -> np.ndarray:
        """``(1/N) sum_mu f'_mu x_mu x_mu^T V - mu V`` (no projection)."""
        Vx = V.astype(self.X.dtype, copy=False)
        XV = self.X @ Vx
        XV *= self.fp if V.ndim == 1 else self.fp[:, None]
        out = (XV.T @ self.X).T if V.ndim == 2 else XV @ self.X
        return out.astype(np.float64) - self.mu * V

    def matvec(self, V: np.ndarray) -> np.ndarray:
        """``H V`` of H1 (projected on both sides)."""
        V = np.asarray(V, dtype=np.float64)
        return self.project(self.euclid(self.project(V)))


def riemannian_hessian_matvec(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    V: np.ndarray,
    loss: str | Loss = "phase_retrieval",
) -> np.ndarray:
    """Matrix-free product ``H V`` with the Riemannian Hessian (H1).

    ``H = P ((1/N) sum_mu f'(h_mu) x_mu x_mu^T - mu I) P``, ``P = I - w w^T / |w|^2``,
    ``h = X w / sqrt(N)``, ``mu = (1/N) sum_mu f(h_mu) h_mu`` (E5). Costs two passes over X.

    Parameters
    ----------
    X, y, w : arrays of shapes (M, N), (M,), (N,)
        Data, labels and a point on the sphere ``|w|^2 = N``.
    V : ndarray, shape (N,) or (N, k)
    loss : str or Loss

    Returns
    -------
    ndarray, float64, same shape as V.
    """
    X, y, w = check_data(X, y, w)
    V = np.asarray(V, dtype=np.float64)
    if V.shape[0] != X.shape[1] or V.ndim not in (1, 2):
        raise ValueError(f"V must have shape ({X.shape[1]},) or ({X.shape[1]}, k), got {V.shape}")
    return _TangentHessian(X, y, w, get_loss(loss)).matvec(V)


def riemannian_hessian_dense(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, loss: str | Loss = "phase_retrieval"
) -> np.ndarray:
    """Dense Riemannian Hessian (H1), shape (N, N), float64. For tests; N <= 2000 only.

    The matrix has the trivial eigenvalue 0 along ``w``; its other N - 1 eigenvalues are the
    Riemannian spectrum.
    """
    X, y, w = check_data(X, y, w)
    N = X.shape[1]
    if N > _DENSE_MAX_N:
        raise ValueError(
            f"riemannian_hessian_dense is for N <= {_DENSE_MAX_N} (got N={N}); "
            "use riemannian_hessian_matvec or hessian_extremes"
        )
    op = _TangentHessian(X, y, w, get_loss(loss))
    X64 = X.astype(np.float64, copy=False)
    A = (X64.T * op.fp.astype(np.float64)) @ X64
    A[np.diag_indices(N)] -= op.mu
    P = np.eye(N) - np.outer(op.w_hat, op.w_hat)
    Hm = P @ A @ P
    return 0.5 * (Hm + Hm.T)


@dataclass
class HessianEigs:
    """Extreme Riemannian eigenvalues of H1 on the (N-1)-dimensional tangent space.

    Attributes
    ----------
    lam_low : ndarray (k_low,)
        Lowest eigenvalues, ascending.
    overlap2_low : ndarray (k_low,)
        ``<v, w*>^2 / N`` of the corresponding unit eigenvectors v.
    lam_high : ndarray (k_high,)
        Highest eigenvalues, descending.
    vectors_low : ndarray (N, k_low) or None
        The unit eigenvectors (tangent to the sphere), when requested.
    """

    lam_low: np.ndarray
    overlap2_low: np.ndarray
    lam_high: np.ndarray
    vectors_low: np.ndarray | None = None


class _HouseholderTangent:
    """Orthonormal basis of the tangent space at w: ``Q [v; 0]`` with Q a Householder
    reflection mapping ``e_N`` to ``+-w_hat``; so the trivial direction w is excluded exactly."""

    def __init__(self, w_hat: np.ndarray):
        self.N = w_hat.size
        u = w_hat.copy()
        u[-1] += 1.0 if w_hat[-1] >= 0 else -1.0
        self.u = u
        self.c = 2.0 / float(u @ u)

    def embed(self, v: np.ndarray) -> np.ndarray:  # R^{N-1} -> tangent space in R^N
        z = np.zeros((self.N,) + v.shape[1:])
        z[:-1] = v
        return z - self.c * np.multiply.outer(self.u, self.u[:-1] @ v).reshape(z.shape)

    def restrict(self, z: np.ndarray) -> np.ndarray:  # R^N -> coordinates in R^{N-1}
        q = z - self.c * np.multiply.outer(self.u, self.u @ z).reshape(z.shape)
        return q[:-1]


def hessian_extremes(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    w_star: np.ndarray,
    k_low: int = 3,
    k_high: int = 2,
    loss: str | Loss = "phase_retrieval",
    method: Literal["auto", "lanczos", "dense"] = "auto",
    tol: float = 1e-8,
    return_vectors: bool = False,
) -> HessianEigs:
    """Extreme eigenvalues of the Riemannian Hessian (H1) and overlaps with ``w*``.

    Only the N - 1 non-trivial eigenvalues count: the operator is restricted to an orthonormal
    basis of the tangent space at w (Householder reflection), so the trivial zero mode along w
    never appears. ``method="lanczos"`` runs ``scipy.sparse.linalg.eigsh`` (implicitly
    restarted Lanczos) on a matrix-free ``LinearOperator`` (two passes over X per product);
    ``"dense"`` uses ``numpy.linalg.eigh`` (N <= 2000); ``"auto"`` is dense for N <= 150.

    Parameters
    ----------
    X, y, w, w_star : arrays
        Data (M, N), labels (M,), point on the sphere (N,), teacher (N,) with ``|w*|^2 = N``.
    k_low, k_high : int
        Number of lowest and highest eigenvalues wanted (``k_low + k_high < N - 1``).
    loss : str or Loss
    method : {"auto", "lanczos", "dense"}
    tol : float
        Relative accuracy asked of ARPACK (at least ~1e-5 for float32 data).
    return_vectors : bool
        Also return the lowest eigenvectors.

    Returns
    -------
    HessianEigs
    """
    X, y, w = check_data(X, y, w)
    N = X.shape[1]
    w_star = np.asarray(w_star, dtype=np.float64)
    if w_star.shape != (N,):
        raise ValueError(f"w_star must have shape ({N},), got {w_star.shape}")
    k_low = checks.integer("k_low", k_low, 0)
    k_high = checks.integer("k_high", k_high, 0)
    if k_low + k_high >= N - 1:
        raise ValueError(f"k_low + k_high must be < N - 1 = {N - 1}, got {k_low + k_high}")
    if method not in ("auto", "lanczos", "dense"):
        raise ValueError(f"method must be 'auto', 'lanczos' or 'dense', got {method!r}")
    if method == "auto":
        method = "dense" if N <= 150 else "lanczos"
    if method == "dense":
        lam_low, Z, lam_high = _extremes_dense(X, y, w, k_low, k_high, loss)
    else:
        tol = max(tol, 1e-5) if X.dtype == np.float32 else tol
        lam_low, Z, lam_high = _extremes_lanczos(X, y, w, k_low, k_high, get_loss(loss), tol)
    Z = Z / np.linalg.norm(Z, axis=0, keepdims=True) if Z.shape[1] else Z
    overlap2 = (w_star @ Z) ** 2 / N
    return HessianEigs(
        lam_low=np.asarray(lam_low, dtype=float),
        overlap2_low=np.asarray(overlap2, dtype=float),
        lam_high=np.asarray(lam_high, dtype=float),
        vectors_low=Z if return_vectors else None,
    )


def _extremes_dense(X, y, w, k_low: int, k_high: int, loss) -> tuple[np.ndarray, ...]:
    """Lowest eigenvalues, their vectors (N, k_low) and highest eigenvalues, by ``eigh``."""
    N = X.shape[1]
    w64 = w.astype(np.float64)
    basis = _HouseholderTangent(w64 / np.linalg.norm(w64))
    Qt = basis.embed(np.eye(N - 1))  # (N, N-1) orthonormal tangent basis
    B = Qt.T @ riemannian_hessian_dense(X, y, w, loss) @ Qt
    lam, vecs = np.linalg.eigh(0.5 * (B + B.T))
    return lam[:k_low], Qt @ vecs[:, :k_low], lam[::-1][:k_high]


def _tangent_operator(X, y, w, loss: Loss) -> spla.LinearOperator:
    """H1 on the (N-1)-dimensional tangent space (Householder basis), matrix-free."""
    op = _TangentHessian(X, y, w, loss)
    basis = _HouseholderTangent(op.w_hat)

    def mv(v):
        return basis.restrict(op.euclid(basis.embed(np.asarray(v, dtype=np.float64))))

    n = X.shape[1] - 1
    lin = spla.LinearOperator((n, n), matvec=mv, matmat=mv, dtype=np.float64)
    lin.embed = basis.embed  # coordinates -> vectors of R^N
    return lin


def _v0(N: int) -> np.ndarray:
    """Fixed Lanczos start vector in the tangent coordinates (reproducible results)."""
    return np.random.default_rng(12345).standard_normal(N - 1)


def _extremes_lanczos(X, y, w, k_low: int, k_high: int, loss: Loss,
                      tol: float) -> tuple[np.ndarray, ...]:
    """As :func:`_extremes_dense`, by ``eigsh`` (NaN-padded where ARPACK did not converge)."""
    N = X.shape[1]
    lin, v0 = _tangent_operator(X, y, w, loss), _v0(N)
    lam_low, Z, lam_high = np.full(k_low, np.nan), np.full((N, k_low), np.nan), np.empty(0)
    if k_low:
        lam, vecs = _eigsh(lin, k_low, "SA", tol, v0)
        order = np.argsort(lam)
        lam_low[: lam.size] = lam[order]
        Z[:, : lam.size] = lin.embed(vecs[:, order])
    if k_high:
        lam, _ = _eigsh(lin, k_high, "LA", tol, v0)
        lam_high = np.full(k_high, np.nan)
        lam_high[: lam.size] = np.sort(lam)[::-1]
    return lam_low, Z, lam_high


def _eigsh(lin, k: int, which: str, tol: float, v0: np.ndarray):
    """``eigsh`` with a larger Krylov space on failure; NaN-padded partial results + warning
    if it still does not converge."""
    n = lin.shape[0]
    ncv = min(n, max(2 * k + 1, 24))
    for attempt in range(2):
        try:
            return spla.eigsh(lin, k=k, which=which, tol=tol, ncv=ncv, v0=v0)
        except spla.ArpackNoConvergence as exc:
            if attempt == 1:
                warnings.warn(
                    f"hessian_extremes: Lanczos ({which}) converged for {exc.eigenvalues.size} "
                    f"of {k} eigenvalues; the others are NaN (loosen tol)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                return exc.eigenvalues, exc.eigenvectors
            ncv = min(n, 2 * ncv)
    raise AssertionError("unreachable")  # pragma: no cover


def lambda_max_lower_bound(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    loss: str | Loss = "phase_retrieval",
    tol: float = 1e-3,
) -> float:
    """Largest Riemannian eigenvalue of H1 at ``w``, to relative accuracy ``tol``, from below.

    ``eigsh(which="LA")`` on the tangent operator: the result is a Ritz value, hence never
    above ``lambda_max``. Used to check the step of gradient descent (``eta lambda_max < 2``).
    (A hand-written 20-step Lanczos with full reorthogonalisation gave the same value to 4
    digits at alpha = 4-14, N = 500-2000, in the same time within the machine's noise; the
    library is kept.)
    """
    X, y, w = check_data(X, y, w)
    lam, _ = _eigsh(_tangent_operator(X, y, w, get_loss(loss)), 1, "LA", tol, _v0(X.shape[1]))
    return float(lam[0]) if lam.size else math.nan
