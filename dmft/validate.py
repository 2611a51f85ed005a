"""Side-by-side validation: DMFT (N = inf) against finite-N gradient descent.

:func:`validate` runs :func:`dmft.solver.solve` with ``dt = eta`` (the solver is the
N = inf limit of gradient descent with that step, so both share the discretisation) and
:func:`dmft.simulate.simulate` with matched alpha, m0 and times, and reports for m, e and mu
the theory curve, the finite-N mean and standard error, and the standardised difference

    z(t) = (x_DMFT(t) - x_N(t)) / sqrt(se_DMFT(t)^2 + se_N(t)^2),

whose worst value over time is the headline number. Finite-N corrections are O(1/N)
(measured in ``tests/test_solver_vs_simulation.py``), so |z| of a few at N ~ 1000 can be
finite-size effects, not errors: compare two N before concluding.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dmft import __version__, _checks
from dmft.simulate import simulate
from dmft.solver import solve

__all__ = ["ValidationReport", "validate"]

OBSERVABLES = ("m", "e", "mu")


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
    """

    t: np.ndarray
    theory: dict[str, np.ndarray]
    theory_sem: dict[str, np.ndarray]
    finite_n: dict[str, np.ndarray]
    finite_n_sem: dict[str, np.ndarray]
    z: dict[str, np.ndarray]
    worst_z: dict[str, float]
    params: dict = field(default_factory=dict)

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON (arrays as lists); written to ``path`` when given."""
        payload = {k: v for k, v in asdict(self).items()}
        text = json.dumps(payload, default=lambda a: np.asarray(a).tolist())
        if path is not None:
            Path(path).write_text(text)
        return text


def validate(alpha: float, N: int, m0: float = 0.3, t_max: float = 2.0, eta: float = 0.01,
             seeds: int = 8, n_samples: int = 10_000, seed: int = 0,
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
    progress : bool
        Progress bars on stderr.
    """
    seeds = _checks.integer("seeds", seeds, 2)
    sol = solve(alpha, m0, t_max, dt=eta, n_samples=n_samples, seed=seed, progress=progress)
    sim = simulate(alpha, N, m0=m0, t_max=t_max, eta=eta, seeds=seeds, seed=seed,
                   progress=progress)
    T = min(sol.t.size, sim.t.size)
    if not np.allclose(sol.t[:T], sim.t[:T]):
        raise RuntimeError("DMFT and simulation time grids differ; use record_every=None")
    theory = {k: getattr(sol, k)[:T] for k in OBSERVABLES}
    theory_sem = {k: getattr(sol, f"{k}_sem")[:T] for k in OBSERVABLES}
    finite = {k: sim.mean(k)[:T] for k in OBSERVABLES}
    finite_sem = {k: sim.sem(k)[:T] for k in OBSERVABLES}
    z = {}
    for k in OBSERVABLES:
        se = np.hypot(theory_sem[k], finite_sem[k])
        with np.errstate(divide="ignore", invalid="ignore"):
            z[k] = np.where(se > 0, (theory[k] - finite[k]) / se, 0.0)
    worst = {k: float(np.max(np.abs(z[k]))) for k in OBSERVABLES}
    params = {"alpha": alpha, "N": N, "m0": m0, "eta": eta, "t_max": t_max, "seeds": seeds,
              "n_samples": n_samples, "seed": seed, "dmft_version": __version__,
              "dmft_status": sol.message, "simulation_status": sim.message}
    return ValidationReport(t=sol.t[:T], theory=theory, theory_sem=theory_sem,
                            finite_n=finite, finite_n_sem=finite_sem, z=z, worst_z=worst,
                            params=params)
