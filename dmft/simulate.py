"""Finite-N gradient descent on the sphere for real phase retrieval (THEORY.md E1-E5).

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

The finite-N Riemannian Hessian (H1) lives in :mod:`dmft.hessian`; its public functions are
re-exported here (``hessian_extremes``, ``riemannian_hessian_dense``, ...) for the snapshots
along the dynamics. The result record is :class:`dmft.simulation_result.SimulationResult`.
"""

from __future__ import annotations

import math
import sys
import warnings
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from dmft import __version__, _memory
from dmft import _checks as checks
from dmft.hessian import (
    HessianEigs,
    check_data,
    hessian_extremes,
    lambda_max_lower_bound,
    riemannian_hessian_dense,
    riemannian_hessian_matvec,
)
from dmft.losses import Loss, get_loss
from dmft.problem import M0Like, Problem, check_dtype, check_m0, make_problem
from dmft.simulation_result import SimulationInterrupted, SimulationResult, SimulationStatus

__all__ = [
    "HessianEigs",
    "Problem",
    "SimulationInterrupted",
    "SimulationResult",
    "SimulationStatus",
    "energy",
    "hessian_extremes",
    "lambda_max_lower_bound",
    "make_problem",
    "riemannian_gradient",
    "riemannian_hessian_dense",
    "riemannian_hessian_matvec",
    "simulate",
]

_OBSERVABLES = ("m", "e", "mu", "grad_norm")

EtaOrigin = Literal["given", "default", "lambda_max", "mu", "t_max"]
ETA_DEFAULT = 0.01  # largest step chosen for eta=None (the plain loss's former default)
ETA_SAFETY = 0.5  # eta = ETA_SAFETY / lambda_max(start) for eta=None (stability needs < 2)


# --------------------------------------------------------------------------------------------
# Energy and gradient (E4, E5)
# --------------------------------------------------------------------------------------------


def energy(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, loss: str | Loss = "phase_retrieval"
) -> float:
    """Energy per sample ``e = L(w) / M`` (E4), ``h = X w / sqrt(N)`` (w used as given)."""
    X, y, w = check_data(X, y, w)
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
    X, y, w = check_data(X, y, w)
    lo = get_loss(loss)
    N = X.shape[1]
    h = (X @ w) / math.sqrt(N)
    f = lo.f(h, y)
    g = (f @ X) / math.sqrt(N)
    mu = float(np.dot(f, h)) / N
    return g - mu * w, mu


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


# --------------------------------------------------------------------------------------------
# simulate(): settings, records, one dataset's march, the result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    """Validated parameters of :func:`simulate` and the step counts derived from them."""

    alpha: float
    N: int
    m0: np.ndarray | None
    t_max: float
    eta: float
    seeds: int
    replicas: int
    seed: int | None
    rec: int  # steps between records
    hess: int  # steps between Hessian snapshots (0: none)
    k_low: int
    k_high: int
    grad_tol: float
    success_threshold: float
    loss: Loss
    noise: float
    dtype: np.dtype
    tangent_step: bool
    check_eta: bool
    blas_threads: int | None
    eta_chosen_from: EtaOrigin = "given"
    lambda_max_start: float | None = None  # measured when eta was chosen

    @property
    def n_steps(self) -> int:
        return checks.n_steps(self.t_max, self.eta)

    @property
    def runs(self) -> int:
        return self.seeds * self.replicas

    def metadata(self, entropy: int) -> dict:
        """JSON-ready parameters of the run (stored with the result)."""
        m0 = self.m0
        return {
            "alpha": self.alpha, "N": self.N, "M": max(1, int(round(self.alpha * self.N))),
            "eta": self.eta, "eta_chosen_from": self.eta_chosen_from,
            "lambda_max_start": self.lambda_max_start, "t_max": self.t_max,
            "t_end": float(f"{self.n_steps * self.eta:.12g}"),
            "n_steps": self.n_steps, "seeds": self.seeds, "seed": entropy,
            "replicas": self.replicas,
            "m0": None if m0 is None else (float(m0[0]) if np.all(m0 == m0[0]) else m0.tolist()),
            "loss": self.loss.name, "noise": self.noise, "dtype": self.dtype.name,
            "tangent_step": self.tangent_step, "record_every": self.rec * self.eta,
            "hessian_every": self.hess * self.eta if self.hess else None,
            "k_low": self.k_low, "k_high": self.k_high, "grad_tol": self.grad_tol,
            "success_threshold": self.success_threshold, "blas_threads": self.blas_threads,
            "dmft_version": __version__,
        }


