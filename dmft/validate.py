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
time: expected lowest and second-lowest eigenvalue (``lam_1``, ``lam_2``: outlier or tail
state, then the edge region) and the overlap^2 of the lowest eigenvector
(``overlap2_1``, local-ratio estimate of :class:`dmft.spectrum.FiniteNPicture`). H8 is a
model (Poisson tail + one outlier state, stated good to ~0.5 in lam), and the theory side
has no error bar here, so these z use the finite-N standard error alone: read them as
"how many finite-N standard errors the H8 prediction is off", not as a pass/fail test.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dmft import __version__, _checks
from dmft.simulate import simulate
from dmft.solver import solve
from dmft.spectrum import WeightLaw

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
    hessian_theory, hessian_finite_n, hessian_finite_n_sem, hessian_z : dict of (H,) arrays
        Per Hessian observable (``lam_1``, ``lam_2`` Riemannian, ``overlap2_1``): H8
        prediction from the DMFT law, finite-N mean and standard error, and the difference
        in finite-N standard errors (module docstring).
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
    hessian_finite_n: dict[str, np.ndarray] = field(default_factory=dict)
    hessian_finite_n_sem: dict[str, np.ndarray] = field(default_factory=dict)
    hessian_z: dict[str, np.ndarray] = field(default_factory=dict)
    hessian_worst_z: dict[str, float] = field(default_factory=dict)

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON (arrays as lists); written to ``path`` when given."""
        payload = {k: v for k, v in asdict(self).items()}
        text = json.dumps(payload, default=lambda a: np.asarray(a).tolist())
        if path is not None:
            Path(path).write_text(text)
        return text


def validate(alpha: float, N: int, m0: float = 0.3, t_max: float = 2.0, eta: float = 0.01,
             seeds: int = 8, n_samples: int = 10_000, seed: int = 0, hessian_points: int = 5,
             progress: bool = False) -> ValidationReport:
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
    """
    seeds = _checks.integer("seeds", seeds, 2)
    hessian_points = _checks.integer("hessian_points", hessian_points, 0)
    every = None
    if hessian_points:
        every = max(eta, round(t_max / hessian_points / eta) * eta)
    sim = simulate(alpha, N, m0=m0, t_max=t_max, eta=eta, seeds=seeds, seed=seed,
                   progress=progress, hessian_every=every, k_low=2, k_high=0)
    t_hess = np.asarray(sim.hessian_t, float)
    sol = solve(alpha, m0, t_max, dt=eta, n_samples=n_samples, seed=seed, progress=progress,
                sample_times=t_hess if t_hess.size else None)
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
              "dmft_version": __version__, "dmft_status": sol.message,
              "simulation_status": sim.message}
    report = ValidationReport(t=sol.t[:T], theory=theory, theory_sem=theory_sem,
                              finite_n=finite, finite_n_sem=finite_sem, z=z, worst_z=worst,
                              params=params)
    if t_hess.size and sol.status == 0:
        _add_hessian(report, sol, sim, N)
    return report


def _z(theory: np.ndarray, finite: np.ndarray, se: np.ndarray) -> np.ndarray:
    """``(theory - finite) / se`` with ``se`` floored at round-off, ``1e-12 max(1, |x|)``.

    Where both sides are exact (t = 0: m(0) = m0 on both), ``se`` is round-off (1e-18) and
    the plain ratio of two round-off numbers gave |z| ~ 5; with the floor an exact agreement
    gives z ~ 0 and a real mismatch without noise a huge z.
    """
    floor = 1e-12 * np.maximum(1.0, np.maximum(np.abs(theory), np.abs(finite)))
    return (theory - finite) / np.maximum(np.nan_to_num(se, nan=0.0), floor)


def _add_hessian(report: ValidationReport, sol, sim, N: int) -> None:
    """H8 predictions from the DMFT law at the snapshot times vs the finite-N Lanczos."""
    rows = []
    for t in sim.hessian_t:
        fn = WeightLaw.from_solution(sol, float(t)).finite_n(N, k_low=2)
        ov = fn.overlap2_lowest_local  # NaN without tail states (bounded law): outlier route
        rows.append((fn.lam_low[0], fn.lam_low[1], ov if np.isfinite(ov) else fn.overlap2_lowest))
    th = np.array(rows).T
    R = sim.hess_low.shape[0]
    fin = (sim.hess_low[:, :, 0], sim.hess_low[:, :, 1], sim.hess_low_overlap2[:, :, 0])
    report.t_hessian = np.asarray(sim.hessian_t, float)
    for k, theory, x in zip(HESSIAN, th, fin, strict=True):
        report.hessian_theory[k] = theory
        report.hessian_finite_n[k] = np.nanmean(x, axis=0)
        report.hessian_finite_n_sem[k] = np.nanstd(x, axis=0, ddof=1) / np.sqrt(R)
        report.hessian_z[k] = _z(theory, report.hessian_finite_n[k],
                                 report.hessian_finite_n_sem[k])
        report.hessian_worst_z[k] = float(np.max(np.abs(report.hessian_z[k])))
