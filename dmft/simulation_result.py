"""Result record of :func:`dmft.simulate.simulate`: observables of R gradient-descent runs,
their status, and the interruption that carries a partial result (THEORY.md E3-E5, H1)."""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dmft._io import load_npz, save_npz

__all__ = ["SimulationInterrupted", "SimulationResult", "SimulationStatus"]


class SimulationStatus(enum.IntEnum):
    """How a simulation ended (an int, so ``status >= 0`` means a usable run).

    COMPLETED (0): reached ``n_steps * eta``. CONVERGED (1): early stop, every run's gradient
    norm below ``grad_tol`` (the frozen states fill the records to the end). FAILED (-1):
    non-finite state (divergence) or an energy that rose over a run (unstable step); the
    message says which and what to change. INTERRUPTED (-2): stopped by KeyboardInterrupt,
    see :class:`SimulationInterrupted`.
    """

    COMPLETED = 0
    CONVERGED = 1
    FAILED = -1
    INTERRUPTED = -2


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
    status : SimulationStatus
        An int enum (:class:`SimulationStatus`): ``COMPLETED`` (0), ``CONVERGED`` (1),
        ``FAILED`` (-1), ``INTERRUPTED`` (-2); ``status >= 0`` means a usable run.
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
    status: SimulationStatus = SimulationStatus.COMPLETED
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
        status = SimulationStatus(int(meta.pop("status", 0)))
        message = str(meta.pop("message", ""))
        meta.pop("kind", None)
        kw = {name: arrays[name] for name in ("t", "hessian_t", *_RUN_ARRAYS)}
        kw["success"] = kw["success"].astype(bool)
        return cls(**kw, status=status, message=message, metadata=meta,
                   w_final=arrays.get("w_final"))


class SimulationInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`dmft.simulate.simulate`, carrying the partial result.

    A subclass of KeyboardInterrupt, so an uncaught one stops a program (and loops of
    simulations) as Ctrl-C always does. ``result`` is the :class:`SimulationResult` with
    status ``INTERRUPTED``: completed datasets in full, entries not reached NaN.
    """

    def __init__(self, result: SimulationResult):
        super().__init__(result.message)
        self.result = result
