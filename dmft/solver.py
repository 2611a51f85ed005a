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
  force history, ``sqrt(alpha/S) F = Q^T Rq`` (one Gram-Schmidt column per step, with
  re-orthogonalisation, in three passes over the basis). ``M_C = Rq^T Rq``, and the
  Gaussian noise of covariance ``M_C`` is ``eta(t_n) = sum_k Rq[k, n] z_k`` over the basis
  vectors ``k``, with ``z_k`` iid standard normal per path: a positive-semidefinite factor
  by construction, no Cholesky of a near-singular matrix. A force whose part outside the
  span of the past is below ``1e-10`` of its norm adds no basis vector and no noise
  direction (``_march._PIVOT_TOL``; error on ``M_C(n, n')`` at most ``1e-10 sqrt(M_C(n, n)
  M_C(n', n'))``), so the basis, the noise rows and the passes over them have ``r <= n``
  rows (measured r ~ n/2 at alpha = 3).
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
sub-populations (8 by default), each a complete DMFT with
its own kernels, marched in lockstep. Returned curves and kernels are their means;
``m_sem``, ``e_sem`` and ``mu_sem`` are the standard errors of those means (``n_groups -
1`` degrees of freedom; the group curves are kept as ``m_groups`` etc.), so they include
the kernel noise fed back through the dynamics (THEORY section 6). The cost is that of one
run with S paths up to the per-group T x T work (``solve``'s ``n_groups``);
``benchmarks/coverage.py`` checks the coverage of these error bars. Being independent, the
groups march on ``n_workers`` threads (one per core by default; each thread every
``n_workers``-th group, a barrier at the end of each step): numpy's large-array loops, BLAS
(one thread per product) and the numba triangles release the GIL, and the result is the
same bit for bit for any thread count (measured 1.25-1.7x on 2 cores, README).

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
import warnings
from typing import Literal

import numpy as np

from dmft import __version__, _checks, _lockstep, _memory
from dmft._lockstep import march_all as _march_all
from dmft._march import _March
from dmft.losses import Loss, get_loss, labels_even
from dmft.moreau import moreau_envelope
from dmft.solution import Solution, SolveStatus

__all__ = ["Scheme", "Solution", "SolveStatus", "solve"]

Scheme = Literal["explicit", "prox"]
# n_groups="auto": this many groups when each gets _GROUP_PATHS paths, else _GROUPS_MIN
# (groups of 125-500 paths blew up from kernel noise at dt = 0.02, alpha = 3-12)
_GROUPS_MAX, _GROUPS_MIN, _GROUP_PATHS = 8, 4, 1000




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
    if isinstance(n_groups, str):
        if n_groups != "auto":
            raise ValueError(f"n_groups must be an integer >= 2 or 'auto', got {n_groups!r}")
        size = _checks.integer("n_samples", n_samples, 4)
        n_groups = _GROUPS_MAX if size >= _GROUPS_MAX * _GROUP_PATHS else _GROUPS_MIN
    n_groups = _checks.integer("n_groups", n_groups, 2)
    n_samples = _checks.integer("n_samples", n_samples, 2 * n_groups)
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
    n_response: int | None | Literal["auto"] = "auto",
    sample_times=None,
    n_groups: int | Literal["auto"] = "auto",
    c_diag_tol: float = 0.25,
    progress: bool = False,
    scheme: Scheme = "explicit",
    response_tol: float = 1e-10,
    tangent: bool = False,
    n_workers: int | Literal["auto"] = "auto",
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
        Seed of ``numpy.random.default_rng``; a seed reproduces a run exactly on the same
        machine. Across machines (CPU, BLAS) a last-bit difference can flip a pivot of the
        force basis and re-assign one step's normal draw, after which the runs agree in law
        only (THEORY section 6).
    loss : str or Loss
        Per-sample loss (E4), default phase retrieval with labels ``y = h*^2``.
    noise : float
        Variance Delta of Gaussian label noise (E2).
    n_response : int, None or "auto"
        Paths used for the response kernel M_R (stratified, see module docstring); None or
        ``"auto"`` (default) use all paths. A subset is a speed knob with a bias: where the
        dynamics is sensitive, sub-populations with few response paths are biased (issue
        15, alpha = 3, m0 = 0.3, dt = 0.02, S = 4e4, 3 seeds: m(5) = 0.79 +- 0.01 with 8
        groups and 2000 response paths, against 0.88 +- 0.03 with all paths and 0.86 +-
        0.04 with 4 groups and all paths; N = 2000 gradient descent: 0.91 +- 0.02). For l_a
        all paths are needed: its response tail lives in the stiff paths (small y and large
        h), which no label stratum catches (a = 0.01, alpha = 6, S = 16000, t = 0.1: s.e. of
        m 0.028 with 2000 paths, 0.034 with the smallest-y stratum, 0.002 with all). Cost
        grows as ``n_response T^2 (r log T + 128)`` with the far field (``response_tol``).
    sample_times : sequence of float, optional
        Times at which to keep the effective-process samples (default: 0, t_max/2, t_max).
    n_groups : int or "auto"
        Independent sub-populations of ``S / n_groups`` paths, each a complete DMFT with its
        own kernels; the returned curves are their mean and ``*_sem`` their standard error
        (so kernel noise fed back through the dynamics is included), with ``n_groups - 1``
        degrees of freedom. ``"auto"`` (default): 8 groups (7 degrees of freedom) when each
        has at least 1000 paths (``n_samples >= 8000``), else 4. Measured with all response
        paths (``benchmarks/coverage.py``, alpha = 3, m0 = 0.3, 40 seeds of S = 4000 against
        S = 1e5): 93.8 % of |z| < 2 over m and e at t = 0.5-2, against 91.4 % expected for
        Student's t with 7 dof; with 2000 response paths 8 groups are biased (see
        ``n_response``). Groups of a few hundred paths can blow up from kernel noise
        (the failure message says so). The per-path work is shared but the ``T x T``
        kernels and their O(T^2)-per-step products are per group (8 groups against 4 at
        S = 1e4, S_R = 2000, T = 1000: 1.33x the time, 906 against 664 MB).
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
    response_tol : float
        Relative accuracy of the low-rank far field of R in the M_R back-substitution
        (:mod:`dmft._farfield`): every column of an off-diagonal block of the dyadic time
        tree is kept to ``response_tol`` of the block's largest column. 0 is the exact
        dense kernel. Default 1e-10: M_R within ~1e-12 of the dense kernel (measured,
        alpha = 10, T = 1000), cost per step ``S_R n (r log n + 128)`` instead of
        ``S_R n^2 / 2`` (rank ``r`` ~ 12 at 1e-10); it acts only past 128 steps.
    tangent : bool
        Integrate the m = 0 DMFT with the equations linearised in m, whose scale is
        ``m0`` (``0 < |m0| <= 1e-6``): ``m`` (and ``rho``) are then ``m0 G(t)`` with the
        growth factor G of T4, exactly linear in m0, and may exceed 1. The march keeps the
        odd part at ``|m| <= 1e4 |m0|`` by rescaling it (exact for the linear equations,
        :mod:`dmft.growth`), so G can grow without bound; ``C`` is the m = 0 correlation.
        Without it a run from small m0 leaves the linear regime once ``m0 G ~ 1e-3``.
    n_workers : int or "auto"
        Threads that march the sub-populations side by side (each thread every
        ``n_workers``-th group; BLAS stays at one thread per call; more than ``n_groups`` run
        as ``n_groups``). The result is the same bit for bit for every value. ``"auto"``
        (default): one per usable core, at most ``n_groups``, or the integer in the
        environment variable ``DMFT_NUM_THREADS`` when set (:func:`dmft.sweeps.sweep`'s
        default pool sets it to each process's share of the cores).

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
    if tangent and not 0.0 < abs(m0) <= _TANGENT_M0_MAX:
        raise ValueError(f"tangent=True needs 0 < |m0| <= {_TANGENT_M0_MAX:g} (the scale of "
                         f"the linearised equations, e.g. 1e-10), got m0={m0}")
    loss = get_loss(loss)
    if tangent and not labels_even(loss):
        raise ValueError(f"tangent=True needs labels even in the teacher field (m = 0 a "
                         f"fixed point), which {loss.name!r} does not have")
    if scheme not in ("explicit", "prox"):
        raise ValueError(f"scheme must be 'explicit' or 'prox', got {scheme!r}")
    march_loss = moreau_envelope(loss, dt) if scheme == "prox" else loss
    response_tol = _checks.finite("response_tol", response_tol)
    if response_tol < 0:
        raise ValueError(f"response_tol must be >= 0 (0: the exact dense kernel), got "
                         f"{response_tol}")
    noise = _checks.finite("noise", noise)
    if noise < 0:
        raise ValueError(f"noise variance must be >= 0, got {noise}")
    n_steps = _checks.n_steps(t_max, dt)
    n_workers = _lockstep.workers(n_workers, n_groups)
    if isinstance(n_response, str):
        if n_response != "auto":
            raise ValueError(f"n_response must be a count, None (all paths) or 'auto', got "
                             f"{n_response!r}")
        n_response = None
    n_resp = S if n_response is None else _checks.integer("n_response", n_response, 2)
    n_resp = max(2, n_resp // n_groups)
    _memory.check_fits(f"solve(t_max={t_max:g}, dt={dt:g}, n_samples={S})",
                       _memory.solver_bytes(n_steps, S, n_groups, min(S, n_resp * n_groups)),
                       "reduce n_samples, or t_max/dt (the kernels grow as (t_max/dt)^2)")
    t = dt * np.arange(n_steps + 1)
    sample_idx = _sample_indices(sample_times, t, dt)

    rngs = [np.random.default_rng(ss) for ss in np.random.SeedSequence(seed).spawn(n_groups)]
    marches = [
        _March(alpha, m0, dt, n_steps, S // n_groups, march_loss, noise, n_resp, rng,
               response_tol, tangent)
        for rng in rngs
    ]
    failure, interrupted = _march_all(marches, n_steps, c_diag_tol, alpha, progress,
                                      n_workers)
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
            "n_groups": n_groups, "c_diag_tol": c_diag_tol, "response_tol": response_tol,
            "tangent": bool(tangent), "antithetic": True,
            "stratified": True, "dmft_version": __version__}
    if marches[0].far is not None:
        meta["response_ranks"] = _far_ranks(marches)
    status = "interrupted" if interrupted else (-1 if failure else 0)
    return _combine(marches, status, failure, sample_idx, t, alpha, dt, loss, meta)


_TANGENT_M0_MAX = 1e-6  # largest scale of the tangent (its O(m0^2) error stays ~1e-12)
_START_STEPS = 3  # a failure within this many steps is an unstable start: refused


def _unstable_start(failure: str, dt: float, marches) -> str:
    """Message for a march that fails in its first steps, with a stable step to use.

    The local rate of a path at the start is ``M_R^loc(0) + f'(h(0))`` (D3), the N = inf
    counterpart of the Hessian's top eigenvalue (an outlier ``~ f'_mu + alpha E[f']`` per
    sample); ``1 / max`` over the population was measured stable at every (loss, alpha)
    tried, about 2x below the threshold for l_a at a = 0.01 (THEORY 1b).
    """
    rate = max(float(mc.rate_max[0]) for mc in marches)
    return (f"refused: the march failed in its first {_START_STEPS} steps ({failure}). The "
            f"stiffest initial paths have local rate M_R^loc + max f' = {rate:.4g} (the N = inf "
            f"analogue of lambda_max; for l_a it grows like 1/a): use dt <= 1/rate = "
            f"{1.0 / rate:.3g}")


def _far_ranks(marches) -> dict[str, int]:
    """{block size: largest rank over the groups' far-field blocks of that size, -1 where
    some block stayed dense} (``Solution.metadata["response_ranks"]``)."""
    out: dict[str, int] = {}
    for mc in marches:
        for h, ranks in mc.far.ranks().items():
            worst = -1 if -1 in ranks else max(ranks)
            prev = out.get(str(h), 0)
            out[str(h)] = -1 if -1 in (prev, worst) else max(prev, worst)
    return out


def _combine(marches, status, failure, sample_idx, t, alpha, dt, loss, meta) -> Solution:
    """Average the sub-populations; their spread gives the standard errors."""
    n = min(mc.n_done for mc in marches)
    G = len(marches)

    groups = {name: np.array([getattr(mc, name)[:n] for mc in marches])
              for name in ("m", "e", "mu", "mu_constraint", "loc", "rho")}
    scale = np.exp([mc.log_scale for mc in marches])[:, None]  # tangent mode's rescaling
    groups["m"] = groups["m"] * scale
    groups["rho"] = groups["rho"] * scale

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
        alpha=alpha, m0=meta["m0"], dt=dt, loss=loss,
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


