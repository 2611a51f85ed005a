"""Side-by-side validation: DMFT (N = inf) against finite-N gradient descent.

:func:`validate` runs :func:`dmft.solver.solve` with ``dt = eta`` (the solver is the
N = inf limit of gradient descent with that step, so both share the discretisation) and
:func:`dmft.simulate.simulate` with matched alpha, m0 and times, and reports for m, e and mu
the theory curve, the finite-N mean and standard error, and the standardised difference

    z(t) = (x_DMFT(t) - x_N(t)) / sqrt(se_DMFT(t)^2 + se_N(t)^2),

whose worst value over time is the headline number. Finite-N corrections are O(1/N)
(measured in ``tests/test_solver_vs_simulation.py``), so |z| of a few at N ~ 1000 can be
finite-size effects, not errors: compare two N before concluding.

Hessian along time (H1, H8): at ``hessian_points`` snapshot times the finite-N side computes
the lowest Riemannian eigenvalues and the squared overlap of the lowest eigenvector with w*
(Lanczos); the theory side is the finite-N picture (H8) of the DMFT weight law at the same
time: expected lowest and second-lowest eigenvalue (``lam_1``, ``lam_2``) of Poisson states
with mean ``N int rho`` below each level (plus the outlier), so that near a hard edge they
sit in the edge's ``N^(-2/3)`` window rather than on the edge (the old picture put lam_2 on
the N = inf edge, 0.36 below the N = 500 value at t = 1.2, alpha = 6: |z| 3.7), and the
overlap^2 of the lowest eigenvector (``overlap2_1``, local-ratio estimate of
:class:`dmft.spectrum.FiniteNPicture`).

The extreme eigenvalues converge slowly in N (a square-root edge: Tracy-Widom fluctuations
and shifts of order ``N^(-2/3)``), far more slowly than the O(1/N) of m, e, mu. The Hessian
z therefore carry a finite-N allowance measured from two sizes: the finite-N side is also
run at ``N/2`` (same times, seeds and steps) and, for each observable and time,

    allowance = |x_N - x_{N/2}| / (2^(2/3) - 1),
    z = (x_theory - x_N) / sqrt(se_theory^2 + se_N^2 + allowance^2),

i.e. the N^(-2/3) correction ``a N^(-2/3)`` whose difference between N/2 and N was measured
(its own noise makes it conservative); ``se_theory`` is the delete-one-group jackknife
error of the prediction over the DMFT's population groups (extreme samples set the low end
of a sample law, so it is not small: 0.1-0.9 at S = 8000).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dmft import __version__, _checks
from dmft._io import save_text
from dmft.losses import Loss, get_loss
from dmft.moreau import moreau_envelope
from dmft.simulate import simulate
from dmft.solver import Scheme, solve
from dmft.spectrum import WeightLaw, jackknife_se, n_groups

__all__ = ["ValidationReport", "validate"]

OBSERVABLES = ("m", "e", "mu")
HESSIAN = ("lam_1", "lam_2", "overlap2_1")


@dataclass
class ValidationReport:
    """DMFT vs finite-N curves on a common time grid.

    Attributes
    ----------
    t : (T,) array
        Common times.
    theory, theory_sem, finite_n, finite_n_sem, z : dict of (T,) arrays
        Per observable (``m``, ``e``, ``mu``): DMFT curve and Monte Carlo error, finite-N
        mean over runs and standard error, standardised difference.
    worst_z : dict of float
        ``max_t |z|`` per observable.
    params : dict
        alpha, N, m0, eta, t_max, seeds, n_samples, seed, version.
    t_hessian : (H,) array
        Hessian snapshot times (empty when ``hessian_points = 0``).
    hessian_theory, hessian_theory_sem, hessian_finite_n, hessian_finite_n_sem, hessian_z : \
dict of (H,) arrays
        Per Hessian observable (``lam_1``, ``lam_2`` Riemannian, ``overlap2_1``): H8
        prediction from the DMFT law and its delete-one-group jackknife error, finite-N mean
        and standard error, and the difference against ``sqrt(se_theory^2 + se^2 +
        allowance^2)`` (module docstring).
    hessian_allowance : dict of (H,) arrays
        The finite-N allowance per Hessian observable, ``|x_N - x_{N/2}| / (2^(2/3) - 1)``.
    hessian_worst_z : dict of float
    """

    t: np.ndarray
    theory: dict[str, np.ndarray]
    theory_sem: dict[str, np.ndarray]
    finite_n: dict[str, np.ndarray]
    finite_n_sem: dict[str, np.ndarray]
    z: dict[str, np.ndarray]
    worst_z: dict[str, float]
    params: dict = field(default_factory=dict)
    t_hessian: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hessian_theory: dict[str, np.ndarray] = field(default_factory=dict)
    hessian_theory_sem: dict[str, np.ndarray] = field(default_factory=dict)
    hessian_finite_n: dict[str, np.ndarray] = field(default_factory=dict)
    hessian_finite_n_sem: dict[str, np.ndarray] = field(default_factory=dict)
    hessian_z: dict[str, np.ndarray] = field(default_factory=dict)
    hessian_allowance: dict[str, np.ndarray] = field(default_factory=dict)
    hessian_worst_z: dict[str, float] = field(default_factory=dict)

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON (arrays as lists); written to ``path`` when given."""
        payload = {k: v for k, v in asdict(self).items()}
        text = json.dumps(payload, default=lambda a: np.asarray(a).tolist())
        if path is not None:
            save_text(path, text)  # atomic
        return text


