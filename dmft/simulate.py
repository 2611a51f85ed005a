"""Finite-N gradient descent on the sphere for real phase retrieval (THEORY.md E1-E5, H1).

The model (E1-E3): teacher ``w*`` with ``|w*|^2 = N``, Gaussian data ``X`` of shape ``(M, N)``
with ``alpha = M / N``, labels ``y = (X w* / sqrt(N))^2`` (E2, plus optional noise), and a
student ``w`` on the sphere ``|w|^2 = N`` with pre-activations ``h = X w / sqrt(N)`` and
overlap ``m = w.w* / N``. The loss ``L(w) = sum_mu l(h_mu; y_mu)`` (E4) is pluggable
(:mod:`dmft.losses`).

Dynamics (E5): ``w <- sqrt(N) * normalize(w - eta * grad L)`` with
``grad L = X^T f / sqrt(N)``, ``f = l'(h; y)``, time ``t = k * eta``; as ``eta -> 0`` this is the
spherical gradient flow ``dw/dt = -grad L + mu w``, ``mu = w.grad L / N``. The ``K`` replicas
(starts) of one dataset are advanced together: one GEMM ``X @ W^T`` and one GEMM ``F^T @ X``
per step, so a step streams ``X`` twice whatever ``K``.

The Riemannian Hessian (H1) ``H = P ((1/N) sum_mu f'_mu x_mu x_mu^T - mu I) P`` is available
as a matrix-free product (:func:`riemannian_hessian_matvec`), as a dense matrix for small N
(:func:`riemannian_hessian_dense`), and through its extreme eigenpairs on the
``N - 1``-dimensional tangent space (:func:`hessian_extremes`, Lanczos via ``eigsh``).
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse.linalg as spla
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from dmft import __version__
from dmft import _checks as checks
from dmft._io import load_npz, save_npz
from dmft.losses import PHASE_RETRIEVAL, Loss, get_loss

__all__ = [
    "HessianEigs",
    "Problem",
    "SimulationResult",
    "energy",
    "hessian_extremes",
    "make_problem",
    "riemannian_gradient",
    "riemannian_hessian_dense",
    "riemannian_hessian_matvec",
    "simulate",
]

SeedLike = int | np.random.SeedSequence | np.random.Generator | None
M0Like = float | Sequence[float] | np.ndarray | None

_DENSE_MAX_N = 2000
_DTYPES = {np.dtype(np.float64), np.dtype(np.float32)}


# --------------------------------------------------------------------------------------------
# Problem generation (E1-E3)
# --------------------------------------------------------------------------------------------


@dataclass
class Problem:
    """One dataset and the starting points of its replicas (THEORY E1-E3).

    Attributes
    ----------
    X : ndarray, shape (M, N)
        Gaussian inputs ``x_mu ~ N(0, I_N)`` (E1), C-contiguous, in the working dtype.
    y : ndarray, shape (M,)
        Labels ``y_mu = (h*_mu)^2`` (+ noise) for the default loss (E2).
    w_star : ndarray, shape (N,)
        Teacher, ``|w*|^2 = N`` (E1).
    W0 : ndarray, shape (K, N)
        Starting points of the K replicas, each with ``|w|^2 = N`` (E3).
    alpha : float
        Sample ratio ``M / N`` as requested (``M = round(alpha N)``).
    N, M : int
        Dimension and number of samples.
    loss : str
        Name of the loss the labels were generated for.
    noise : float
        Label-noise variance Delta.
    """

    X: np.ndarray
    y: np.ndarray
    w_star: np.ndarray
    W0: np.ndarray
    alpha: float
    N: int
    M: int
    loss: str = PHASE_RETRIEVAL.name
    noise: float = 0.0

    @property
    def m0(self) -> np.ndarray:
        """Overlaps ``m = w.w*/N`` of the starting points, shape (K,)."""
        return (self.W0.astype(np.float64) @ self.w_star.astype(np.float64)) / self.N


def _seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    if seed is not None and not isinstance(seed, int | np.integer):
        raise ValueError(
            f"seed must be an integer, a SeedSequence, a Generator or None, got {seed!r}"
        )
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.SeedSequence(seed)


def _child(ss: np.random.SeedSequence, i: int) -> np.random.Generator:
    """Deterministic i-th sub-stream of ``ss`` (does not mutate ``ss``, unlike ``spawn``)."""
    return np.random.default_rng(
        np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 1000 + i))
    )


def _check_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in _DTYPES:
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    return dt


def _check_m0(m0: M0Like, replicas: int) -> np.ndarray | None:
    """Return m0 as an array of shape (replicas,), or None for random starts."""
    if m0 is None:
        return None
    arr = np.atleast_1d(np.asarray(m0, dtype=float))
    if arr.ndim != 1:
        raise ValueError(f"m0 must be a number or a 1-D sequence, got shape {arr.shape}")
    if arr.size == 1:
        arr = np.full(replicas, arr[0])
    elif arr.size != replicas:
        raise ValueError(
            f"m0 has {arr.size} values but replicas={replicas}: give one m0 per replica "
            "or a single number"
        )
    for v in arr:
        checks.in_range("m0", v, -1.0, 1.0)
    return arr


def _sample_starts(
    rng: np.random.Generator, w_star: np.ndarray, m0: np.ndarray | None, K: int
) -> np.ndarray:
    """Starting points on the sphere (E3 initial condition), float64, shape (K, N)."""
    N = w_star.size
    U = rng.standard_normal((K, N))
    if m0 is None:
        return U * (math.sqrt(N) / np.linalg.norm(U, axis=1, keepdims=True))
    e_star = w_star / np.linalg.norm(w_star)
    U -= np.outer(U @ e_star, e_star)  # orthogonal to w*
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    W = m0[:, None] * w_star[None, :] + np.sqrt(1.0 - m0**2)[:, None] * math.sqrt(N) * U
    # exact norm sqrt(N) up to rounding; renormalise to remove it
    return W * (math.sqrt(N) / np.linalg.norm(W, axis=1, keepdims=True))


def make_problem(
    alpha: float,
    N: int,
    m0: M0Like = None,
    seed: SeedLike = 0,
    replicas: int = 1,
    loss: str | Loss = "phase_retrieval",
    noise: float = 0.0,
    dtype: Any = np.float64,
) -> Problem:
    """Draw one dataset (E1, E2) and ``replicas`` starting points (E3).

    Parameters
    ----------
    alpha : float
        Sample ratio; ``M = round(alpha * N)`` samples (at least 1).
    N : int
        Dimension (>= 2).
    m0 : None, float or sequence of float
        ``None``: each replica starts uniformly on the sphere (``|m0| ~ 1/sqrt(N)``).
        A float in [-1, 1]: every replica starts at overlap exactly ``m0``,
        ``w0 = m0 w* + sqrt(1 - m0^2) sqrt(N) u`` with u a uniform unit vector orthogonal to
        ``w*`` (THEORY section 1). A sequence of length ``replicas``: one m0 per replica.
    seed : int, SeedSequence, Generator or None
        Randomness. Teacher and inputs, labels (noise) and starts use separate sub-streams,
        so the dataset does not depend on ``m0``, ``replicas`` or ``noise``, and the inputs do
        not depend on ``dtype`` (they are drawn in float64 and rounded).
    replicas : int
        Number K of starting points on this dataset.
    loss : str or Loss
        Loss whose label model generates ``y`` (E2, E4).
    noise : float
        Variance Delta of additive Gaussian label noise (>= 0).
    dtype : float64 or float32
        Working dtype of ``X``, ``y``, ``W0``.

    Returns
    -------
    Problem
    """
    alpha = checks.positive("alpha", alpha)
    N = checks.integer("N", N, 2)
    replicas = checks.integer("replicas", replicas, 1)
    noise = checks.finite("noise", noise)
    if noise < 0:
        raise ValueError(f"noise (label-noise variance) must be >= 0, got {noise}")
    loss_obj = get_loss(loss)
    dt = _check_dtype(dtype)
    m0_arr = _check_m0(m0, replicas)
    M = max(1, int(round(alpha * N)))
    ss = _seed_sequence(seed)
    rng_data, rng_label, rng_start = _child(ss, 0), _child(ss, 1), _child(ss, 2)

    w_star = rng_data.standard_normal(N)
    w_star *= math.sqrt(N) / np.linalg.norm(w_star)
    if dt == np.float64:
        X = rng_data.standard_normal((M, N))
    else:  # draw in float64 chunks (same numbers as the float64 problem), round to dtype
        X = np.empty((M, N), dtype=dt)
        chunk = max(1, (1 << 22) // N)
        for i in range(0, M, chunk):
            X[i : i + chunk] = rng_data.standard_normal((min(chunk, M - i), N))
    h_star = (X.astype(np.float64, copy=False) @ w_star) / math.sqrt(N)
    y = np.asarray(loss_obj.label(h_star, rng_label, noise), dtype=np.float64)
    W0 = _sample_starts(rng_start, w_star, m0_arr, replicas)
    return Problem(
        X=np.ascontiguousarray(X, dtype=dt),
        y=y.astype(dt),
        w_star=w_star.astype(dt),
        W0=np.ascontiguousarray(W0, dtype=dt),
        alpha=alpha,
        N=N,
        M=M,
        loss=loss_obj.name,
        noise=noise,
    )


# --------------------------------------------------------------------------------------------
# Loss, gradient and Hessian (E4, E5, H1)
# --------------------------------------------------------------------------------------------


def _check_Xyw(X, y, w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def energy(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, loss: str | Loss = "phase_retrieval"
) -> float:
    """Energy per sample ``e = L(w) / M`` (E4), ``h = X w / sqrt(N)`` (w used as given)."""
    X, y, w = _check_Xyw(X, y, w)
    lo = get_loss(loss)
    h = (X @ w) / math.sqrt(X.shape[1])
    return float(np.mean(lo.l(h, y), dtype=np.float64))


def riemannian_gradient(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, loss: str | Loss = "phase_retrieval"
) -> tuple[np.ndarray, float]:
    """Riemannian gradient ``grad L - mu w`` and multiplier ``mu`` at ``w`` (E5).

    ``grad L = X^T f / sqrt(N)``, ``mu = w.grad L / N``; ``w`` should satisfy ``|w|^2 = N``.

    Returns
    -------
    grad : ndarray, shape (N,)
        Tangent part of the Euclidean gradient (orthogonal to w when ``|w|^2 = N``).
    mu : float
    """
    X, y, w = _check_Xyw(X, y, w)
    lo = get_loss(loss)
    N = X.shape[1]
    h = (X @ w) / math.sqrt(N)
    f = lo.f(h, y)
    g = (f @ X) / math.sqrt(N)
    mu = float(np.dot(f, h)) / N
    return g - mu * w, mu


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
    X, y, w = _check_Xyw(X, y, w)
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
    X, y, w = _check_Xyw(X, y, w)
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
    X, y, w = _check_Xyw(X, y, w)
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
    op = _TangentHessian(X, y, w, get_loss(loss))
    basis = _HouseholderTangent(op.w_hat)

    if method == "dense":
        Hd = riemannian_hessian_dense(X, y, w, loss)
        Qt = basis.embed(np.eye(N - 1))  # (N, N-1) orthonormal tangent basis
        B = Qt.T @ Hd @ Qt
        lam, vecs = np.linalg.eigh(0.5 * (B + B.T))
        lam_low, v_low = lam[:k_low], vecs[:, :k_low]
        lam_high = lam[::-1][:k_high]
        Z = Qt @ v_low
    else:
        if X.dtype == np.float32:
            tol = max(tol, 1e-5)

        def mv(v):
            return basis.restrict(op.euclid(basis.embed(np.asarray(v, dtype=np.float64))))

        lin = spla.LinearOperator((N - 1, N - 1), matvec=mv, matmat=mv, dtype=np.float64)
        v0 = np.random.default_rng(12345).standard_normal(N - 1)
        lam_low = np.empty(0)
        Z = np.empty((N, 0))
        lam_high = np.empty(0)
        if k_low:
            lam, vecs = _eigsh(lin, k_low, "SA", tol, v0)
            order = np.argsort(lam)
            lam_low = np.full(k_low, np.nan)
            lam_low[: lam.size] = lam[order]
            Z = np.full((N, k_low), np.nan)
            Z[:, : lam.size] = basis.embed(vecs[:, order])
        if k_high:
            lam, _ = _eigsh(lin, k_high, "LA", tol, v0)
            lam_high = np.full(k_high, np.nan)
            lam_high[: lam.size] = np.sort(lam)[::-1]
    Z = Z / np.linalg.norm(Z, axis=0, keepdims=True) if Z.shape[1] else Z
    overlap2 = (w_star @ Z) ** 2 / N
    return HessianEigs(
        lam_low=np.asarray(lam_low, dtype=float),
        overlap2_low=np.asarray(overlap2, dtype=float),
        lam_high=np.asarray(lam_high, dtype=float),
        vectors_low=Z if return_vectors else None,
    )


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


def _lambda_max_lower_bound(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, loss: Loss, steps: int = 20
) -> float:
    """Largest Ritz value of ``steps`` Lanczos iterations on H1 at w: a lower bound of
    ``lambda_max`` (Ritz values lie inside the spectrum), usually within a few percent."""
    op = _TangentHessian(X, y, w, loss)
    N = X.shape[1]
    steps = min(steps, N - 1)
    rng = np.random.default_rng(7)
    Q = np.zeros((N, steps))
    q = op.project(rng.standard_normal(N))
    q /= np.linalg.norm(q)
    alphas, betas = [], []
    for j in range(steps):
        Q[:, j] = q
        z = op.matvec(q)
        a = float(q @ z)
        z -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ z)  # full reorthogonalisation
        z -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ z)
        alphas.append(a)
        b = float(np.linalg.norm(z))
        if not np.isfinite(b) or b < 1e-12 * max(1.0, abs(a)) or j == steps - 1:
            break
        betas.append(b)
        q = z / b
    off = betas[: len(alphas) - 1]
    T = np.diag(alphas) + np.diag(off, 1) + np.diag(off, -1)
    return float(np.linalg.eigvalsh(T)[-1])


# --------------------------------------------------------------------------------------------
# Simulation results
# --------------------------------------------------------------------------------------------

_RUN_ARRAYS = ("m", "e", "mu", "grad_norm", "hess_low", "hess_low_overlap2", "hess_high", "success")


@dataclass
class SimulationResult:
    """Observables of R = seeds * replicas gradient-descent runs (run r = dataset*K + replica).

    Attributes
    ----------
    t : ndarray (T,)
        Recording times ``k * eta`` (``t[0] = 0``).
    m, e, mu, grad_norm : ndarray (R, T)
        Overlap ``m = w.w*/N`` (E3), energy per sample ``e = L/M`` (E4), multiplier ``mu`` (E5)
        and Riemannian gradient norm ``|grad L - mu w| / sqrt(N)``.
    hessian_t : ndarray (H,)
        Times of the Hessian snapshots (empty without ``hessian_every``).
    hess_low, hess_low_overlap2 : ndarray (R, H, k_low)
        Lowest Riemannian eigenvalues of H1 (ascending) and ``<v,w*>^2/N`` of their vectors.
    hess_high : ndarray (R, H, k_high)
        Highest Riemannian eigenvalues (descending).
    success : ndarray (R,) of bool
        ``|m(t_end)| > success_threshold``.
    status : int
        0 reached ``t_max``; 1 early stop (every run's gradient norm below ``grad_tol``; the
        frozen final states fill the records up to ``t_max``); -1 stopped on non-finite
        values (the arrays are cut before the first non-finite step).
    message : str
    metadata : dict
        Parameters of the run (alpha, N, M, eta, t_max, seeds, seed, replicas, m0, loss,
        noise, dtype, dmft_version, ...).
    w_final : ndarray (R, N) or None
        Weights at the last recorded time of each run (float64, ``|w|^2 = N``).
    """

    t: np.ndarray
    m: np.ndarray
    e: np.ndarray
    mu: np.ndarray
    grad_norm: np.ndarray
    hessian_t: np.ndarray
    hess_low: np.ndarray
    hess_low_overlap2: np.ndarray
    hess_high: np.ndarray
    success: np.ndarray
    status: int = 0
    message: str = ""
    metadata: dict = field(default_factory=dict)
    w_final: np.ndarray | None = None

    @property
    def n_runs(self) -> int:
        """Number R of runs."""
        return int(self.m.shape[0])

    def _array(self, name: str) -> np.ndarray:
        if name not in _RUN_ARRAYS:
            raise ValueError(f"unknown observable {name!r}; choose one of {list(_RUN_ARRAYS)}")
        return np.asarray(getattr(self, name), dtype=float)

    def mean(self, name: str) -> np.ndarray:
        """Mean over runs (axis 0) of observable ``name``, ignoring NaNs."""
        a = self._array(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(a, axis=0)

    def sem(self, name: str) -> np.ndarray:
        """Standard error of the mean over runs (ddof=1, NaNs ignored; NaN if < 2 runs).

        Replicas of the same dataset are not independent: for ensemble error bars prefer
        ``replicas=1`` and several ``seeds``.
        """
        a = self._array(name)
        n = np.sum(np.isfinite(a), axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sd = np.nanstd(a, axis=0, ddof=1)
            return np.where(n >= 2, sd / np.sqrt(np.maximum(n, 1)), np.nan)

    m_mean = property(lambda self: self.mean("m"), doc="Mean overlap over runs, (T,).")
    m_sem = property(lambda self: self.sem("m"), doc="Standard error of m, (T,).")
    e_mean = property(lambda self: self.mean("e"), doc="Mean energy per sample, (T,).")
    e_sem = property(lambda self: self.sem("e"), doc="Standard error of e, (T,).")
    mu_mean = property(lambda self: self.mean("mu"), doc="Mean multiplier, (T,).")
    mu_sem = property(lambda self: self.sem("mu"), doc="Standard error of mu, (T,).")
    grad_norm_mean = property(lambda self: self.mean("grad_norm"), doc="Mean gradient norm.")

    @property
    def success_rate(self) -> float:
        """Fraction of runs with ``|m(t_end)| > success_threshold``."""
        return float(np.mean(self.success)) if self.success.size else float("nan")

    def save(self, path: str | Path) -> Path:
        """Write to a self-describing ``.npz`` (``kind="simulation"``); returns the path."""
        arrays = {
            name: np.asarray(getattr(self, name)) for name in ("t", "hessian_t", *_RUN_ARRAYS)
        }
        if self.w_final is not None:
            arrays["w_final"] = np.asarray(self.w_final)
        meta = {**self.metadata, "status": int(self.status), "message": self.message}
        return save_npz(path, "simulation", arrays, meta)

    @classmethod
    def load(cls, path: str | Path) -> SimulationResult:
        """Read a file written by :meth:`save`."""
        arrays, meta = load_npz(path, kind="simulation")
        status = int(meta.pop("status", 0))
        message = str(meta.pop("message", ""))
        meta.pop("kind", None)
        kw = {name: arrays[name] for name in ("t", "hessian_t", *_RUN_ARRAYS)}
        kw["success"] = kw["success"].astype(bool)
        return cls(
            **kw, status=status, message=message, metadata=meta, w_final=arrays.get("w_final")
        )


# --------------------------------------------------------------------------------------------
# Gradient descent (E5)
# --------------------------------------------------------------------------------------------


class _Block:
    """K replicas of one dataset, advanced together with two GEMMs per step.

    (Row-blocking X to keep it in cache between the two GEMMs was tried: with BLAS threads
    on a shared machine, the per-call thread wake-up cost outweighs the saved bandwidth, so
    each step makes exactly two large BLAS calls.)
    """

    def __init__(self, prob: Problem, loss: Loss):
        self.X, self.y, self.w_star = prob.X, prob.y[:, None], prob.w_star
        self.loss = loss
        self.N, self.M = prob.N, prob.M
        self.W = prob.W0.copy()
        K = self.W.shape[0]
        dt = self.X.dtype
        self.H = np.empty((self.M, K), dtype=dt)
        self.GT = np.empty((K, self.N), dtype=dt)
        self.scale = dt.type(1.0 / math.sqrt(self.N))
        self.sqrtN = math.sqrt(self.N)

    def evaluate(self) -> tuple[np.ndarray, ...]:
        """Gradient at the current W and observables; overflow shows up as inf/nan."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self._evaluate()

    def _evaluate(self) -> tuple[np.ndarray, ...]:
        """Gradient ``G^T = F^T X / sqrt(N)`` at the current W and observables (float64)."""
        np.matmul(self.X, self.W.T, out=self.H)  # H = X W^T / sqrt(N): (M, K), one GEMM
        self.H *= self.scale
        F = self.loss.f(self.H, self.y)
        np.matmul(F.T, self.X, out=self.GT)  # G^T = F^T X / sqrt(N): (K, N), second GEMM
        self.GT *= self.scale
        e = np.mean(self.loss.l(self.H, self.y), axis=0, dtype=np.float64)
        mu = np.einsum("ik,ik->k", F, self.H, dtype=np.float64) / self.N
        W64 = self.W.astype(np.float64, copy=False)
        G64 = self.GT.astype(np.float64, copy=False)
        gnorm = np.linalg.norm(G64 - mu[:, None] * W64, axis=1) / self.sqrtN
        m = (W64 @ self.w_star.astype(np.float64)) / self.N
        return m, e, mu, gnorm

    def step(self, eta: float, mu: np.ndarray, tangent_step: bool) -> bool:
        """``w <- sqrt(N) normalize(w - eta grad L)`` (E5); False if W became non-finite."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._step(eta, mu, tangent_step)

    def _step(self, eta: float, mu: np.ndarray, tangent_step: bool) -> bool:
        dt = self.W.dtype.type
        if tangent_step:  # w - eta (grad L - mu w)
            self.W *= (1.0 + eta * mu[:, None]).astype(self.W.dtype)
        self.W -= dt(eta) * self.GT
        norms = np.linalg.norm(self.W.astype(np.float64, copy=False), axis=1)
        if not (np.all(np.isfinite(norms)) and np.all(norms > 0)):
            return False
        self.W *= (self.sqrtN / norms)[:, None].astype(self.W.dtype)
        return bool(np.all(np.isfinite(self.W)))


def simulate(
    alpha: float,
    N: int,
    m0: M0Like = None,
    t_max: float = 5.0,
    eta: float = 0.01,
    seeds: int = 4,
    replicas: int = 1,
    seed: int | None = 0,
    hessian_every: float | None = None,
    k_low: int = 3,
    k_high: int = 2,
    record_every: float | None = None,
    grad_tol: float = 1e-8,
    success_threshold: float = 0.9,
    loss: str | Loss = "phase_retrieval",
    noise: float = 0.0,
    dtype: Any = np.float64,
    progress: bool = False,
    tangent_step: bool = False,
    check_eta: bool = True,
    blas_threads: int | None = 1,
) -> SimulationResult:
    """Spherical gradient descent (E5) on ``seeds`` datasets with ``replicas`` starts each.

    Each step is ``w <- sqrt(N) * normalize(w - eta * grad L)`` with
    ``grad L = sum_mu f(h_mu; y_mu) x_mu / sqrt(N)`` (E4, E5) and time ``t = k * eta``; it tends
    to the spherical gradient flow (E5) as ``eta -> 0`` (first order in eta). The K replicas of
    a dataset are advanced together (``X @ W^T`` and ``F^T @ X``, two GEMMs per step), so a
    step costs about two passes over X whatever K.

    Parameters
    ----------
    alpha : float
        Sample ratio ``M / N`` (E1), > 0.
    N : int
        Dimension, >= 2.
    m0 : None, float or sequence
        Initial overlap, as in :func:`make_problem` (None: uniformly random starts).
    t_max : float
        Final time (> 0); ``round(t_max / eta)`` steps.
    eta : float
        Step size (> 0). Must be well below ``2 / lambda_max`` of the Hessian (H1), which is
        O(10 alpha); with ``check_eta`` a 20-step Lanczos lower bound of ``lambda_max`` at the
        start of the first dataset rejects ``eta * lambda_max > 2`` with a ValueError.
    seeds : int
        Number of independent datasets; dataset d uses
        ``np.random.SeedSequence(seed).spawn(seeds)[d]`` (so dataset d does not depend on
        ``seeds``), see :func:`make_problem`.
    replicas : int
        Starting points per dataset. Run index ``r = d * replicas + replica``.
    seed : int or None
        Entropy of the root SeedSequence (None: fresh entropy, recorded in ``metadata``).
    hessian_every : float or None
        Time between Hessian snapshots (:func:`hessian_extremes`, Lanczos), first at t = 0.
        Each snapshot costs O(100) Hessian products per run.
    k_low, k_high : int
        Number of lowest / highest Riemannian eigenvalues per snapshot.
    record_every : float or None
        Time between recorded observables (rounded to a multiple of eta; default every step).
        The final state is always recorded.
    grad_tol : float
        Stop computing when every run's ``|grad L - mu w| / sqrt(N) < grad_tol`` (status 1).
        The state is then frozen (up to grad_tol), so its values (and its Hessian extremes)
        fill the remaining recording times: ``t`` always runs to ``t_max``. Datasets are
        checked separately (a converged dataset stops while the others go on).
    success_threshold : float
        A run succeeds when ``|m(t_end)| > success_threshold``.
    loss : str or Loss
        Loss (E4) and its label model (E2).
    noise : float
        Label-noise variance.
    dtype : float64 or float32
        Working dtype. float32 halves the memory traffic (about 2x faster for K = 1). Measured
        at alpha = 8, N = 1000 over 300 steps (including an escape from m0 = 0.05): m and e
        agree with float64 to ~1e-7-5e-7 and mu to ~3e-7 relative, but the gradient norm
        stalls at a round-off floor of ~2e-6, so ``grad_tol`` below ~1e-5 is never reached
        (no early stop). Statistics (m_mean etc.) are always accumulated in float64.
    progress : bool
        Show a tqdm progress bar on stderr.
    tangent_step : bool
        Step along the tangent (Riemannian) gradient, ``w - eta (grad L - mu w)``, before
        renormalising, instead of the default ``w - eta grad L`` (E5). Both tend to the same
        flow; they differ at O(eta). The default is the discretisation whose N -> infinity
        limit :mod:`dmft.solver` solves (``(w - dt g) / |.|``).
    check_eta : bool
        Run the cheap ``eta * lambda_max`` stability check described above.
    blas_threads : int or None
        BLAS threads during the run (threadpoolctl); None keeps the library default. One
        thread is the default: each step makes two BLAS calls, and waking BLAS threads costs
        more than it saves for small problems and on a busy machine (measured on the shared
        2-core machine: test suite 9 s with 1 thread vs 177 s with 2; N = 4000, K = 16 steps
        3.4x faster). On an idle many-core machine with N >= 2000, try None.

    Returns
    -------
    SimulationResult
        With ``status`` -1 (and a RuntimeWarning) when the state became non-finite; the
        message names the step and time, and all runs are truncated to the times recorded
        before.

    Raises
    ------
    ValueError
        For invalid parameters, saying what to change.
    """
    alpha = checks.positive("alpha", alpha)
    N = checks.integer("N", N, 2)
    t_max = checks.positive("t_max", t_max)
    eta = checks.positive("eta", eta)
    seeds = checks.integer("seeds", seeds, 1)
    replicas = checks.integer("replicas", replicas, 1)
    k_low = checks.integer("k_low", k_low, 0)
    k_high = checks.integer("k_high", k_high, 0)
    grad_tol = checks.finite("grad_tol", grad_tol)
    success_threshold = checks.in_range("success_threshold", success_threshold, 0.0, 1.0)
    lo = get_loss(loss)
    dt = _check_dtype(dtype)
    m0_arr = _check_m0(m0, replicas)
    if eta > t_max:
        raise ValueError(f"eta={eta} is larger than t_max={t_max}: decrease eta or increase t_max")
    n_steps = max(1, int(round(t_max / eta)))
    rec = 1
    if record_every is not None:
        record_every = checks.positive("record_every", record_every)
        rec = max(1, int(round(record_every / eta)))
    hess = 0
    if hessian_every is not None:
        hessian_every = checks.positive("hessian_every", hessian_every)
        hess = max(1, int(round(hessian_every / eta)))
        if k_low + k_high == 0:
            raise ValueError("hessian_every needs k_low + k_high >= 1")
        if k_low + k_high >= N - 1:
            raise ValueError(f"k_low + k_high must be < N - 1 = {N - 1}")
    if seed is not None:
        seed = checks.integer("seed", seed, 0)
    if blas_threads is not None:
        blas_threads = checks.integer("blas_threads", blas_threads, 1)

    root = np.random.SeedSequence(seed)
    children = root.spawn(seeds)
    rec_steps = sorted(set(range(0, n_steps + 1, rec)) | {n_steps})
    rec_index = {k: i for i, k in enumerate(rec_steps)}
    hess_steps = list(range(0, n_steps + 1, hess)) if hess else []
    hess_index = {k: i for i, k in enumerate(hess_steps)}
    T, Hn, R = len(rec_steps), len(hess_steps), seeds * replicas
    obs = {name: np.full((R, T), np.nan) for name in ("m", "e", "mu", "grad_norm")}
    hl = np.full((R, Hn, k_low), np.nan)
    hlo = np.full((R, Hn, k_low), np.nan)
    hh = np.full((R, Hn, k_high), np.nan)
    M = max(1, int(round(alpha * N)))
    w_final = np.full((R, N), np.nan)

    status, message = 0, f"reached t_max={t_max:g} after {n_steps} steps of eta={eta:g}"
    bad_k = None  # first step whose state is non-finite
    stop_steps = []  # per dataset, the last step evaluated
    bar = tqdm(
        total=seeds * n_steps,
        disable=not progress,
        file=sys.stderr,
        desc=f"simulate alpha={alpha:g} N={N}",
        unit="step",
        leave=False,
    )
    stack = ExitStack()
    if blas_threads is not None:
        stack.enter_context(threadpool_limits(limits=blas_threads, user_api="blas"))
    try:
        for d, child in enumerate(children):
            prob = make_problem(alpha, N, m0_arr, child, replicas, lo, noise, dt)
            if d == 0 and check_eta:
                lam = _lambda_max_lower_bound(prob.X, prob.y, prob.W0[0], lo)
                if eta * lam > 2.0:
                    raise ValueError(
                        f"eta={eta:g} is unstable: the largest Hessian eigenvalue (H1) at the "
                        f"start is at least {lam:.3g}, so eta*lambda_max > 2; use eta well "
                        f"below 2/lambda_max = {2.0 / lam:.3g} (e.g. eta <= {0.5 / lam:.2g})"
                    )
            block = _Block(prob, lo)
            rows = slice(d * replicas, (d + 1) * replicas)
            for k in range(n_steps + 1):
                m, e, mu, gnorm = block.evaluate()
                if not all(np.all(np.isfinite(a)) for a in (m, e, mu, gnorm)):
                    bad_k = k
                    break
                if k in rec_index:
                    i = rec_index[k]
                    for name, val in (("m", m), ("e", e), ("mu", mu), ("grad_norm", gnorm)):
                        obs[name][rows, i] = val
                    w_final[rows] = block.W
                if k in hess_index:
                    j = hess_index[k]
                    for r in range(replicas):
                        ev = hessian_extremes(
                            prob.X, prob.y, block.W[r], prob.w_star, k_low, k_high, lo
                        )
                        hl[d * replicas + r, j] = ev.lam_low
                        hlo[d * replicas + r, j] = ev.overlap2_low
                        hh[d * replicas + r, j] = ev.lam_high
                if k == n_steps:
                    break
                if np.all(gnorm < grad_tol):
                    # converged: the state is frozen, so it fills all later recording times
                    i = int(np.searchsorted(rec_steps, k, side="right"))
                    for name, val in (("m", m), ("e", e), ("mu", mu), ("grad_norm", gnorm)):
                        obs[name][rows, i:] = val[:, None]
                    w_final[rows] = block.W
                    j = int(np.searchsorted(hess_steps, k, side="right"))
                    if j < Hn:
                        for r in range(replicas):
                            ev = hessian_extremes(
                                prob.X, prob.y, block.W[r], prob.w_star, k_low, k_high, lo
                            )
                            hl[d * replicas + r, j:] = ev.lam_low
                            hlo[d * replicas + r, j:] = ev.overlap2_low
                            hh[d * replicas + r, j:] = ev.lam_high
                    break
                if not block.step(eta, mu, tangent_step):
                    bad_k = k + 1
                    break
                bar.update(1)
            if bad_k is not None:
                message = (
                    f"non-finite values at step {bad_k} (t={bad_k * eta:g}) in dataset {d}: eta "
                    f"is too large (divergence); results recorded before t={bad_k * eta:g} are "
                    "kept"
                    + (f", datasets {d + 1}..{seeds - 1} were not run" if d + 1 < seeds else "")
                )
                break
            stop_steps.append(k)
    finally:
        bar.close()
        stack.close()

    # k * eta, rounded to 12 significant digits (0.35 rather than 0.35000000000000003)
    t_rec = np.array([float(f"{k * eta:.12g}") for k in rec_steps])
    t_hess = np.array([float(f"{k * eta:.12g}") for k in hess_steps])
    keep, keep_h = T, Hn
    if bad_k is not None:
        status = -1
        warnings.warn(f"simulate: {message}", RuntimeWarning, stacklevel=2)
        keep = int(np.searchsorted(rec_steps, bad_k))  # recorded steps < bad_k
        keep_h = int(np.searchsorted(hess_steps, bad_k)) if hess_steps else 0
    elif max(stop_steps) < n_steps:
        k_end = max(stop_steps)
        status = 1
        message = (
            f"early stop at step {k_end} (t={k_end * eta:g}): every run has "
            f"|grad| < grad_tol={grad_tol:g}; the frozen final states fill the records up to "
            f"t_max={t_max:g}"
        )
    obs = {name: a[:, :keep] for name, a in obs.items()}
    t_rec = t_rec[:keep]
    if keep >= 2:
        e_first, e_last = obs["e"][:, 0], obs["e"][:, -1]
        up = np.flatnonzero(e_last > e_first * (1 + 1e-9))
        if up.size:
            warnings.warn(
                f"simulate: the energy increased in {up.size} of {R} runs (run {up[0]}: "
                f"e={e_first[up[0]]:.4g} -> {e_last[up[0]]:.4g}); gradient descent with a small "
                f"enough step only decreases it: eta={eta:g} is probably too large",
                RuntimeWarning,
                stacklevel=2,
            )
    t_hess, hl, hlo, hh = t_hess[:keep_h], hl[:, :keep_h], hlo[:, :keep_h], hh[:, :keep_h]

    m_last = obs["m"][:, -1] if obs["m"].shape[1] else np.full(R, np.nan)
    success = np.abs(np.nan_to_num(m_last, nan=0.0)) > success_threshold
    metadata = {
        "alpha": alpha,
        "N": N,
        "M": M,
        "eta": eta,
        "t_max": t_max,
        "seeds": seeds,
        "seed": root.entropy,
        "replicas": replicas,
        "m0": None
        if m0_arr is None
        else (float(m0_arr[0]) if np.all(m0_arr == m0_arr[0]) else m0_arr.tolist()),
        "loss": lo.name,
        "noise": noise,
        "dtype": dt.name,
        "tangent_step": tangent_step,
        "record_every": rec * eta,
        "hessian_every": hess * eta if hess else None,
        "k_low": k_low,
        "k_high": k_high,
        "grad_tol": grad_tol,
        "success_threshold": success_threshold,
        "blas_threads": blas_threads,
        "dmft_version": __version__,
    }
    return SimulationResult(
        t=t_rec,
        m=obs["m"],
        e=obs["e"],
        mu=obs["mu"],
        grad_norm=obs["grad_norm"],
        hessian_t=t_hess,
        hess_low=hl,
        hess_low_overlap2=hlo,
        hess_high=hh,
        success=success,
        status=status,
        message=message,
        metadata=metadata,
        w_final=w_final,
    )