def _choose_eta(s: _Settings, prob: Problem) -> tuple[float, EtaOrigin, float]:
    """``eta=None``: ``min(ETA_DEFAULT, ETA_SAFETY / lambda_max, 0.25 / |mu|, t_max)`` at the
    start of dataset 0 (H1, E5; ``eta mu << 1`` keeps the radial factor positive), its origin."""
    lam = lambda_max_lower_bound(prob.X, prob.y, prob.W0[0], s.loss)
    mu = float(riemannian_gradient(prob.X, prob.y, prob.W0[0], s.loss)[1])
    options: dict[EtaOrigin, float] = {"default": ETA_DEFAULT, "t_max": s.t_max,
                                       "lambda_max": ETA_SAFETY / lam if lam > 0 else math.inf,
                                       "mu": 0.25 / abs(mu) if mu else math.inf}
    origin = min(options, key=options.__getitem__)
    return float(options[origin]), origin, float(lam)


def _every(name: str, value: float | None, eta: float) -> int:
    """A time interval as a number of steps (>= 1), 0 for None."""
    if value is None:
        return 0
    return max(1, int(round(checks.positive(name, value) / eta)))


def _settings(alpha, N, m0, t_max, eta, seeds, replicas, seed, hessian_every, k_low, k_high,
              record_every, grad_tol, success_threshold, loss, noise, dtype, tangent_step,
              check_eta, blas_threads) -> _Settings:
    """Check every parameter of :func:`simulate` (ValueError saying what to change)."""
    N = checks.integer("N", N, 2)
    t_max, eta = checks.positive("t_max", t_max), checks.positive("eta", eta)
    replicas = checks.integer("replicas", replicas, 1)
    k_low, k_high = checks.integer("k_low", k_low, 0), checks.integer("k_high", k_high, 0)
    if eta > t_max:
        raise ValueError(f"eta={eta} is larger than t_max={t_max}: decrease eta or increase t_max")
    hess = _every("hessian_every", hessian_every, eta)
    if hess and k_low + k_high == 0:
        raise ValueError("hessian_every needs k_low + k_high >= 1")
    if hess and k_low + k_high >= N - 1:
        raise ValueError(f"k_low + k_high must be < N - 1 = {N - 1}")
    return _Settings(
        alpha=checks.positive("alpha", alpha), N=N, m0=check_m0(m0, replicas), t_max=t_max,
        eta=eta, seeds=checks.integer("seeds", seeds, 1), replicas=replicas,
        seed=None if seed is None else checks.integer("seed", seed, 0),
        rec=_every("record_every", record_every, eta) or 1, hess=hess, k_low=k_low,
        k_high=k_high, grad_tol=checks.finite("grad_tol", grad_tol),
        success_threshold=checks.in_range("success_threshold", success_threshold, 0.0, 1.0),
        loss=get_loss(loss), noise=checks.finite("noise", noise), dtype=check_dtype(dtype),
        tangent_step=bool(tangent_step), check_eta=bool(check_eta),
        blas_threads=None if blas_threads is None
        else checks.integer("blas_threads", blas_threads, 1),
    )


def _check_step(s: _Settings, prob: Problem) -> None:
    """Reject ``eta lambda_max > 2`` at the start (lower bound of lambda_max, H1)."""
    lam = lambda_max_lower_bound(prob.X, prob.y, prob.W0[0], s.loss)
    if s.eta * lam > 2.0:
        raise ValueError(
            f"eta={s.eta:g} is unstable: the largest Hessian eigenvalue (H1) at the start is "
            f"at least {lam:.3g}, so eta*lambda_max > 2; use eta well below "
            f"2/lambda_max = {2.0 / lam:.3g} (e.g. eta <= {0.5 / lam:.2g})"
        )