def validate(alpha: float, N: int, m0: float = 0.3, t_max: float = 2.0, eta: float = 0.01,
             seeds: int = 8, n_samples: int = 10_000, seed: int = 0, hessian_points: int = 5,
             progress: bool = False, *, loss: str | Loss = "phase_retrieval",
             scheme: Scheme = "explicit") -> ValidationReport:
    """Run DMFT and finite-N gradient descent with matched parameters and compare them.

    Parameters
    ----------
    alpha, m0 : float
        Sample ratio and initial overlap (both sides).
    N : int
        Dimension of the finite-N side.
    t_max, eta : float
        Final time and step (``dt = eta`` for the DMFT).
    seeds : int
        Independent datasets on the finite-N side (>= 2 for a standard error).
    n_samples : int
        DMFT population size.
    seed : int
        Seed of both sides.
    hessian_points : int
        Hessian snapshots after t = 0 (evenly spaced, on the step grid); 0 for none.
    progress : bool
        Progress bars on stderr.
    loss : str or Loss
        Per-sample loss of both sides (E4, or l_a of E4a; the DMFT's response kernel then
        uses all paths, ``solve``'s default, THEORY section 6). For l_a the Hessian rows
        are refused: the
        finite-N picture H8 needs an unbounded lower tail of z, which l_a does not have.
    scheme : {"explicit", "prox"}
        ``"prox"``: both sides take the step on the Moreau envelope of the loss (E5p): the
        DMFT with ``solve(scheme="prox")``, gradient descent with
        ``loss=moreau_envelope(loss, eta)``; stable at ~10x larger steps for l_a.
    """
    seeds = _checks.integer("seeds", seeds, 2)
    hessian_points = _checks.integer("hessian_points", hessian_points, 0)
    loss = get_loss(loss)
    if loss.a is not None and hessian_points:
        raise ValueError(f"Hessian rows (H8) need an unbounded lower tail of z, which l_a "
                         f"with a = {loss.a:g} does not have: use hessian_points=0 "
                         "(--hessian-points 0) with the normalised loss")
    if scheme not in ("explicit", "prox"):
        raise ValueError(f"scheme must be 'explicit' or 'prox', got {scheme!r}")
    gd_loss = moreau_envelope(loss, eta) if scheme == "prox" else loss
    every = None
    if hessian_points:
        every = max(eta, round(t_max / hessian_points / eta) * eta)
    sim = simulate(alpha, N, m0=m0, t_max=t_max, eta=eta, seeds=seeds, seed=seed,
                   progress=progress, hessian_every=every, k_low=2, k_high=0, loss=gd_loss,
                   check_eta=scheme == "explicit")
    t_hess = np.asarray(sim.hessian_t, float)
    sol = solve(alpha, m0, t_max, dt=eta, n_samples=n_samples, seed=seed, progress=progress,
                sample_times=t_hess if t_hess.size else None, loss=loss, scheme=scheme)
    T = min(sol.t.size, sim.t.size)
    if not np.allclose(sol.t[:T], sim.t[:T]):
        raise RuntimeError("DMFT and simulation time grids differ; use record_every=None")
    theory = {k: getattr(sol, k)[:T] for k in OBSERVABLES}
    theory_sem = {k: getattr(sol, f"{k}_sem")[:T] for k in OBSERVABLES}
    finite = {k: sim.mean(k)[:T] for k in OBSERVABLES}
    finite_sem = {k: sim.sem(k)[:T] for k in OBSERVABLES}
    z = {k: _z(theory[k], finite[k], np.hypot(theory_sem[k], finite_sem[k]))
         for k in OBSERVABLES}
    worst = {k: float(np.max(np.abs(z[k]))) for k in OBSERVABLES}
    params = {"alpha": alpha, "N": N, "m0": m0, "eta": eta, "t_max": t_max, "seeds": seeds,
              "n_samples": n_samples, "seed": seed, "hessian_points": hessian_points,
              "loss": loss.name, "a": loss.a, "scheme": scheme,
              "dmft_version": __version__, "dmft_status": sol.message,
              "simulation_status": sim.message}
    report = ValidationReport(t=sol.t[:T], theory=theory, theory_sem=theory_sem,
                              finite_n=finite, finite_n_sem=finite_sem, z=z, worst_z=worst,
                              params=params)
    if t_hess.size and sol.status == 0:
        half = simulate(alpha, N // 2, m0=m0, t_max=t_max, eta=eta, seeds=seeds, seed=seed,
                        progress=progress, hessian_every=every, k_low=2, k_high=0)
        _add_hessian(report, sol, sim, half, N)
    return report


