"""Phase diagram in alpha: signal growth factor and the finite-N threshold (THEORY section 4).

Growth factor (T4)
------------------
``G(t; alpha) = lim_{m0 -> 0+} m(t) / m0``. The DMFT of :mod:`dmft.solver` pairs every path
with its antithetic partner ``h* -> -h*``; at ``m0 -> 0`` the symmetric part of a pair is
the m = 0 DMFT (the kernels are even in m) and half the difference of the pair is exactly
the tangent vector of the equations linearised in m. Running the solver at
``m0 = 1e-10`` therefore integrates the m = 0 DMFT together with its tangent equations: the
drift ``alpha E[f h*]`` is evaluated as ``f'(h) dh h*`` pair by pair, with none of the O(1)
noise that makes differences of independent runs useless at small m0 (THEORY section 6).
Linearity holds while ``m0 G << 1``; with ``m0 = 1e-10`` that is ``G << 1e9``, and
floating-point resolution of the pair difference is about ``1e-16 / m0 = 1e-6``.

Finite-N threshold (T4)
-----------------------
A uniformly random start has ``|m0| ~ c / sqrt(N)``. While the negative outlier exists m
grows as ``m0 G(t)``; the run escapes when ``m0 max_t G(t; alpha)`` reaches an O(1) overlap
``m_escape`` from which the non-linear DMFT recovers the signal. Hence

    log G_max(alpha_alg(N)) = (1/2) log N + log(m_escape / c),

a threshold with log N corrections that tends to the value where ``G_max`` diverges,
alpha_BBP_TS, as N -> infinity. ``c`` and ``m_escape`` only shift log N by a constant; the
finite-N success rates fix it.

Sweeps over alpha run through any ``concurrent.futures``-style executor (``submit`` and
``result``; e.g. a ``dask.distributed.Client``) and are cached on disk, one ``.npz`` per
point, keyed by the parameters and the package version.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmft import __version__, _checks
from dmft._io import load_npz, save_npz
from dmft.solver import solve

__all__ = ["GrowthFactor", "growth_factor", "AlgorithmicThreshold", "alpha_alg",
           "invert_growth", "sweep", "reference_growth", "write_reference_growth"]

_M0_TANGENT = 1e-10


@dataclass
class GrowthFactor:
    """Signal growth factor ``G(t; alpha) = m(t) / m0`` as m0 -> 0+ (T4).

    Attributes
    ----------
    alpha : float
        Sample ratio.
    t, G, G_sem : (T,) arrays
        Times, growth factor and its Monte Carlo standard error (independent
        sub-populations of the solver).
    """

    alpha: float
    t: np.ndarray
    G: np.ndarray
    G_sem: np.ndarray

    @property
    def log_G_max(self) -> float:
        """``log max_t G(t)``."""
        return float(np.log(np.max(self.G)))

    @property
    def log_G_max_sem(self) -> float:
        """Standard error of :attr:`log_G_max` (delta method at the maximum)."""
        k = int(np.argmax(self.G))
        return float(self.G_sem[k] / self.G[k])


def growth_factor(alpha: float, t_max: float = 10.0, dt: float = 0.02,
                  n_samples: int = 8000, seed: int = 0, **solve_kwargs) -> GrowthFactor:
    """Growth factor from the m = 0 DMFT and its tangent equations (module docstring).

    Parameters
    ----------
    alpha : float
        Sample ratio M/N.
    t_max, dt, n_samples, seed :
        Passed to :func:`dmft.solver.solve`.
    **solve_kwargs :
        Further options of :func:`dmft.solver.solve` (e.g. ``n_response``).
    """
    sol = solve(alpha, _M0_TANGENT, t_max, dt=dt, n_samples=n_samples, seed=seed,
                **solve_kwargs)
    if sol.status != 0:
        raise RuntimeError(f"DMFT for the growth factor failed: {sol.message}")
    return GrowthFactor(alpha=float(alpha), t=sol.t, G=sol.m / _M0_TANGENT,
                        G_sem=sol.m_sem / _M0_TANGENT)


@dataclass
class AlgorithmicThreshold:
    """Predicted finite-N threshold ``alpha_alg(N)`` (T4).

    Attributes
    ----------
    N : (k,) array
        System sizes.
    alpha_alg : (k,) array
        Predicted thresholds; NaN where ``sqrt(N) m_escape / c`` lies outside the range of
        ``G_max`` over the alphas computed (widen ``alphas``).
    alpha_alg_err : (k,) array
        Propagated Monte Carlo error of ``alpha_alg``.
    alphas, log_G_max, log_G_max_sem : (p,) arrays
        The sweep behind it.
    c, m_escape : float
        Constants of the criterion.
    """

    N: np.ndarray
    alpha_alg: np.ndarray
    alpha_alg_err: np.ndarray
    alphas: np.ndarray
    log_G_max: np.ndarray
    log_G_max_sem: np.ndarray
    c: float
    m_escape: float


def alpha_alg(N: Sequence[float], alphas: Sequence[float] = tuple(range(3, 14)),
              c: float = 1.0, m_escape: float = 0.5, t_max: float = 10.0, dt: float = 0.02,
              n_samples: int = 8000, seed: int = 0, executor: Executor | None = None,
              cache_dir: str | Path | None = None) -> AlgorithmicThreshold:
    """Finite-N threshold from the growth factor: ``log G_max = log(sqrt(N) m_escape / c)``.

    ``log G_max(alpha)`` is interpolated linearly between the swept alphas (it must be
    increasing there; a warning-free NaN marks N outside the swept range).
    """
    params = {"t_max": t_max, "dt": dt, "n_samples": n_samples, "seed": seed}
    points = sweep(_growth_point, alphas, executor=executor, cache_dir=cache_dir, **params)
    lg = np.array([p["log_G_max"] for p in points])
    lg_err = np.array([p["log_G_max_sem"] for p in points])
    return invert_growth(N, np.asarray(alphas, dtype=float), lg, lg_err, c, m_escape)


def invert_growth(N: Sequence[float], alphas: np.ndarray, log_G_max: np.ndarray,
                  log_G_max_sem: np.ndarray, c: float = 1.0,
                  m_escape: float = 0.5) -> AlgorithmicThreshold:
    """Solve ``log G_max(alpha) = log(sqrt(N) m_escape / c)`` by linear interpolation.

    ``log G_max`` must increase between the bracketing alphas; N outside the range of the
    sweep gets NaN rather than an extrapolation.
    """
    N = np.atleast_1d(np.asarray(N, dtype=float))
    if np.any(N < 2) or not np.all(np.isfinite(N)):
        raise ValueError(f"N must be finite and >= 2, got {N.tolist()}")
    c = _checks.positive("c", c)
    m_escape = _checks.in_range("m_escape", m_escape, 1e-12, 1.0)
    a, lg, lg_err = (np.asarray(x, dtype=float) for x in (alphas, log_G_max, log_G_max_sem))
    target = np.log(np.sqrt(N) * m_escape / c)
    alpha_n = np.full(N.shape, np.nan)
    err = np.full(N.shape, np.nan)
    for i, y in enumerate(target):
        k = np.flatnonzero((lg[:-1] <= y) & (lg[1:] > y))
        if k.size:
            j = k[0]
            slope = (lg[j + 1] - lg[j]) / (a[j + 1] - a[j])
            alpha_n[i] = a[j] + (y - lg[j]) / slope
            err[i] = np.hypot(lg_err[j], lg_err[j + 1]) / slope
    return AlgorithmicThreshold(N=N, alpha_alg=alpha_n, alpha_alg_err=err, alphas=a,
                                log_G_max=lg, log_G_max_sem=lg_err, c=c, m_escape=m_escape)


def _growth_point(alpha: float, **params) -> dict[str, np.ndarray]:
    g = growth_factor(alpha, **params)
    return {"t": g.t, "G": g.G, "G_sem": g.G_sem, "log_G_max": np.array(g.log_G_max),
            "log_G_max_sem": np.array(g.log_G_max_sem)}


def _cache_path(cache_dir: Path, name: str, alpha: float, params: dict) -> Path:
    key = json.dumps({"f": name, "alpha": float(alpha), "version": __version__, **params},
                     sort_keys=True)
    return cache_dir / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def sweep(func: Callable[..., dict[str, np.ndarray]], alphas: Sequence[float],
          executor: Executor | None = None, cache_dir: str | Path | None = None,
          **params) -> list[dict[str, np.ndarray]]:
    """Evaluate ``func(alpha, **params)`` for every alpha, in parallel, with a disk cache.

    Parameters
    ----------
    func : callable
        A module-level function (picklable) returning a dict of arrays.
    alphas : sequence of float
        Points of the sweep (each must be > 0).
    executor : Executor, optional
        Anything with ``submit(fn, *args, **kwargs)`` returning futures with ``result()``
        (``concurrent.futures`` executors, ``dask.distributed.Client``). Default: a
        ``ProcessPoolExecutor`` with one worker per core, closed afterwards.
    cache_dir : path, optional
        Directory of cached points (created if needed); None disables caching.
    """
    alphas = [_checks.positive("alpha", a) for a in alphas]
    if not alphas:
        raise ValueError("alphas is empty")
    cache = Path(cache_dir) if cache_dir is not None else None
    results: list[dict | None] = [None] * len(alphas)
    todo = []
    for i, a in enumerate(alphas):
        path = _cache_path(cache, func.__name__, a, params) if cache else None
        if path is not None and path.exists():
            results[i], _ = load_npz(path, kind="sweep-point")
        else:
            todo.append((i, a, path))
    if todo:
        own = executor is None
        pool = ProcessPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1)) \
            if own else executor
        try:
            futures = [(i, a, path, pool.submit(func, a, **params)) for i, a, path in todo]
            for i, a, path, fut in futures:
                results[i] = fut.result()
                if path is not None:
                    save_npz(path, "sweep-point", results[i], {"alpha": a, **params})
        finally:
            if own:
                pool.shutdown()
    return results


REFERENCE_GROWTH = Path(__file__).resolve().parents[1] / "data" / "growth_factor.npz"


def reference_growth(path: str | Path = REFERENCE_GROWTH) -> list[GrowthFactor]:
    """Cached growth factors G(t; alpha) shipped in ``data/`` (format: ``data/README.md``).

    Plotting and quick looks need no solve; :func:`write_reference_growth` regenerates the
    file (the test suite recomputes one curve at small size and checks it).
    """
    arrays, _ = load_npz(path, kind="reference-growth")
    return [GrowthFactor(alpha=float(a), t=arrays["t"], G=arrays["G"][i],
                         G_sem=arrays["G_sem"][i]) for i, a in enumerate(arrays["alphas"])]


def write_reference_growth(path: str | Path = REFERENCE_GROWTH,
                           alphas: Sequence[float] = tuple(range(3, 14)), t_max: float = 10.0,
                           dt: float = 0.02, n_samples: int = 8000, every: int = 5,
                           executor: Executor | None = None,
                           cache_dir: str | Path | None = None) -> Path:
    """Compute G(t; alpha) on a sweep and store every ``every``-th time point."""
    params = {"t_max": t_max, "dt": dt, "n_samples": n_samples, "seed": 0}
    points = sweep(_growth_point, alphas, executor=executor, cache_dir=cache_dir, **params)
    arrays = {"alphas": np.asarray(alphas, dtype=float), "t": points[0]["t"][::every],
              "G": np.array([p["G"][::every] for p in points]),
              "G_sem": np.array([p["G_sem"][::every] for p in points])}
    return save_npz(path, "reference-growth", arrays, {**params, "every": every,
                                                        "m0_tangent": _M0_TANGENT})

# --- finite-N success probability (issue 5, item 2) ----------------------------------------