class _Records:
    """Recorded observables (R, T) and Hessian snapshots (R, H, k) of all runs."""

    def __init__(self, s: _Settings):
        n = s.n_steps
        self.steps = np.array(sorted(set(range(0, n + 1, s.rec)) | {n}))
        self.hess_steps = np.arange(0, n + 1, s.hess) if s.hess else np.zeros(0, int)
        R, T, H = s.runs, self.steps.size, self.hess_steps.size
        self.obs = {name: np.full((R, T), np.nan) for name in _OBSERVABLES}
        self.hess = {"low": np.full((R, H, s.k_low), np.nan),
                     "overlap2": np.full((R, H, s.k_low), np.nan),
                     "high": np.full((R, H, s.k_high), np.nan)}
        self.w_final = np.full((R, s.N), np.nan)

    @staticmethod
    def _span(steps: np.ndarray, k: int, frozen: bool) -> slice:
        """Indices of ``steps`` equal to k, or (frozen state) all from k on."""
        lo = int(np.searchsorted(steps, k, side="left"))
        return slice(lo, steps.size if frozen else int(np.searchsorted(steps, k, "right")))

    def record(self, s: _Settings, prob: Problem, rows: slice, k: int, obs: tuple,
               W: np.ndarray, frozen: bool) -> None:
        """Store step k's observables (and snapshot) for ``rows``; a frozen (converged)
        state fills every later recording time as well."""
        cols = self._span(self.steps, k, frozen)
        if cols.stop > cols.start:
            for name, val in zip(_OBSERVABLES, obs, strict=True):
                self.obs[name][rows, cols] = val[:, None]
            self.w_final[rows] = W
        js = self._span(self.hess_steps, k, frozen)
        if js.stop > js.start:
            for r, w in zip(range(rows.start, rows.stop), W, strict=True):
                ev = hessian_extremes(prob.X, prob.y, w, prob.w_star, s.k_low, s.k_high, s.loss)
                self.hess["low"][r, js] = ev.lam_low
                self.hess["overlap2"][r, js] = ev.overlap2_low
                self.hess["high"][r, js] = ev.lam_high


@dataclass
class _Progress:
    """Where the run stands: datasets finished, last step, first non-finite step."""

    dataset: int = 0
    step: int = 0
    bad_step: int | None = None
    last_steps: list[int] = field(default_factory=list)


def _march(s: _Settings, prob: Problem, rec: _Records, rows: slice, state: _Progress,
           bar) -> None:
    """Gradient descent on one dataset (all its replicas) up to ``n_steps`` (E5)."""
    block = _Block(prob, s.loss)
    for k in range(s.n_steps + 1):
        state.step = k
        obs = block.evaluate()
        if not all(np.all(np.isfinite(a)) for a in obs):
            state.bad_step = k
            return
        frozen = k < s.n_steps and bool(np.all(obs[3] < s.grad_tol))
        rec.record(s, prob, rows, k, obs, block.W, frozen)
        if k == s.n_steps or frozen:
            state.last_steps.append(k)
            return
        if not block.step(s.eta, obs[2], s.tangent_step):
            state.bad_step = k + 1
            return
        bar.update(1)


