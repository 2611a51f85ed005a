"""One dataset of real phase retrieval and the starting points of its replicas (THEORY.md
E1-E3): teacher, Gaussian inputs, labels, and starts on the sphere at a given overlap."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dmft import _checks as checks
from dmft.losses import PHASE_RETRIEVAL, Loss, get_loss

__all__ = ["M0Like", "Problem", "SeedLike", "make_problem"]

SeedLike = int | np.random.SeedSequence | np.random.Generator | None
M0Like = float | Sequence[float] | np.ndarray | None

_DTYPES = {np.dtype(np.float64), np.dtype(np.float32)}


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


def check_dtype(dtype: Any) -> np.dtype:
    """The working dtype (float64 or float32), or a ValueError."""
    dt = np.dtype(dtype)
    if dt not in _DTYPES:
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    return dt


def check_m0(m0: M0Like, replicas: int) -> np.ndarray | None:
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
    dt = check_dtype(dtype)
    m0_arr = check_m0(m0, replicas)
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
