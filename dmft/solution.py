"""The DMFT result record :class:`Solution` (THEORY D1-D9) and its file format: one
self-describing ``.npz`` (:mod:`dmft._io`), written atomically; loading checks every
array and warns about runs that stopped early or come from a newer dmft."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from dmft import _checks
from dmft._io import ResultFileError, load_npz, save_npz
from dmft.losses import Loss, get_loss

__all__ = ["Solution", "SolveStatus"]


SolveStatus = Literal[0, -1, "interrupted"]
"""0: reached t_max; -1: stopped early (the past is kept); "interrupted": Ctrl-C."""

_ARRAYS = ("t", "C", "R", "m", "mu", "mu_constraint", "e", "M_C", "M_R", "M_R_local", "rho",
           "m_sem", "e_sem", "mu_sem", "sample_times", "h_samples", "h_star", "y")
_GROUP_ARRAYS = ("m_groups", "e_groups", "mu_groups")  # absent from older files: optional


@dataclass
class Solution:
    """DMFT trajectory on the grid ``t = k * dt`` (THEORY.md D1-D9).

    Attributes
    ----------
    t : (T,) array
        Times.
    C, R : (T, T) arrays
        Correlation ``C(t, t')`` (symmetric) and response ``R(t, t')`` (lower triangular,
        ``R(t, t) = 1``), D7-D8.
    m, mu, e, rho : (T,) arrays
        Overlap (D5), Lagrange multiplier ``alpha E[f h]`` on the paths (D4), energy per
        sample (D9), teacher drift (D6).
    mu_constraint : (T,) array
        The multiplier in kernel form, ``E[w g]`` of the coordinate process, which drives
        the renormalisation (module docstring); equals ``mu`` up to Monte Carlo error.
    M_C : (T, T) array
        Noise kernel ``alpha E[f(t) f(t')]`` (D3).
    M_R : (T, T) array
        Regular part of the response kernel, ``alpha E[f'(t) chi(t, s)]``, s < t (D3).
    M_R_local : (T,) array
        Local part ``alpha E[f'(h(t))]`` (the coefficient of ``delta(t - s)`` in D3).
    m_sem, e_sem, mu_sem : (T,) arrays
        Monte Carlo standard errors from independent sub-populations (module docstring):
        the standard error of the mean of the ``n_groups`` group curves, ``std(ddof=1) /
        sqrt(n_groups)`` (``n_groups - 1`` degrees of freedom; for this linear statistic the
        jackknife over groups gives the same number).
    sample_times : (n,) array
        Times at which effective-process samples were kept.
    h_samples : (n, S) array
        Pre-activations ``h(t)`` of all paths at ``sample_times`` (they feed
        :mod:`dmft.spectrum`: Hessian weights ``z = f'(h; y)``).
    h_star, y : (S,) arrays
        Teacher fields and labels of the paths.
    alpha, m0, dt : float
        Parameters.
    loss : Loss
        The per-sample loss.
    c_diag_error : float
        ``max_t |C(t, t) - 1|`` (should be O(dt)).
    status : {0, -1, "interrupted"}
        0: reached ``t_max``; -1: stopped early (``message`` says when and why);
        ``"interrupted"``: stopped by KeyboardInterrupt (Ctrl-C). Unless 0, the arrays hold
        the trajectory up to the last completed time.
    message : str
        Human-readable outcome.
    nit : int
        Passes over the trajectory (1 for the forward march).
    metadata : dict
        Everything needed to reproduce the run (seed, samples, version, ...).
    m_groups, e_groups, mu_groups : (n_groups, T) arrays or None
        The curves of the independent sub-populations (their mean is ``m``, ``e``, ``mu``);
        None when loaded from a file written before they were kept.
    """

    t: np.ndarray
    C: np.ndarray
    R: np.ndarray
    m: np.ndarray
    mu: np.ndarray
    mu_constraint: np.ndarray
    e: np.ndarray
    M_C: np.ndarray
    M_R: np.ndarray
    M_R_local: np.ndarray
    rho: np.ndarray
    m_sem: np.ndarray
    e_sem: np.ndarray
    mu_sem: np.ndarray
    sample_times: np.ndarray
    h_samples: np.ndarray
    h_star: np.ndarray
    y: np.ndarray
    alpha: float
    m0: float
    dt: float
    loss: Loss
    c_diag_error: float
    status: SolveStatus
    message: str
    nit: int = 1
    metadata: dict = field(default_factory=dict)
    m_groups: np.ndarray | None = None
    e_groups: np.ndarray | None = None
    mu_groups: np.ndarray | None = None

    @property
    def success(self) -> bool:
        """True when the march reached ``t_max``."""
        return self.status == 0

    def samples_at(self, t: float) -> np.ndarray:
        """Effective-process samples ``h`` at the kept time closest to ``t``."""
        t = _checks.finite("t", t)
        k = int(np.argmin(np.abs(self.sample_times - t)))
        if abs(self.sample_times[k] - t) > 0.5 * self.dt + 1e-12:
            raise ValueError(
                f"no samples kept at t={t}; kept times are {self.sample_times.tolist()} "
                "(pass sample_times to solve)"
            )
        return self.h_samples[k]

    def save(self, path: str | Path) -> Path:
        """Write the solution to one self-describing ``.npz`` file (kind ``"solution"``)."""
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        arrays.update({name: getattr(self, name) for name in _GROUP_ARRAYS
                       if getattr(self, name) is not None})
        meta = {
            **self.metadata,
            "alpha": self.alpha,
            "m0": self.m0,
            "dt": self.dt,
            "loss": self.loss.name,
            "c_diag_error": self.c_diag_error,
            "status": self.status,
            "message": self.message,
            "nit": self.nit,
        }
        return save_npz(path, "solution", arrays, meta)

    @classmethod
    def load(cls, path: str | Path) -> Solution:
        """Read a file written by :meth:`save`.

        Raises :class:`dmft._io.ResultFileError` (a ValueError naming the file) for a file
        that is not a complete solution; warns (RuntimeWarning) when the run had stopped
        early or was interrupted, or the file comes from a newer dmft.
        """
        keys = ("alpha", "m0", "dt", "c_diag_error", "status", "message", "nit")
        arrays, meta = load_npz(path, kind="solution", arrays_needed=_ARRAYS,
                                meta_needed=(*keys, "loss"))
        arrays = {k: arrays[k] for k in (*_ARRAYS, *_GROUP_ARRAYS) if k in arrays}
        scalars = {k: meta[k] for k in keys}
        try:
            loss = get_loss(meta["loss"])
        except ValueError as exc:
            raise ResultFileError(f"{path}: {exc}") from None
        if scalars["status"] != 0:
            warnings.warn(f"{path} holds a run that did not reach t_max (status "
                          f"{scalars['status']!r}: {scalars['message']}); its times end at "
                          f"t={float(arrays['t'][-1]):g}", RuntimeWarning, stacklevel=2)
        return cls(**arrays, **scalars, loss=loss, metadata=meta)