def _z(theory: np.ndarray, finite: np.ndarray, se: np.ndarray) -> np.ndarray:
    """``(theory - finite) / se`` with ``se`` floored at round-off, ``1e-12 max(1, |x|)``.

    Where both sides are exact (t = 0: m(0) = m0 on both), ``se`` is round-off (1e-18) and
    the plain ratio of two round-off numbers gave |z| ~ 5; with the floor an exact agreement
    gives z ~ 0 and a real mismatch without noise a huge z.
    """
    floor = 1e-12 * np.maximum(1.0, np.maximum(np.abs(theory), np.abs(finite)))
    return (theory - finite) / np.maximum(np.nan_to_num(se, nan=0.0), floor)


def _hessian_finite(sim) -> tuple[np.ndarray, ...]:
    """Per-run lam_1, lam_2 and overlap^2 of the lowest eigenvector, each (R, H)."""
    return sim.hess_low[:, :, 0], sim.hess_low[:, :, 1], sim.hess_low_overlap2[:, :, 0]


def _hessian_theory_row(law: WeightLaw, N: int) -> tuple[float, float, float]:
    """H8 lam_1, lam_2 and overlap^2 of the lowest eigenvector from one law."""
    fn = law.finite_n(N, k_low=2)
    ov = fn.overlap2_lowest_local  # NaN without tail states (bounded law): outlier route
    return fn.lam_low[0], fn.lam_low[1], ov if np.isfinite(ov) else fn.overlap2_lowest


def _hessian_theory(sol, times, N: int) -> tuple[np.ndarray, np.ndarray]:
    """(3, H) predictions and their delete-one-group jackknife errors (0 for exact laws)."""
    G = n_groups(sol)
    th, se = [], []
    for t in times:
        law = WeightLaw.from_solution(sol, float(t))
        full = _hessian_theory_row(law, N)
        th.append(full)
        if G < 2 or law.kind != "samples":
            se.append((0.0, 0.0, 0.0))
            continue
        reps = np.array([_hessian_theory_row(WeightLaw.from_solution(sol, float(t),
                                                                     drop_group=j), N)
                         for j in range(G)])
        se.append(tuple(jackknife_se(f, reps[:, k]) for k, f in enumerate(full)))
    return np.array(th).T, np.array(se).T


def _add_hessian(report: ValidationReport, sol, sim, half, N: int) -> None:
    """H8 predictions from the DMFT law at the snapshot times (with group errors) vs the
    finite-N Lanczos at N, with the allowance measured from N and N/2 (module docstring)."""
    th, th_se = _hessian_theory(sol, sim.hessian_t, N)
    R = sim.hess_low.shape[0]
    if not np.allclose(half.hessian_t, sim.hessian_t):
        raise RuntimeError("the N/2 run took its Hessians at other times than the N run")
    report.t_hessian = np.asarray(sim.hessian_t, float)
    report.params["hessian_allowance"] = "|x_N - x_N/2| / (2^(2/3) - 1), N/2 = " + str(N // 2)
    for k, theory, tse, x, xh in zip(HESSIAN, th, th_se, _hessian_finite(sim),
                                     _hessian_finite(half), strict=True):
        report.hessian_theory[k] = theory
        report.hessian_theory_sem[k] = tse
        report.hessian_finite_n[k] = np.nanmean(x, axis=0)
        report.hessian_finite_n_sem[k] = np.nanstd(x, axis=0, ddof=1) / np.sqrt(R)
        allowance = np.abs(report.hessian_finite_n[k] - np.nanmean(xh, axis=0))
        report.hessian_allowance[k] = allowance / (2.0 ** (2.0 / 3.0) - 1.0)
        spread = np.sqrt(np.nan_to_num(tse) ** 2 + report.hessian_finite_n_sem[k] ** 2
                         + report.hessian_allowance[k] ** 2)
        report.hessian_z[k] = _z(theory, report.hessian_finite_n[k], spread)
        report.hessian_worst_z[k] = float(np.max(np.abs(report.hessian_z[k])))
