"""N -> infinity DMFT of spherical gradient flow in phase retrieval (THEORY.md D1-D9).

Algorithm: causal forward march of a population, in discrete time
-----------------------------------------------------------------
The solver is the exact N -> infinity limit of the finite-N algorithm of E5 (projected
gradient step of size ``dt`` followed by renormalisation to the sphere), so DMFT and
gradient descent with ``eta = dt`` share the same discretisation error and ``dt -> 0``
gives D1-D9 (THEORY section 2, "Numerics worth knowing"). It marches ``S`` sample paths of
the single-sample process in its ODE form (D2 with the operator of D7 applied)::

    h_{n+1} = (h_n - dt [M_R^loc h_n + dt sum_{l<n} M_R(n,l) h_l + f(h_n; y)
                         + rho_n h* - eta_n]) / nrm_n

with ``h_0 = m0 h* + sqrt(1 - m0^2) v``. The coordinate process obeys the same recursion
with ``f -> 0``, ``h* -> w*`` and noise ``xi`` of covariance M_C; its effective gradient
``g_n`` has moments computable from C, R, m, M_C, M_R, which give the renormalisation
``nrm_n^2 = 1 - 2 dt E[w_n g_n] + dt^2 E[g_n^2]`` (so ``C(t, t) = 1`` holds by
construction), the multiplier ``mu = E[w_n g_n]`` (D4 in kernel form) and the updates of
R (D7) and C (D8), e.g. ``C(n+1, j) = (C(n, j) - dt E[g_n w_j]) / nrm_n`` and
``m_{n+1} = (m_n - dt alpha E[f h*]) / nrm_n`` (D5). All kernels at ``t_n`` are population
averages over times ``<= t_n``, so one pass suffices (``nit = 1``); we chose it over a
damped iteration on the whole trajectory because it is exact for the given population at
every step, costs one pass, and locates a failure at its time.

Per step ``n``:

* ``M_R^loc = alpha E[f']`` (local part of D3), ``e = E[l]`` (D9), ``alpha E[f h]`` (D4 on
  the paths, returned as ``mu``);
* ``M_C(t_n, .) = alpha E[f(t_n) f(.)]`` (D3) from an incremental QR factorisation of the
  force history, ``sqrt(alpha/S) F = Q Rq`` (one Gram-Schmidt column per step, with
  re-orthogonalisation, in three passes over the history). ``M_C = Rq^T Rq`` exactly, and
  the Gaussian noise of covariance ``M_C`` is ``eta(t_n) = sum_k Rq[k, n] z_k`` with
  ``z_k`` iid standard normal per path: a positive-semidefinite factor by construction, no
  Cholesky of a near-singular matrix. A pivot below ``1e-12`` of the column norm (a force
  already in the span of the past) gets a zero basis vector, i.e. no new noise direction,
  which is exact for a rank-deficient M_C.
* ``M_R(t_n, t_j) = alpha E[f'(t_n) chi(t_n, t_j)]`` (regular part) with the per-sample
  response of D3 solved by a blocked back-substitution across the response paths (matrix
  products shared by the paths, `_kernels.response_row`), O(n^2) per path per step, on
  a subset of ``n_response`` paths (stratified: the half with the largest labels y, where
  the heavy tail of the response lives (THEORY section 6), plus a uniform sample of the
  rest, with exact stratum weights, so the estimator stays unbiased). This O(S_R T^3)
  sweep dominates the cost at large T.
* ``rho`` from D6 and the moments of the coordinate gradient, then the step above.

Validation: for linear regression (f linear, kernels deterministic up to M_C sampling)
the march matched N = 4000 gradient descent with eta = dt = 0.01 at alpha = 3, m0 = 0.1
to 1e-3 in m, e and mu up to t = 0.5; an earlier explicit-Euler version of the
continuous equations was off by 2 % in e at t = 0.1, the O(eta) error of gradient descent.

Variance reduction (exact symmetries only): antithetic pairs ``(h*, v, z) -> (-h*, v, z)``
share everything but the sign of the teacher field, which cancels the O(1) noise of
``E[f h*]`` when m is small (THEORY section 6); initial fields and per-step noises are
drawn by Latin-hypercube stratification (marginally exact, less noisy moments).

Monte Carlo errors: the population is split into ``n_groups`` independent
sub-populations (4 by default, with at least 500 paths each), each a complete DMFT with
its own kernels, marched in lockstep. Returned curves and kernels are their means;
``m_sem``, ``e_sem`` and ``mu_sem`` are the standard errors of those means (``n_groups -
1`` degrees of freedom; the group curves are kept as ``m_groups`` etc.), so they include
the kernel noise fed back through the dynamics (THEORY section 6). The cost is that of one
run with S paths up to the per-group T x T work (``solve``'s ``n_groups``);
``benchmarks/coverage.py`` checks the coverage of these error bars.

Lagrange multiplier: the march uses the kernel form ``E[w_n g_n]`` (``mu_constraint``),
which keeps ``C(t, t) = 1``; D4 over the paths (``alpha E[f h]``) is returned as ``mu``.
We measured the alternative, D4 driving the dynamics: the Monte Carlo noise of
``E[f h] - E[f']`` then makes ``C(t, t)`` drift and the march blows up (alpha = 3,
m0 = 0.3, S = 1e4: C(t,t) = 1.26 at t = 0.19; alpha = 8: |m| > 1 at t = 0.11).

Discretisation: the curves are those of gradient descent with ``eta = dt`` at N = inf;
their distance to gradient flow is O(dt) (halving dt and extrapolating removes it).

Stiff losses (l_a, E4a): a path's local rate ``M_R^loc + f'(h)`` (the N = inf counterpart
of the Hessian outlier ``f'_mu + alpha E[f']`` of one sample) reaches ``~3 h^2 / a``, so the
explicit step needs dt ~ a. Measured (S = 8000, t <= 0.3): a = 0.01 stable at dt = 2e-3
(alpha = 4) and 1.5e-3 (alpha = 6), refused one step above; a = 1: 0.08 and 0.06. A march
failing in its first ``_START_STEPS`` steps is refused (ValueError) with ``1 / (M_R^loc +
max f')`` at t = 0, a safe step (2-4x below the limit). ``scheme="prox"`` marches the
prox-gradient step instead (:mod:`dmft.moreau`), stable at dt = 0.01-0.02 for a = 0.01.
Matched finite-N GD agrees for both schemes (``benchmarks/la_validation.py``).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.special import ndtri
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from dmft import __version__, _checks, _memory
from dmft._io import ResultFileError, load_npz, save_npz
from dmft._kernels import response_row
from dmft.losses import Loss, get_loss
from dmft.moreau import moreau_envelope

__all__ = ["Scheme", "Solution", "SolveStatus", "solve"]

SolveStatus = Literal[0, -1, "interrupted"]
Scheme = Literal["explicit", "prox"]

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


def _stratified_normal(n: int, rng: np.random.Generator) -> np.ndarray:
    """n standard normals by Latin-hypercube stratification (one per quantile bin of 1/n).

    Each value is marginally N(0, 1) and the bins are visited in random order, so
    population means stay unbiased while the noise of smooth moments drops well below
    1/sqrt(n).
    """
    u = (rng.permutation(n) + rng.random(n)) / n
    return ndtri(np.clip(u, 1e-300, 1.0 - 1e-16))


def _response_subset(y: np.ndarray, n_response: int, rng: np.random.Generator):
    """Indices and weights of the paths used for M_R (stratified on the labels)."""
    S = y.size
    if n_response >= S:
        return np.arange(S), np.full(S, 1.0 / S)
    n_top = n_response // 2
    order = np.argsort(-np.abs(y), kind="stable")
    top, rest = order[:n_top], order[n_top:]
    picked = rng.choice(rest, size=n_response - n_top, replace=False)
    idx = np.concatenate([top, picked])
    weights = np.concatenate([
        np.full(n_top, 1.0 / S),
        np.full(picked.size, rest.size / picked.size / S),
    ])
    return idx, weights


_GS_TILE = 512  # paths per tile of the fused Gram-Schmidt pass (a tile of Q stays in cache)


def _qr_append(Q: np.ndarray, Rq: np.ndarray, n: int, v: np.ndarray) -> None:
    """Append column ``v`` to the QR factorisation ``[v_0 .. v_{n-1}] = Q[:n].T Rq[:n, :n]``.

    Classical Gram-Schmidt twice (as stable as modified Gram-Schmidt), in three passes over
    ``Q[:n]`` instead of four: ``c = Q v``; then, tile by tile of paths, ``v -= Q^T c`` and
    the second projection ``c2 = Q v`` of the tile just updated, while that tile of ``Q``
    is in cache; then ``v -= Q^T c2``. ``v`` is overwritten. A pivot below ``1e-12`` of the
    column norm gets a zero basis vector (module docstring).
    """
    coeffs = np.zeros(n)
    if n:
        Qn = Q[:n]
        c = Qn @ v
        for i0 in range(0, v.size, _GS_TILE):
            v_tile, Q_tile = v[i0:i0 + _GS_TILE], Qn[:, i0:i0 + _GS_TILE]
            v_tile -= c @ Q_tile
            coeffs += Q_tile @ v_tile
        v -= coeffs @ Qn
        coeffs += c
    norm = float(np.sqrt(v @ v))
    scale = float(np.sqrt(coeffs @ coeffs + norm * norm))
    Rq[:n, n] = coeffs
    if norm > 1e-12 * scale:
        Rq[n, n] = norm
        np.divide(v, norm, out=Q[n])
    else:
        Rq[n, n] = 0.0
        Q[n] = 0.0


# default number of sub-populations (3 degrees of freedom for the errors). Not more: each
# group is a DMFT of S / n_groups paths, and where the dynamics is sensitive its bias grows
# as the groups shrink, which the spread between groups does not see (measured, alpha = 3,
# m0 = 0.3, dt = 0.02, S = 4e4, seeds 7-9: m(5) = 0.94, 0.86, 0.94 with 4 groups, 0.80,
# 0.77, 0.78 with 8, sems 0.02-0.08; half of the 5000-path groups stalled at m ~ 0.65)
_N_GROUPS = 4
# fewest paths per default group: each group is a DMFT whose own kernel noise feeds back, and
# smaller groups made the march blow up (measured, dt = 0.02: 125 paths per group at
# alpha = 6 and 250 at alpha = 14 stopped with a rising energy; 500 ran)
_MIN_GROUP_PATHS = 500


def _validate(alpha, m0, t_max, dt, n_samples, n_groups, c_diag_tol):
    alpha = _checks.positive("alpha", alpha)
    _checks.positive("c_diag_tol", c_diag_tol)
    m0 = _checks.in_range("m0", m0, -1.0, 1.0)
    if abs(m0) == 1.0:
        raise ValueError("|m0| = 1 starts at the signal: nothing to solve (use |m0| < 1)")
    t_max = _checks.positive("t_max", t_max)
    dt = _checks.positive("dt", dt)
    if dt > t_max:
        raise ValueError(f"dt={dt} exceeds t_max={t_max}")
    if n_groups is not None:
        n_groups = _checks.integer("n_groups", n_groups, 2)
    n_samples = _checks.integer("n_samples", n_samples, 2 * (n_groups or 2))
    if n_groups is None:
        n_groups = min(_N_GROUPS, max(2, n_samples // _MIN_GROUP_PATHS))
    block = 2 * n_groups
    n_samples = block * math.ceil(n_samples / block)
    return alpha, m0, t_max, dt, n_samples, n_groups


def solve(
    alpha: float,
    m0: float,
    t_max: float,
    dt: float = 0.02,
    n_samples: int = 10_000,
    seed: int = 0,
    *,
    loss: str | Loss = "phase_retrieval",
    noise: float = 0.0,
    n_response: int | None = 2000,
    sample_times=None,
    n_groups: int | None = None,
    c_diag_tol: float = 0.25,
    progress: bool = False,
    scheme: Scheme = "explicit",
) -> Solution:
    """Integrate the DMFT (D1-D9) of spherical gradient flow from overlap ``m0``.

    Parameters
    ----------
    alpha : float
        Sample ratio M/N (> 0).
    m0 : float
        Initial overlap ``m(0)`` with the teacher, in (-1, 1). ``m0 = 0`` stays at 0 (E1-E5).
    t_max : float
        Final time, in the time units of E5 (gradient-descent time ``k * eta``).
    dt : float
        Step: the solution is gradient descent with ``eta = dt`` at N = inf (module
        docstring); O(dt) from gradient flow. The last time: ``n_steps = ceil(t_max/dt)``
        steps, the ratio taken with a relative tolerance of 1e-9 (so 0.3/0.1 is 3 steps,
        not 4), and the grid ends at ``n_steps * dt >= t_max`` (never before ``t_max``).
    n_samples : int
        Population size S (rounded up to a multiple of ``2 * n_groups``; antithetic pairs).
    seed : int
        Seed of ``numpy.random.default_rng``; a seed reproduces a run exactly.
    loss : str or Loss
        Per-sample loss (E4), default phase retrieval with labels ``y = h*^2``.
    noise : float
        Variance Delta of Gaussian label noise (E2).
    n_response : int or None
        Paths used for the response kernel M_R (stratified, see module docstring); None
        uses all. Cost grows as ``n_response * T^3``. For l_a (E4a) use None: its response
        tail lives in the stiff paths (small y and large h), which no label stratum catches
        (a = 0.01, alpha = 6, S = 16000, t = 0.1: s.e. of m 0.028 with 2000 paths, 0.034
        with the smallest-y stratum, 0.002 with all).
    sample_times : sequence of float, optional
        Times at which to keep the effective-process samples (default: 0, t_max/2, t_max).
    n_groups : int or None
        Independent sub-populations of ``S / n_groups`` paths, each a complete DMFT with its
        own kernels; the returned curves are their mean and ``*_sem`` their standard error
        (so kernel noise fed back through the dynamics is included), with ``n_groups - 1``
        degrees of freedom. None (default): 4, or fewer (at least 2) when a group would
        hold fewer than 500 paths, below which a group's own kernel noise was measured to
        destabilise its march. More groups give more degrees of freedom but smaller
        sub-DMFTs, whose finite-population bias grows where the dynamics is sensitive
        (``_N_GROUPS``: m(5) at alpha = 3, m0 = 0.3, S = 4e4 fell by 0.15 from 4 to 8
        groups). The per-path work is shared (the groups split the S paths) but the
        ``T x T`` kernels and their O(T^2)-per-step products are per group: measured, 8
        groups against 4 at S = 1e4, S_R = 2000, T = 1000: 1.33x the time and 906
        against 664 MB; at S = 98568, T = 250: no extra time.
    c_diag_tol : float
        Stop when ``|C(t,t) - 1|`` exceeds this (> 0).
    progress : bool
        Show a progress bar on stderr.
    scheme : {"explicit", "prox"}
        ``"explicit"``: the limit of projected gradient descent (E5). ``"prox"`` (l_a only):
        the limit of the prox-gradient step, whose forces are evaluated at each sample's
        backward-Euler point (:mod:`dmft.moreau`), i.e. gradient descent on the Moreau
        envelope ``l^dt``; the march runs with ``moreau_envelope(loss, dt)`` (so ``e`` is
        ``E[l^dt]``, ``-> E[l]`` as dt -> 0) and its finite-N counterpart is
        ``simulate(loss=moreau_envelope(loss, eta), eta=dt)``. It stays stable at steps ~10x
        larger for a = 0.01 (measured, module docstring). ``Solution.loss`` is ``loss``.

    Returns
    -------
    Solution
        ``status`` 0 on success; -1 when the march stopped early (non-finite values,
        ``1 - m^2 < 0`` or drift of ``C(t,t)``), ``"interrupted"`` on KeyboardInterrupt;
        in both cases with the completed part of the trajectory kept.

    Raises
    ------
    ValueError
        Bad parameters; a run that would not fit in the available memory (checked before
        allocating); a march that fails at its very first step (the cause is named).
    """
    alpha, m0, t_max, dt, S, n_groups = _validate(alpha, m0, t_max, dt, n_samples, n_groups,
                                                  c_diag_tol)
    loss = get_loss(loss)
    if scheme not in ("explicit", "prox"):
        raise ValueError(f"scheme must be 'explicit' or 'prox', got {scheme!r}")
    march_loss = moreau_envelope(loss, dt) if scheme == "prox" else loss
    noise = _checks.finite("noise", noise)
    if noise < 0:
        raise ValueError(f"noise variance must be >= 0, got {noise}")
    n_steps = max(1, math.ceil(t_max / dt * (1.0 - 1e-9)))
    n_resp = S if n_response is None else _checks.integer("n_response", n_response, 2)
    n_resp = max(2, n_resp // n_groups)
    _memory.check_fits(f"solve(t_max={t_max:g}, dt={dt:g}, n_samples={S})",
                       _memory.solver_bytes(n_steps, S, n_groups, min(S, n_resp * n_groups)),
                       "reduce n_samples, or t_max/dt (the kernels grow as (t_max/dt)^2)")
    t = dt * np.arange(n_steps + 1)
    sample_idx = _sample_indices(sample_times, t, dt)

    rngs = [np.random.default_rng(ss) for ss in np.random.SeedSequence(seed).spawn(n_groups)]
    marches = [
        _March(alpha, m0, dt, n_steps, S // n_groups, march_loss, noise, n_resp, rng)
        for rng in rngs
    ]
    failure, interrupted = _march_all(marches, n_steps, c_diag_tol, alpha, progress)
    if min(mc.n_done for mc in marches) == 0:  # nothing to keep: say why
        mu0 = abs(float(marches[0].mu[0]))
        bound = f"; at alpha={alpha:g} dt must be well below 1/|mu(0)| = {1 / mu0:.3g}" if (
            math.isfinite(mu0) and mu0 > 0 and dt * mu0 > 0.5) else ""
        raise ValueError(f"the DMFT march failed at its first step (t = 0): {failure}{bound}")
    n_done = min(mc.n_done for mc in marches)
    if failure and not interrupted and n_done <= _START_STEPS:
        raise ValueError(_unstable_start(failure, dt, marches))
    if failure and not interrupted:
        warnings.warn(f"DMFT stopped early: {failure}", RuntimeWarning, stacklevel=2)
    meta = {"alpha": alpha, "m0": m0, "dt": dt, "t_max": float(t[-1]), "t_max_asked": t_max,
            "loss": loss.name, "a": loss.a, "scheme": scheme, "noise": noise, "seed": seed,
            "n_samples": S, "n_samples_asked": n_samples, "n_response": n_resp * n_groups,
            "n_groups": n_groups, "c_diag_tol": c_diag_tol, "antithetic": True,
            "stratified": True, "dmft_version": __version__}
    status = "interrupted" if interrupted else (-1 if failure else 0)
    return _combine(marches, status, failure, sample_idx, t, alpha, dt, loss, meta)


_START_STEPS = 3  # a failure within this many steps is an unstable start: refused


def _unstable_start(failure: str, dt: float, marches) -> str:
    """Message for a march that fails in its first steps, with a stable step to use.

    The local rate of a path at the start is ``M_R^loc(0) + f'(h(0))`` (D3), the N = inf
    counterpart of the Hessian's top eigenvalue (an outlier ``~ f'_mu + alpha E[f']`` per
    sample); ``1 / max`` over the population was measured stable at every (loss, alpha)
    tried, about 2x below the threshold for l_a at a = 0.01 (THEORY 1b).
    """
    rate = max(mc.rate0 for mc in marches)
    return (f"refused: the march failed in its first {_START_STEPS} steps ({failure}). The "
            f"stiffest initial paths have local rate M_R^loc + max f' = {rate:.4g} (the N = inf "
            f"analogue of lambda_max; for l_a it grows like 1/a): use dt <= 1/rate = "
            f"{1.0 / rate:.3g}")


def _march_all(marches, n_steps, c_diag_tol, alpha, progress) -> tuple[str, bool]:
    """March the sub-populations in lockstep; (failure message or '', interrupted?)."""
    failure = ""
    bar = tqdm(total=n_steps, desc=f"DMFT alpha={alpha:g}", disable=not progress, leave=False)
    # the per-step products are small: one BLAS thread is much faster (measured 45x under
    # load) and leaves the cores to the numba response kernel
    try:
        with bar, threadpool_limits(limits=1, user_api="blas"), np.errstate(
                over="ignore", invalid="ignore", divide="ignore"):  # the checks catch them
            for n in range(n_steps + 1):
                failure = next((f for f in (mc.step(n, c_diag_tol) for mc in marches) if f), "")
                if failure:
                    break
                bar.update(1 if n < n_steps else 0)
    except KeyboardInterrupt:
        if min(mc.n_done for mc in marches) == 0:
            raise
        n_done = min(mc.n_done for mc in marches)
        return f"interrupted (KeyboardInterrupt) at t={(n_done - 1) * marches[0].dt:.4g}", True
    return failure, False


def _combine(marches, status, failure, sample_idx, t, alpha, dt, loss, meta) -> Solution:
    """Average the sub-populations; their spread gives the standard errors."""
    n = min(mc.n_done for mc in marches)
    G = len(marches)

    groups = {name: np.array([getattr(mc, name)[:n] for mc in marches])
              for name in ("m", "e", "mu", "mu_constraint", "loc", "rho")}

    def mean(name):
        return groups[name].mean(axis=0)

    def sem(name):
        return groups[name].std(axis=0, ddof=1) / np.sqrt(G)

    keep = sample_idx[sample_idx < n]
    C = np.array([mc.C[:n, :n] for mc in marches]).mean(axis=0)
    M_C = np.array([mc.Rq[:n, :n].T @ mc.Rq[:n, :n] for mc in marches]).mean(axis=0)
    return Solution(
        t=t[:n].copy(), C=C, R=np.array([mc.R[:n, :n] for mc in marches]).mean(axis=0),
        m=mean("m"), mu=mean("mu"), mu_constraint=mean("mu_constraint"), e=mean("e"), M_C=M_C,
        M_R=np.array([mc.K[:n, :n] for mc in marches]).mean(axis=0),
        M_R_local=mean("loc"), rho=mean("rho"),
        m_sem=sem("m"), e_sem=sem("e"), mu_sem=sem("mu"),
        sample_times=t[keep],
        h_samples=np.concatenate([mc.H[keep] for mc in marches], axis=1),
        h_star=np.concatenate([mc.h_star for mc in marches]),
        y=np.concatenate([mc.y for mc in marches]),
        alpha=alpha, m0=float(marches[0].m[0]), dt=dt, loss=loss,
        c_diag_error=float(np.max(np.abs(np.diag(C) - 1.0))),
        status=status,
        message=failure or f"reached t_max={t[-1]:g} in {n - 1} steps",
        metadata=meta, m_groups=groups["m"], e_groups=groups["e"], mu_groups=groups["mu"],
    )


def _sample_indices(sample_times, t: np.ndarray, dt: float) -> np.ndarray:
    if sample_times is None:
        sample_times = [0.0, t[-1] / 2, t[-1]]
    times = _checks.finite_array("sample_times", np.atleast_1d(sample_times), ndim=1)
    if times.min() < 0 or times.max() > t[-1] + 1e-9:
        raise ValueError(f"sample_times must lie in [0, t_max={t[-1]:g}], got {times.tolist()}")
    return np.unique(np.rint(times / dt).astype(int))


_ENERGY_RISE = 0.1  # tolerated rise of e(t) above its running minimum, in units of e(0)


class _March:
    """State of the forward march; ``step(n)`` completes time ``t_n`` and advances h."""

    def __init__(self, alpha, m0, dt, n_steps, S, loss, noise, n_resp, rng):
        self.alpha, self.dt, self.loss, self.rng = alpha, dt, loss, rng
        self.S = S
        T = n_steps + 1
        self.n_steps = n_steps
        half = S // 2
        hs = _stratified_normal(half, rng)
        v0 = _stratified_normal(half, rng)
        self.h_star = np.repeat(hs, 2)
        self.h_star[1::2] *= -1.0
        y = loss.label(self.h_star, rng, 0.0)
        if noise > 0:
            y = y + np.sqrt(noise) * np.repeat(rng.standard_normal(half), 2)
        self.y = y
        self.H = np.empty((T, S))
        self.H[0] = m0 * self.h_star + np.sqrt(1.0 - m0 * m0) * np.repeat(v0, 2)
        self.Q = np.empty((T, S))
        self.Z = np.empty((T, half))
        self.Rq = np.zeros((T, T))
        self.resp_idx, self.resp_w = _response_subset(y, n_resp, rng)
        self.FP = np.zeros((self.resp_idx.size, T))
        self.n_chunks = max(1, 4 * (os.cpu_count() or 1))
        self.C = np.zeros((T, T))
        self.R = np.zeros((T, T))
        self.RT = np.zeros((T, T))
        self.C[0, 0] = self.R[0, 0] = self.RT[0, 0] = 1.0
        # P = C - m m^T, the correlation of the part of w orthogonal to w*, carried by its
        # own update so that 1 - m^2 = P(t, t) keeps its relative precision as m -> 1
        self.P = np.zeros((T, T))
        self.P[0, 0] = (1.0 - m0) * (1.0 + m0)
        self.K = np.zeros((T, T))
        self.m, self.mu, self.mu_constraint, self.e, self.loc, self.rho = np.zeros((6, T))
        self.m[0] = m0
        self.n_done = 0
        self.rate0 = math.nan  # M_R^loc + max f' at t = 0: the stiffest local rate

    def step(self, n: int, c_diag_tol: float) -> str:
        """Observables and kernels at t_n, then h, m, R, C at t_{n+1}; '' or a failure."""
        alpha, dt, loss = self.alpha, self.dt, self.loss
        h, y, hs = self.H[n], self.y, self.h_star
        f, fp = loss.f(h, y), loss.fp(h, y)
        if not (np.all(np.isfinite(f)) and np.all(np.isfinite(fp))):
            return f"non-finite forces at t={n * dt:.4g} (step {n}); reduce dt"
        self.mu[n] = alpha * (f @ h) / self.S
        drift = alpha * (f @ hs) / self.S
        self.loc[n] = alpha * np.mean(fp)
        if n == 0:
            self.rate0 = float(self.loc[0] + np.max(fp))
        self.e[n] = np.mean(loss.l(h, y))
        # M_C row (D3) through the incremental QR of the force history
        _qr_append(self.Q, self.Rq, n, np.sqrt(alpha / self.S) * f)
        Mrow = self.Rq[: n + 1, : n + 1].T @ self.Rq[: n + 1, n]
        # M_R regular row (D3) by the adjoint sweep
        self.FP[:, n] = fp[self.resp_idx]
        if n > 0:
            self.K[n, :n] = alpha * response_row(n, dt, self.RT, self.FP, self.resp_w,
                                                 self.n_chunks)
        K = self.K[n, :n]
        self.rho[n] = drift - self.loc[n] * self.m[n] - dt * (K @ self.m[:n])
        g_w, G, p_w, P_g = self._gradient_moments(n, K, Mrow, drift)
        self.mu_constraint[n] = g_w[n]
        norm2 = 1.0 - 2.0 * dt * g_w[n] + dt * dt * G
        bad = self._check(n, c_diag_tol, norm2)
        if bad:
            return bad
        self.n_done = n + 1
        if n == self.n_steps:
            return ""
        # advance: projected gradient step and renormalisation, w <- (w - dt g) / |.|
        nrm = np.sqrt(norm2)
        self._advance_h(n, f, K, nrm)
        self._advance_R(n, K, nrm)
        self.C[n + 1, : n + 1] = (self.C[n, : n + 1] - dt * g_w) / nrm
        self.C[: n + 1, n + 1] = self.C[n + 1, : n + 1]
        self.C[n + 1, n + 1] = (self.C[n, n] - 2.0 * dt * g_w[n] + dt * dt * G) / norm2
        self.P[n + 1, : n + 1] = (self.P[n, : n + 1] - dt * p_w) / nrm
        self.P[: n + 1, n + 1] = self.P[n + 1, : n + 1]
        self.P[n + 1, n + 1] = (self.P[n, n] - 2.0 * dt * p_w[n] + dt * dt * P_g) / norm2
        self.m[n + 1] = self._next_m(n, drift, nrm)
        return ""

    def _advance_h(self, n: int, f: np.ndarray, K: np.ndarray, nrm: float) -> None:
        """h(t_{n+1}) of all paths, in place in ``H[n+1]`` (no temporaries of size S):
        ``(h - dt [M_R^loc h + dt sum_l M_R(n, l) h_l + f + rho h* - eta]) / nrm`` with the
        noise ``eta = sum_k Rq[k, n] z_k`` shared by the two paths of an antithetic pair."""
        dt, h, out = self.dt, self.H[n], self.H[n + 1]
        self.Z[n] = _stratified_normal(self.S // 2, self.rng)
        eta = self.Rq[: n + 1, n] @ self.Z[: n + 1]
        if n:
            np.matmul(K, self.H[:n], out=out)  # the memory term, one pass over the history
            out *= dt
        else:
            out[:] = 0.0
        out += self.loc[n] * h
        out += f
        out += self.rho[n] * self.h_star
        out.reshape(-1, 2)[...] -= eta[:, None]
        out *= -dt
        out += h
        out /= nrm

    def _next_m(self, n: int, drift: float, nrm: float) -> float:
        """m(t_{n+1}) (D5): ``(m_n - dt drift) / nrm``, or near the signal, where that
        formula lets round-off carry |m| past 1 (measured at alpha 8-12 once 1 - m ~ 1e-16),
        the same number from ``m^2 = C(t,t) - P(t,t)``; so |m| <= 1 always."""
        m_next = (self.m[n] - self.dt * drift) / nrm
        if m_next * m_next > 0.5:
            q = self.C[n + 1, n + 1] - self.P[n + 1, n + 1]
            m_next = math.copysign(min(1.0, math.sqrt(max(q, 0.0))), m_next)
        return m_next

    def _gradient_moments(self, n, K, Mrow, drift):
        """Moments of the effective coordinate gradient ``g_n``, whole and orthogonal to w*.

        ``g_n = M_R^loc w_n + dt sum_{l<n} M_R(n, l) w_l + rho_n w* - xi_n`` with
        ``Cov(xi) = M_C`` (D3, D6); ``E[w_j xi_n] = dt sum_{l<j} R(j, l) M_C(n, l)`` by the
        response of w to its noise. ``E[w_n g_n]`` is the multiplier mu (D4 in kernel form).

        Returns ``E[w_j g_n]``, ``E[g_n^2]`` and the same for the parts orthogonal to w*:
        ``E[w_j g_n] - m_j E[w* g_n] = (c P)_j - E[w_j xi_n]`` and
        ``E[g_n^2] - E[w* g_n]^2 = c P c - 2 c.E[w xi_n] + M_C(n, n)``, with ``c`` the
        coefficients of ``w_l`` in ``g_n`` and ``E[w* g_n] = drift`` (the definition of
        rho). These never subtract two O(1) numbers, so they stay exact relative to
        ``1 - m^2`` when m -> 1.
        """
        dt, C, R = self.dt, self.C, self.R
        xi_w = dt * (R[: n + 1, : n + 1] @ Mrow - Mrow)  # strictly causal part of R
        c = np.empty(n + 1)
        c[:n] = dt * K
        c[n] = self.loc[n]
        g_w = c @ C[: n + 1, : n + 1] + self.rho[n] * self.m[: n + 1] - xi_w
        G = c @ g_w + self.rho[n] * drift - c @ xi_w + Mrow[n]
        p_w = c @ self.P[: n + 1, : n + 1] - xi_w
        P_g = c @ p_w - c @ xi_w + Mrow[n]
        return g_w, float(G), p_w, float(P_g)

    def _check(self, n: int, c_diag_tol: float, norm2: float) -> str:
        t = n * self.dt
        vals = (self.mu_constraint[n], self.e[n], self.rho[n], self.loc[n], self.m[n])
        if not (np.all(np.isfinite(vals)) and np.all(np.isfinite(self.K[n]))):
            return f"non-finite kernels at t={t:.4g} (step {n}); reduce dt"
        if not norm2 > 0.0:
            return (f"the step dt={self.dt} overshoots the sphere at t={t:.4g} (step {n}): "
                    "1 - 2 dt mu + dt^2 |g|^2 <= 0; reduce dt")
        if self.P[n, n] < 0.0:
            return (f"the variance orthogonal to the signal, 1 - m^2, turned negative "
                    f"({self.P[n, n]:.3g}) at t={t:.4g} (step {n}); reduce dt or raise "
                    "n_samples")
        e_min = float(np.min(self.e[: n + 1]))
        if self.e[n] > e_min + _ENERGY_RISE * self.e[0]:
            # a stable descent step never raises the loss; measured: alpha = 12, dt = 0.04
            # oscillates (period 2) and mu runs from 24 to 140 by t = 1 (dt = 0.02 is fine)
            return (f"the energy rose from {e_min:.4g} to {self.e[n]:.4g} at t={t:.4g} "
                    f"(step {n}): the explicit step dt={self.dt} is unstable at "
                    f"alpha={self.alpha:g} (like eta lambda_max > 2 at finite N); reduce dt")
        if abs(self.C[n, n] - 1.0) > c_diag_tol:
            return (f"C(t,t) drifted to {self.C[n, n]:.4g} at t={t:.4g} (step {n}), beyond "
                    f"c_diag_tol={c_diag_tol}; reduce dt or raise n_samples")
        return ""

    def _advance_R(self, n: int, K: np.ndarray, nrm: float) -> None:
        """D7 for the step: R(t_{n+1}, t_j), j < n, and R(t_{n+1}, t_n) = 1 / |.|."""
        dt, R = self.dt, self.R
        row = (1.0 - dt * self.loc[n]) * R[n, :n]
        if n:
            row -= dt * dt * (K @ R[:n, :n] - K)  # strictly causal part of R
        R[n + 1, :n] = row / nrm
        R[n + 1, n] = 1.0 / nrm
        R[n + 1, n + 1] = 1.0
        self.RT[: n + 2, n + 1] = R[n + 1, : n + 2]
