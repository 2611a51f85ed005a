"""Finite-N success probability of gradient descent from random starts (validation, T4).

This module runs the finite-N simulator (:func:`dmft.simulate.simulate`) to measure the
success rate of gradient descent (E5) from uniformly random starts, per alpha, with Wilson
intervals and the empirical 50 % point alpha_50(N) (:mod:`dmft.stats`), and confronts it with
the prediction of the linear growth (:mod:`dmft.growth`): :func:`implied_m_escape` is the
one constant ``m_escape`` that puts the predicted 50 % point on the measured one.
:func:`reference_success` reads the shipped curves (``data/success_N*.npz``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from dmft import _checks, _data
from dmft._io import load_npz, save_npz
from dmft.growth import C_MEDIAN, GrowthFactor, log_G_horizon
from dmft.losses import PHASE_RETRIEVAL, Loss, get_loss
from dmft.moreau import moreau_envelope
from dmft.stats import LogisticFit, fit_alpha_50, wilson_interval
from dmft.sweeps import sweep

__all__ = ["SuccessCurve", "success_probability", "implied_m_escape", "reference_success",
           "Scheme", "DmftSuccessPrediction", "dmft_success_prediction"]

Scheme = Literal["explicit", "prox"]
"""Gradient step: ``"explicit"`` (E5 on the loss itself) or ``"prox"`` (E5 on the Moreau
envelope ``l^eta`` of a normalised loss, :mod:`dmft.moreau`: the prox-gradient step)."""

_META = ("N", "t_max", "eta", "alpha_50", "alpha_50_err", "confidence", "success_threshold",
         "width", "deviance", "separated", "seed", "loss", "scheme")


@dataclass
class SuccessCurve:
    """Success probability of gradient descent from uniformly random starts vs alpha (T4).

    Every figure "success probability vs alpha with Wilson bars" reads straight off the
    arrays: ``errorbar(alphas, rate, yerr=(rate - ci_low, ci_high - rate))``, with the
    empirical ``alpha_50`` and, for comparison, ``alpha_alg(N)`` of
    :func:`dmft.growth.alpha_alg`.

    Attributes
    ----------
    N : int
        Dimension.
    alphas : (p,) array
        Sample ratios.
    successes, trials : (p,) int arrays
        Successful runs (``|m(t_max)| > success_threshold``) and runs, one independent
        dataset, teacher and start per run.
    rate, ci_low, ci_high : (p,) arrays
        ``successes / trials`` and its Wilson interval (:func:`wilson_interval`).
    t_max, eta : float
        Duration and step of gradient descent (E5).
    alpha_50, alpha_50_err : float
        Empirical 50 % point and its error (:func:`fit_alpha_50`).
    t_hit : (p, runs) array
        First recorded time with ``|m| > success_threshold`` (inf if never): the success
        rate with a shorter ``t_max`` is ``mean(t_hit <= t)`` (see :meth:`rate_at`).
    confidence, success_threshold : float
    width, deviance : float
        Logistic scale and deviance of the fit; ``separated`` flags a (quasi-)separated fit.
    separated : bool
    seed : int
    loss : str
        Name of the per-sample loss (:func:`dmft.losses.get_loss` reads it back), e.g.
        ``"phase_retrieval"`` (E4) or ``"normalised_phase_retrieval(a=0.01)"`` (E4a).
    scheme : {"explicit", "prox"}
        Gradient step (:data:`Scheme`); files written before these two fields read back as
        the plain loss with explicit steps.
    """

    N: int
    alphas: np.ndarray
    successes: np.ndarray
    trials: np.ndarray
    rate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    t_max: float
    eta: float
    alpha_50: float
    alpha_50_err: float
    t_hit: np.ndarray
    confidence: float = 0.95
    success_threshold: float = 0.9
    width: float = float("nan")
    deviance: float = float("nan")
    separated: bool = False
    seed: int = 0
    loss: str = "phase_retrieval"
    scheme: Scheme = "explicit"

    _ARRAYS = ("alphas", "successes", "trials", "rate", "ci_low", "ci_high", "t_hit")

    def rate_at(self, t: float) -> np.ndarray:
        """Fraction of runs that had reached ``|m| > success_threshold`` by time ``t``."""
        return np.mean(self.t_hit <= t, axis=1)

    def fit_at(self, t: float) -> LogisticFit:
        """50 % point of the success curve had the runs stopped at ``t <= t_max``.

        Escape times have a long tail near the transition, so ``alpha_50`` drifts with
        ``t_max``; comparing ``fit_at(t_max / 2)`` with :attr:`alpha_50` measures the drift.
        """
        return fit_alpha_50(self.alphas, np.sum(self.t_hit <= t, axis=1), self.trials)

    def save(self, path: str | Path) -> Path:
        """Write a self-describing ``.npz`` (``kind="success-curve"``); returns the path."""
        arrays = {name: np.asarray(getattr(self, name)) for name in self._ARRAYS}
        meta = {name: getattr(self, name) for name in _META}
        return save_npz(path, "success-curve", arrays, meta)

    @classmethod
    def load(cls, path: str | Path) -> SuccessCurve:
        """Read a file written by :meth:`save`."""
        arrays, meta = load_npz(path, kind="success-curve", meta_needed=_META[:-2])
        kw = {name: meta[name] for name in _META if name in meta}  # loss, scheme: optional
        return cls(**arrays, **kw)


def success_probability(N: int, alphas: Sequence[float], runs: int = 40, t_max: float = 20.0,
                        eta: float = 0.01, seed: int = 0, success_threshold: float = 0.9,
                        confidence: float = 0.95, executor: Executor | None = None,
                        cache_dir: str | Path | None = None, progress: bool = True,
                        loss: str | Loss = "phase_retrieval",
                        scheme: Scheme = "explicit") -> SuccessCurve:
    """Success rate of gradient descent (E5) from uniformly random starts, vs alpha (T4).

    For each alpha, ``runs`` independent problems (E1-E3: teacher, data and a uniformly
    random start with ``|m0| ~ 1/sqrt(N)``, ``m0=None``) are run by
    :func:`dmft.simulate.simulate` (``seeds=runs``, ``replicas=1``); the alphas go through
    :func:`dmft.sweeps.sweep` (parallel, cached per alpha). Each alpha has its own seed derived from
    ``(seed, N, alpha)``, so the points are independent and a point does not depend on the
    other alphas of the sweep.

    Defaults and why (measurements on the shared 2-core machine):

    * ``t_max = 20``. A first look (6 runs each at N = 500, alpha = 6, 8, 10, t_max = 40):
      successful runs reach ``|m| > 0.9`` at t = 0.6-7.2, failed ones sit at
      ``|m| = 0.16-0.4`` until t = 40. With 40 runs per alpha at N = 250 and 500 the median
      escape time (first ``|m| > 0.9``) grows with N as the ``log(sqrt N) / rate`` escape of
      T4 says, and grows towards the threshold: alpha = 5: 2.9 -> 5.1, alpha = 6:
      2.05 -> 3.4, alpha = 7: 1.2 -> 1.9, alpha = 10: 0.6 -> 0.6. t_max = 20 is about 4x
      the median escape time at the 50 % point for N <= 500 (and leaves room for the
      log N growth), while failures, which run to t_max, set the cost. The escape times
      have a tail, though: at every alpha a few runs escape only at t = 10-20, so the rate
      is defined at the stated t_max, not converged in it; :meth:`SuccessCurve.rate_at`
      and :meth:`SuccessCurve.fit_at` measure the drift (alpha_50 at t_max / 2 vs t_max).
      Measured drift (alpha_50 at t = 10 minus at t = 20): 0.26 +- 0.2 (N = 250),
      0.30 +- 0.2 (N = 500), 0.64 +- 0.2 (N = 1000, 24 runs): it grows with N, so for
      N >= 1000 raise t_max (cost grows linearly) or quote alpha_50 with its t_max.
    * ``eta = 0.01``: the Lanczos lower bound of ``lambda_max`` (H1) at the start is 45-67
      for alpha = 6-15 and N = 500-2000, so ``eta lambda_max`` is about 0.5-0.7 < 2; halving
      eta to 0.005 reproduced every run's outcome and its escape time (to the 0.2 recording
      grid) at N = 500, alpha = 6 and 8 (12 runs).

    Parameters
    ----------
    N : int
        Dimension.
    alphas : sequence of float
        Sample ratios, covering the transition (both successes and failures are needed for
        ``alpha_50``).
    runs : int
        Independent runs per alpha (Wilson half-width about ``1/sqrt(runs)`` at p = 1/2).
    t_max, eta : float
        Duration and step of gradient descent.
    seed : int
        Root seed.
    success_threshold : float
        Success means ``|m(t_max)| > success_threshold``.
    confidence : float
        Level of the Wilson intervals.
    executor, cache_dir :
        As in :func:`dmft.sweeps.sweep` (e.g. a ``dask.distributed.Client``).
    progress : bool
        Show a tqdm bar over alphas (stderr).
    loss : str or Loss
        Per-sample loss (:func:`dmft.losses.get_loss`; recorded by name, so a custom Loss
        object must be one that ``get_loss`` can rebuild from its name), e.g.
        ``get_loss("phase_retrieval", a=0.01)`` for l_a (E4a).
    scheme : {"explicit", "prox"}
        ``"prox"`` runs projected gradient descent with step eta on the Moreau envelope
        ``l^eta`` (:func:`dmft.moreau.moreau_envelope`, normalised losses only), the finite-N
        twin of ``dmft.solver.solve(..., scheme="prox", dt=eta)``; its local rates are
        below ``1 / eta`` by construction, so the Lanczos step check is skipped. On l_a use
        it: explicit steps need ``eta ~ a`` (THEORY 1b). Measured at a = 0.01, eta = 0.01:
        see ``data/README.md`` (``success_la0.01_N*.npz``).

    Returns
    -------
    SuccessCurve
        If no run succeeds or none fails, ``alpha_50`` is NaN.
    """
    N = _checks.integer("N", N, 2)
    runs = _checks.integer("runs", runs, 1)
    seed = _checks.integer("seed", seed, 0)
    t_max, eta = _checks.positive("t_max", t_max), _checks.positive("eta", eta)
    success_threshold = _checks.in_range("success_threshold", success_threshold, 0.0, 1.0)
    a = _checks.finite_array("alphas", alphas, ndim=1)
    loss_name = _loss_name(loss, scheme, eta)
    if np.unique(a).size != a.size:
        raise ValueError("alphas must be distinct (a point's seed depends on its alpha: "
                         "raise runs instead of repeating an alpha)")
    params = {"N": N, "runs": runs, "t_max": t_max, "eta": eta, "seed": seed,
              "success_threshold": success_threshold}
    if loss_name != PHASE_RETRIEVAL.name or scheme != "explicit":  # old cache keys unchanged
        params |= {"loss": loss_name, "scheme": scheme}
    points = sweep(_success_point, a.tolist(), executor=executor, cache_dir=cache_dir,
                   progress=progress, desc=f"success N={N}", **params)
    k = np.array([int(np.sum(p["success"])) for p in points])
    n = np.array([p["success"].size for p in points])
    return _make_curve(N, a, k, n, np.array([p["t_hit"] for p in points]), confidence,
                       params)


def _make_curve(N, a, k, n, t_hit, confidence, params) -> SuccessCurve:
    low, high = wilson_interval(k, n, confidence)
    try:
        fit = fit_alpha_50(a, k, n)
    except ValueError:  # all successes or all failures
        fit = LogisticFit(alpha_50=np.nan, alpha_50_err=np.nan, width=np.nan,
                          width_err=np.nan, deviance=np.nan)
    return SuccessCurve(N=N, alphas=a, successes=k, trials=n, rate=k / n, ci_low=low,
                        ci_high=high, t_max=params["t_max"], eta=params["eta"],
                        alpha_50=fit.alpha_50, alpha_50_err=fit.alpha_50_err, t_hit=t_hit,
                        confidence=confidence,
                        success_threshold=params["success_threshold"], width=fit.width,
                        deviance=fit.deviance, separated=fit.separated, seed=params["seed"],
                        loss=params.get("loss", PHASE_RETRIEVAL.name),
                        scheme=params.get("scheme", "explicit"))


def _loss_name(loss: str | Loss, scheme: str, eta: float) -> str:
    """Name of ``loss`` after checking that the pair (loss, scheme) can run."""
    if scheme not in ("explicit", "prox"):
        raise ValueError(f"scheme must be 'explicit' or 'prox', got {scheme!r}")
    base = get_loss(loss)
    try:
        get_loss(base.name)
    except ValueError:
        raise ValueError(f"loss {base.name!r} cannot be rebuilt from its name (the name is "
                         "what the sweep passes and records): pass a built-in loss or "
                         "a name get_loss knows") from None
    if scheme == "prox":
        moreau_envelope(base, eta)  # raises unless l_a and 0 < eta < 1
    return base.name


def _point_seed(seed: int, N: int, alpha: float) -> int:
    """Independent integer seed of the point (seed, N, alpha)."""
    ss = np.random.SeedSequence([seed, N, int(round(alpha * 1e6))])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def _success_point(alpha: float, N: int, runs: int, t_max: float, eta: float, seed: int,
                   success_threshold: float, loss: str = PHASE_RETRIEVAL.name,
                   scheme: Scheme = "explicit") -> dict[str, np.ndarray]:
    from dmft.simulate import simulate

    run_loss = moreau_envelope(loss, eta) if scheme == "prox" else get_loss(loss)
    res = simulate(alpha, N, m0=None, t_max=t_max, eta=eta, seeds=runs, replicas=1,
                   seed=_point_seed(seed, N, alpha), record_every=max(eta, 0.1),
                   success_threshold=success_threshold, loss=run_loss,
                   check_eta=scheme == "explicit")
    if res.status == -1:
        raise RuntimeError(f"simulate failed at alpha={alpha}, N={N}: {res.message}")
    above = np.abs(res.m) > success_threshold
    t_hit = np.where(above.any(axis=1), res.t[np.argmax(above, axis=1)], np.inf)
    return {"success": res.success, "t_hit": t_hit, "m_final": res.m[:, -1]}


def implied_m_escape(curve: SuccessCurve, growths: Sequence[GrowthFactor],
                     c: float = C_MEDIAN) -> tuple[float, float]:
    """The ``m_escape`` that puts the predicted 50 % point on a measured one (T4).

    ``m_escape = c G_h(alpha_50) / sqrt(N)`` with ``G_h`` the growth up to the curve's
    ``t_max`` (capped at the end of G), interpolated linearly in alpha in ``log G_h``; the
    error propagates ``alpha_50_err`` through the local slope. If the log N law of T4 holds,
    the values implied by different N agree.
    """
    a = np.array([g.alpha for g in growths])
    if not a.min() <= curve.alpha_50 <= a.max():
        raise ValueError(f"alpha_50 = {curve.alpha_50:g} (N = {curve.N}) is not inside the "
                         f"growth factors' alphas [{a.min():g}, {a.max():g}]: widen the "
                         "sweep, or the success curve has no 50 % point (all runs succeed "
                         "or all fail)")
    horizon = min(curve.t_max, min(g.t[-1] for g in growths))
    lg = np.array([log_G_horizon(g, horizon)[0] for g in growths])
    at = float(np.interp(curve.alpha_50, a, lg))
    slope = float(np.gradient(lg, a)[np.argmin(abs(a - curve.alpha_50))])
    m_esc = c * math.exp(at) / math.sqrt(curve.N)
    return m_esc, m_esc * abs(slope) * curve.alpha_50_err



@dataclass
class DmftSuccessPrediction:
    """Finite-N success predicted by the non-linear DMFT from a finite start (T4).

    A uniformly random start has ``m0 = |g| / sqrt(N)`` (g standard normal; the sign is
    irrelevant, y depends on h*^2). The DMFT (:func:`dmft.solver.solve`) from each ``m0`` of
    a grid gives the first time ``t_hit`` with ``m > success_threshold``; at a horizon t the
    success boundary ``m0*(alpha; t)`` is where ``t_hit(m0) = t`` (linear in ``log m0``,
    exact while the growth is linear), and ``P(success) = P(|g| > sqrt(N) m0*)
    = 2 Phi(-sqrt(N) m0*)``, whose 50 % point is ``sqrt(N) m0* = C_MEDIAN``.

    Attributes
    ----------
    alphas : (p,) array
    m0s : (q,) array
        Initial overlaps, increasing.
    t_hit : (p, q) array
        First grid time with ``m > success_threshold``: inf if not by ``t_max``, NaN if
        that point was not solved (a grid assembled from several runs).
    t_max, dt : float
        Horizon and step of the DMFT (E5 time units).
    n_samples, seed : int
    success_threshold : float
    loss : str
    scheme : {"explicit", "prox"}
    """

    alphas: np.ndarray
    m0s: np.ndarray
    t_hit: np.ndarray
    t_max: float
    dt: float
    n_samples: int
    seed: int
    success_threshold: float
    loss: str
    scheme: Scheme

    def m0_star(self, t: float) -> np.ndarray:
        """Boundary ``m0*(alpha; t)`` per alpha: ``log m0`` interpolated linearly in
        ``t_hit`` between the grid points, extrapolated from the nearest two, then clipped
        to the bracket the grid proves (above every ``m0`` with ``t_hit > t``, including
        those that never hit, and at most the smallest ``m0`` with ``t_hit <= t``); NaN
        when fewer than two ``m0`` reached the threshold. Linear in ``log m0`` is exact
        while the growth is linear (``t_hit = const - log(m0) / rate``); a slower growth
        at small ``m0`` (outlier lost before escape) shows up as a clipped value."""
        if not 0 < t <= self.t_max:
            raise ValueError(f"horizon t = {t} must be in (0, t_max = {self.t_max}]")
        out = np.full(self.alphas.size, np.nan)
        for i, th in enumerate(self.t_hit):
            ok = np.isfinite(th)
            if ok.sum() < 2:
                continue
            x, y = th[ok][::-1], np.log(self.m0s[ok])[::-1]  # t_hit increasing
            j = int(np.clip(np.searchsorted(x, t) - 1, 0, x.size - 2))
            slope = (y[j + 1] - y[j]) / (x[j + 1] - x[j]) if x[j + 1] > x[j] else 0.0
            solved = ~np.isnan(th)
            below, above = self.m0s[solved & (th > t)], self.m0s[solved & (th <= t)]
            out[i] = np.clip(math.exp(y[j] + slope * (t - x[j])),
                             below.max(initial=0.0), above.min(initial=1.0))
        return out

    def probability(self, N: int, t: float) -> np.ndarray:
        """Predicted success probability ``2 Phi(-sqrt(N) m0*(alpha; t))`` per alpha."""
        from scipy.special import erfc

        return erfc(math.sqrt(N) * self.m0_star(t) / math.sqrt(2.0))

    def alpha_50(self, N: int, t: float) -> float:
        """The alpha where ``sqrt(N) m0*(alpha; t) = C_MEDIAN`` (``log m0*`` linear in alpha
        between grid points); NaN if the grid does not bracket it."""
        lm = np.log(self.m0_star(t)) - math.log(C_MEDIAN / math.sqrt(N))
        for i in range(lm.size - 1):
            if np.isfinite(lm[i:i + 2]).all() and lm[i] >= 0 > lm[i + 1]:
                w = lm[i] / (lm[i] - lm[i + 1])
                return float(self.alphas[i] + w * (self.alphas[i + 1] - self.alphas[i]))
        return float("nan")


def dmft_success_prediction(alphas: Sequence[float], m0s: Sequence[float], t_max: float,
                            dt: float = 0.01, n_samples: int = 4000, seed: int = 0,
                            loss: str | Loss = "phase_retrieval", scheme: Scheme = "explicit",
                            success_threshold: float = 0.9) -> DmftSuccessPrediction:
    """Run the DMFT (:func:`dmft.solver.solve`, ``n_response=None``) from every ``m0`` and
    record when ``m`` first exceeds ``success_threshold`` (:class:`DmftSuccessPrediction`).

    Each point is solved to ``t_max / 2`` first and, only if ``m`` has not crossed, again
    to ``t_max`` (the cost grows like the square of the horizon: measured 15 s at
    t = 5 and S = 4000 on one core, l_a prox at alpha = 3). ``alphas`` increasing.
    """
    from dmft.solver import solve

    a = _checks.finite_array("alphas", alphas, ndim=1)
    m = _checks.finite_array("m0s", m0s, ndim=1)
    if np.any(np.diff(a) <= 0) or np.any(np.diff(m) <= 0) or not 0 < m[0] <= m[-1] < 1:
        raise ValueError("alphas and m0s must be increasing, with 0 < m0 < 1")
    loss_name = _loss_name(loss, scheme, dt)
    t_hit = np.full((a.size, m.size), np.inf)
    for (i, alpha), (j, m0) in itertools.product(enumerate(a), enumerate(m)):
        for horizon in (t_max / 2, t_max):
            sol = solve(float(alpha), float(m0), horizon, dt=dt, n_samples=n_samples,
                        seed=seed, loss=get_loss(loss_name), n_response=None, scheme=scheme)
            if sol.status != 0:
                raise RuntimeError(f"DMFT failed at alpha={alpha}, m0={m0}: {sol.message}")
            above = sol.m > success_threshold
            if above.any():
                t_hit[i, j] = float(sol.t[np.argmax(above)])
                break
    return DmftSuccessPrediction(alphas=a, m0s=m, t_hit=t_hit, t_max=float(t_max),
                                 dt=float(dt), n_samples=int(n_samples), seed=int(seed),
                                 success_threshold=float(success_threshold),
                                 loss=loss_name, scheme=scheme)


def reference_success(data: str | Path | None = None) -> list[SuccessCurve]:
    """Shipped finite-N success curves (``data/success_N*.npz``, through :mod:`dmft._data`),
    sorted by N; ``data`` names another folder of such files."""
    folder = _data.data_dir() if data is None else Path(data)
    curves = [SuccessCurve.load(p) for p in folder.glob(_data.SUCCESS_GLOB)]
    if not curves:
        raise FileNotFoundError(f"no {_data.SUCCESS_GLOB} in {folder}")
    return sorted(curves, key=lambda c: c.N)