def _energy_rise(s: _Settings, rec: _Records, children) -> str | None:
    """Failure message when some run ends above its starting energy (unstable step)."""
    e = rec.obs["e"]
    up = np.flatnonzero(e[:, -1] > e[:, 0] * (1 + 1e-9))
    if up.size == 0:
        return None
    r = int(up[0])
    prob = make_problem(s.alpha, s.N, s.m0, children[r // s.replicas], s.replicas, s.loss,
                        s.noise, s.dtype)
    w0 = prob.W0[r % s.replicas]
    lam = lambda_max_lower_bound(prob.X, prob.y, w0, s.loss)
    mu = riemannian_gradient(prob.X, prob.y, w0, s.loss)[1]
    eta_ok = min(0.5 / lam, 0.25 / abs(mu)) if mu else 0.5 / lam
    return (
        f"unstable step (eta * lambda_max >= 2 along the run): the energy increased in "
        f"{up.size} of {s.runs} runs (run {r}: e={e[r, 0]:.4g} -> {e[r, -1]:.4g}), which "
        f"gradient descent with a stable step never does (at the start of run {r}, "
        f"eta*lambda_max = {s.eta * lam:.2f} and eta*mu = {s.eta * mu:.2f}); rerun with a "
        f"smaller eta, e.g. eta <= {eta_ok:.2g}"
    )


def _status(s: _Settings, rec: _Records, state: _Progress, children,
            interrupted: bool) -> tuple[SimulationStatus, str]:
    """Status and message of the run (see :class:`SimulationStatus`)."""
    t = lambda k: f"{k * s.eta:g}"  # noqa: E731
    d = state.dataset
    if interrupted:
        return SimulationStatus.INTERRUPTED, (
            f"interrupted at step {state.step} (t={t(state.step)}) of dataset {d}: datasets "
            f"0..{d - 1} are complete, the entries not reached are NaN")
    if state.bad_step is not None:
        k = state.bad_step
        rest = f", datasets {d + 1}..{s.seeds - 1} were not run" if d + 1 < s.seeds else ""
        return SimulationStatus.FAILED, (
            f"non-finite values at step {k} (t={t(k)}) in dataset {d}: eta is too large "
            f"(divergence); results recorded before t={t(k)} are kept{rest}")
    rise = _energy_rise(s, rec, children)
    if rise is not None:
        return SimulationStatus.FAILED, rise
    k_end = max(state.last_steps)
    if k_end < s.n_steps:
        return SimulationStatus.CONVERGED, (
            f"early stop at step {k_end} (t={t(k_end)}): every run has |grad| < "
            f"grad_tol={s.grad_tol:g}; the frozen final states fill the records up to "
            f"t={t(s.n_steps)}")
    return SimulationStatus.COMPLETED, (
        f"reached t={t(s.n_steps)} (t_max={s.t_max:g}) after {s.n_steps} steps of eta={s.eta:g}")


def _result(s: _Settings, rec: _Records, state: _Progress, root, children,
            interrupted: bool = False) -> SimulationResult:
    """The :class:`SimulationResult` of the run; arrays cut before a non-finite step."""
    status, message = _status(s, rec, state, children, interrupted)
    keep, keep_h = rec.steps.size, rec.hess_steps.size
    if state.bad_step is not None and not interrupted:
        keep = int(np.searchsorted(rec.steps, state.bad_step))  # recorded steps < bad step
        keep_h = int(np.searchsorted(rec.hess_steps, state.bad_step))
    if status == SimulationStatus.FAILED:
        warnings.warn(f"simulate: {message}", RuntimeWarning, stacklevel=3)
    obs = {name: a[:, :keep] for name, a in rec.obs.items()}
    m_last = obs["m"][:, -1] if keep else np.full(s.runs, np.nan)
    times = lambda steps: np.array([float(f"{k * s.eta:.12g}") for k in steps])  # noqa: E731
    return SimulationResult(
        t=times(rec.steps[:keep]), m=obs["m"], e=obs["e"], mu=obs["mu"],
        grad_norm=obs["grad_norm"], hessian_t=times(rec.hess_steps[:keep_h]),
        hess_low=rec.hess["low"][:, :keep_h], hess_low_overlap2=rec.hess["overlap2"][:, :keep_h],
        hess_high=rec.hess["high"][:, :keep_h],
        success=np.abs(np.nan_to_num(m_last, nan=0.0)) > s.success_threshold,
        status=status, message=message, metadata=s.metadata(root.entropy),
        w_final=rec.w_final,
    )


def simulate(
    alpha: float,
    N: int,
    m0: M0Like = None,
    t_max: float = 5.0,
    eta: float | None = None,
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
        Final time (> 0). The run makes ``n_steps = ceil(t_max / eta)`` steps (tolerance 1e-9
        steps, :func:`dmft._checks.n_steps`, the rule of :func:`dmft.solver.solve`) and ends at
        ``n_steps * eta >= t_max``; e.g. ``t_max = 0.025, eta = 0.01`` ends at 0.03.
    eta : float or None
        Step size (> 0). None (default): ``min(0.01, 0.5 / lambda_max, 0.25 / |mu|, t_max)``
        at the start of dataset 0, recorded in ``metadata`` (``eta``, ``eta_chosen_from``:
        ``"default"``, ``"lambda_max"``, ``"mu"``, ``"t_max"`` or ``"given"``, and
        ``lambda_max_start``). ``lambda_max`` (H1) is O(10 alpha) for the plain loss (N = 1000:
        40, 59, 64 at alpha = 2, 6, 12) and grows like 1/a for l_a (3300 at a = 0.01, alpha =
        6: eta = 1.5e-4). With ``check_eta`` a given step is checked by a Lanczos lower bound
        of ``lambda_max`` (:func:`dmft.hessian.lambda_max_lower_bound`) at the start of the
        first dataset (``eta * lambda_max > 2``: ValueError). A run whose energy still rises
        (the Hessian grows, or ``eta mu`` is close to 1) ends ``FAILED`` saying what eta to use.
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
        fill the remaining recording times: ``t`` always runs to ``n_steps * eta``. Datasets are
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
        ``status`` (:class:`SimulationStatus`): ``COMPLETED`` (0), ``CONVERGED`` (1, early
        stop), or ``FAILED`` (-1, with a RuntimeWarning carrying the message) when the state
        became non-finite (all runs are cut before that step) or when some run ended above
        its starting energy (unstable step; the arrays are kept whole).

    Raises
    ------
    ValueError
        For invalid parameters, saying what to change, and when the estimated memory
        (:func:`dmft._memory.simulation_bytes`) exceeds what is available.
    SimulationInterrupted
        On KeyboardInterrupt (Ctrl-C): a subclass of KeyboardInterrupt whose ``result``
        attribute is the partial :class:`SimulationResult` with status ``INTERRUPTED`` (-2):
        the completed datasets in full, the entries not reached NaN. Uncaught it stops a
        program like any Ctrl-C; catch it to keep the partial result (the ``dmft simulate``
        command saves it where ``--out`` is given).
    """
    def settings(step: float) -> _Settings:
        return _settings(alpha, N, m0, t_max, step, seeds, replicas, seed, hessian_every, k_low,
                         k_high, record_every, grad_tol, success_threshold, loss, noise, dtype,
                         tangent_step, check_eta, blas_threads)

    s = settings(min(ETA_DEFAULT, checks.positive("t_max", t_max)) if eta is None else eta)
    _memory.check_fits(f"simulate(alpha={s.alpha:g}, N={s.N})",
                       _memory.simulation_bytes(s.N, s.alpha, s.seeds, s.replicas, s.dtype),
                       "reduce N (the data matrix holds alpha N^2 numbers) or use float32")
    root = np.random.SeedSequence(s.seed)
    children = root.spawn(s.seeds)
    first = None  # dataset 0's problem, built once to choose eta
    if eta is None:
        first = make_problem(s.alpha, s.N, s.m0, children[0], s.replicas, s.loss, s.noise,
                             s.dtype)
        step, origin, lam = _choose_eta(s, first)
        s = replace(settings(step), eta_chosen_from=origin, lambda_max_start=lam)
    rec, state = _Records(s), _Progress()
    bar = tqdm(total=s.seeds * s.n_steps, disable=not progress, file=sys.stderr,
               desc=f"simulate alpha={s.alpha:g} N={s.N}", unit="step", leave=False)
    try:
        with ExitStack() as stack:
            stack.callback(bar.close)
            if s.blas_threads is not None:
                stack.enter_context(threadpool_limits(limits=s.blas_threads, user_api="blas"))
            for d, child in enumerate(children):
                state.dataset = d
                prob = first if d == 0 and first is not None else make_problem(
                    s.alpha, s.N, s.m0, child, s.replicas, s.loss, s.noise, s.dtype)
                if d == 0 and s.check_eta and s.eta_chosen_from == "given":
                    _check_step(s, prob)
                _march(s, prob, rec, slice(d * s.replicas, (d + 1) * s.replicas), state, bar)
                if state.bad_step is not None:
                    break
    except KeyboardInterrupt:
        partial = _result(s, rec, state, root, children, interrupted=True)
        raise SimulationInterrupted(partial) from None
    return _result(s, rec, state, root, children)
