"""Signal growth factor G(t; alpha) and the finite-N threshold alpha_alg(N) (THEORY T4).

Growth factor (T4)
------------------
``G(t; alpha) = lim_{m0 -> 0+} m(t) / m0``. The DMFT of :mod:`dmft.solver` pairs every path
with its antithetic partner ``h* -> -h*``; at ``m0 -> 0`` the symmetric part of a pair is
the m = 0 DMFT (the kernels are even in m) and half the difference of the pair is exactly
the tangent vector of the equations linearised in m. Running the solver at
``m0 = 1e-10`` therefore integrates the m = 0 DMFT together with its tangent equations: the
drift ``alpha E[f h*]`` is evaluated as ``f'(h) dh h*`` pair by pair, with none of the O(1)
noise that makes differences of independent runs useless at small m0 (THEORY section 6).
For labels even in h* (phase retrieval, l_a) the run is ``solve(tangent=True)``: whenever
``m`` reaches ``1e4 m0`` the odd part of the state (pair differences, m) is scaled back to
``m0``, which is exact for the linear equations, so G can grow without bound (t = 100
above alpha_BBP_TS) while the O(m^2) non-linearity stays below ``1e-12``. The floating-point
resolution of the pair difference is ``~1e-16 / m0 = 1e-6`` relative per step, far below
the Monte Carlo error.

Error bars
----------
The solver's sub-populations are independent DMFTs; :class:`GrowthFactor` keeps their
``log G`` (``log_G_groups``). Under exponential growth (a surviving outlier) the group mean
``G`` is dominated by its fastest group, so ``G_sem / G`` saturates at 1 and says nothing;
:attr:`GrowthFactor.log_G`, :attr:`GrowthFactor.log_G_sem` and :meth:`GrowthFactor.rate`
average ``log G`` and its slopes over the groups instead, with standard errors of
``n_groups - 1`` degrees of freedom. The threshold functions below still use ``log`` of the
group mean, which is all that the shipped ``growth_factor*.npz`` files of t <= 20 keep.

Finite-N threshold (T4)
-----------------------
A uniformly random start has ``m0 = g / sqrt(N)`` with g standard normal (up to O(1/N)).
While the negative outlier exists m grows as ``m0 G(t)``; a run stopped at ``t_max`` escapes
when ``|m0| G_h`` reaches an O(1) overlap ``m_escape`` from which the non-linear DMFT
recovers the signal, with ``G_h = max_{t <= t_max} G(t)``. Hence the predicted success
probability ``P = 2 Phi(-sqrt(N) m_escape / G_h)`` (:func:`predicted_success`) and its 50 %
point, with ``c = median |g| = 0.6745`` (:data:`C_MEDIAN`),

    log G_h(alpha_alg(N)) = (1/2) log N + log(m_escape / c),

a threshold with log N corrections that tends to alpha_BBP_TS as N -> infinity (where G
diverges). The horizon matters: below alpha_BBP_TS, G keeps growing slowly (measured
``d log G / dt ~ 0.05-0.1`` at t = 5-10 for alpha = 7-9), so G_h must be taken at the
``t_max`` of the experiment it is compared with (:func:`threshold_at_horizon`). ``m_escape``
is the one constant left; the finite-N success rates measure it.

Loss and step
-------------
Every function takes ``a`` (None: the plain loss E4; else the normalised loss l_a of E4a,
``get_loss("phase_retrieval", a=a)``) and ``scheme`` (``"explicit"`` or ``"prox"``, as in
:func:`dmft.solver.solve`); records and files carry both. l_a is stiff (THEORY E5a): at
a = 0.01 the explicit step needs dt ~ 1e-3 and the prox step dt <= 0.01 up to alpha ~ 7
(measured: prox dt = 0.02 is refused at alpha = 6, dt = 0.01 at alpha = 8); a = 1 runs
with explicit dt = 0.02. For l_a the solver's default ``n_response="auto"`` uses all paths.

Alpha sweeps go through :func:`dmft.sweeps.sweep` (any executor, cached, with progress).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from dmft import _checks, _data
from dmft._io import load_npz, save_npz
from dmft.losses import Loss, get_loss, labels_even
from dmft.solver import solve
from dmft.sweeps import sweep

__all__ = ["GrowthFactor", "growth_factor", "AlgorithmicThreshold", "alpha_alg",
           "invert_growth", "log_G_horizon", "threshold_at_horizon", "predicted_success",
           "C_MEDIAN", "reference_growth", "write_reference_growth"]

_M0_TANGENT = 1e-10

C_MEDIAN = 0.6744897501960817
"""Median of ``sqrt(N) |m0|`` for a uniformly random start (``m0 ~ g/sqrt(N)``, g standard
normal, up to O(1/N)): the ``c`` at which half of the random starts escape."""

Scheme = Literal["explicit", "prox"]


def loss_for(a: float | None, scheme: str = "explicit") -> str | Loss:
    """The loss of ``a`` (None: the plain loss E4, else l_a of E4a), with ``scheme`` checked
    (``"prox"`` is for l_a only: the plain loss has no backward-Euler point guarantee)."""
    if scheme not in ("explicit", "prox"):
        raise ValueError(f"scheme must be 'explicit' or 'prox', got {scheme!r}")
    if a is None:
        if scheme == "prox":
            raise ValueError("scheme='prox' is for the normalised loss l_a: give a > 0")
        return "phase_retrieval"
    return get_loss("phase_retrieval", a=a)


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
    a : float or None
        Normalisation of l_a (E4a); None for the plain loss (E4).
    scheme : {"explicit", "prox"}
        Step of the DMFT behind it (:func:`dmft.solver.solve`).
    log_G_groups : (n_groups, T) array or None
        ``log G`` of each sub-population (None in files written before it was kept).
        ``G`` is the mean of the group curves; where G grows exponentially that mean is
        dominated by its fastest group (measured: ``G_sem / G`` saturates at 1.0 from
        t ~ 10-50 at alpha = 12-14, plain loss), and :attr:`log_G` / :attr:`log_G_sem`,
        the mean of ``log G`` over the groups and its standard error, are the estimator
        with usable errors.
    """

    alpha: float
    t: np.ndarray
    G: np.ndarray
    G_sem: np.ndarray
    a: float | None = None
    scheme: Scheme = "explicit"
    log_G_groups: np.ndarray | None = None

    @property
    def log_G(self) -> np.ndarray:
        """Mean over the groups of ``log G`` (``log G`` of the group mean when the groups
        are not kept)."""
        if self.log_G_groups is None:
            return np.log(self.G)
        return self.log_G_groups.mean(axis=0)

    @property
    def log_G_sem(self) -> np.ndarray:
        """Standard error of :attr:`log_G`: ``std(ddof=1) / sqrt(n_groups)`` of the group
        ``log G`` (``n_groups - 1`` degrees of freedom); without the groups, the delta
        method ``G_sem / G``."""
        lg = self.log_G_groups
        if lg is None:
            return self.G_sem / self.G
        return lg.std(axis=0, ddof=1) / np.sqrt(lg.shape[0])

    def rate(self, t0: float, t1: float) -> tuple[float, float]:
        """``d log G / dt`` on ``[t0, t1]`` (least squares) and its standard error.

        With the groups kept, the slope is fitted per group and the mean and its standard
        error over the groups are returned (the groups are independent DMFTs, so the error
        includes the whole run-to-run scatter of the rate); without them the slope of
        ``log G`` and NaN for the error.

        Raises
        ------
        ValueError
            If fewer than two time points lie in ``[t0, t1]``.
        """
        w = (self.t >= t0 - 1e-9) & (self.t <= t1 + 1e-9)
        if np.count_nonzero(w) < 2:
            raise ValueError(f"[{t0:g}, {t1:g}] holds fewer than two times of G (known on "
                             f"[{self.t[0]:g}, {self.t[-1]:g}])")
        if self.log_G_groups is None:
            return float(np.polyfit(self.t[w], np.log(self.G[w]), 1)[0]), math.nan
        slopes = np.polyfit(self.t[w], self.log_G_groups[:, w].T, 1)[0]
        return float(slopes.mean()), float(slopes.std(ddof=1) / np.sqrt(slopes.size))

    @property
    def log_G_max(self) -> float:
        """``max_t`` of :attr:`log_G` (the mean over the groups of log G; ``log max_t G``
        when the groups are not kept, the same number for a single curve)."""
        return float(np.max(self.log_G))

    @property
    def log_G_max_sem(self) -> float:
        """Standard error of :attr:`log_G_max`: :attr:`log_G_sem` at the maximum."""
        return float(self.log_G_sem[int(np.argmax(self.log_G))])


def growth_factor(alpha: float, t_max: float = 10.0, dt: float = 0.02,
                  n_samples: int = 8000, seed: int = 0, a: float | None = None,
                  scheme: Scheme = "explicit", **solve_kwargs) -> GrowthFactor:
    """Growth factor from the m = 0 DMFT and its tangent equations (module docstring).

    Parameters
    ----------
    alpha : float
        Sample ratio M/N.
    t_max, dt, n_samples, seed :
        Passed to :func:`dmft.solver.solve` (t_max, dt in GD time units).
    a : float, optional
        Normalisation of l_a (E4a); None: the plain loss (E4), or the ``loss`` keyword.
    scheme : {"explicit", "prox"}
        Step of the DMFT (module docstring: the step l_a needs).
    **solve_kwargs :
        Further options of :func:`dmft.solver.solve` (e.g. ``n_response``, or ``loss`` for
        another loss when ``a`` is None).
    """
    if "loss" in solve_kwargs and (a is not None or scheme != "explicit"):
        raise ValueError("give either loss= (another loss, explicit step) or a=/scheme=, "
                         "not both")
    loss = solve_kwargs.pop("loss", None) or loss_for(a, scheme)
    tangent = labels_even(get_loss(loss))
    sol = solve(alpha, _M0_TANGENT, t_max, dt=dt, n_samples=n_samples, seed=seed, loss=loss,
                scheme=scheme, tangent=tangent, **solve_kwargs)
    if sol.status != 0:
        raise RuntimeError(f"DMFT for the growth factor failed: {sol.message}")
    return GrowthFactor(alpha=float(alpha), t=sol.t, G=sol.m / _M0_TANGENT,
                        G_sem=sol.m_sem / _M0_TANGENT, a=sol.loss.a, scheme=scheme,
                        log_G_groups=_group_logs(sol.m_groups / _M0_TANGENT, alpha))


def _group_logs(G_groups: np.ndarray, alpha: float) -> np.ndarray | None:
    """``log`` of the group curves, or None (with a warning) where a group's G is not
    positive: its log is undefined, and the group mean ``G`` is then the only estimator."""
    if np.all(G_groups > 0):
        return np.log(G_groups)
    warnings.warn(f"alpha = {alpha:g}: a sub-population's G(t) is not positive, so log G is "
                  f"not averaged over the groups (GrowthFactor.log_G falls back to log of "
                  f"the group mean)", RuntimeWarning, stacklevel=3)
    return None


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
    a : float or None
        Normalisation of l_a (E4a); None for the plain loss (E4).
    scheme : {"explicit", "prox"}
        Step of the DMFT behind the sweep.
    """

    N: np.ndarray
    alpha_alg: np.ndarray
    alpha_alg_err: np.ndarray
    alphas: np.ndarray
    log_G_max: np.ndarray
    log_G_max_sem: np.ndarray
    c: float
    m_escape: float
    a: float | None = None
    scheme: Scheme = "explicit"


def alpha_alg(N: Sequence[float], alphas: Sequence[float] = tuple(range(3, 14)),
              c: float = C_MEDIAN, m_escape: float = 0.5, t_max: float = 10.0,
              dt: float = 0.02,
              n_samples: int = 8000, seed: int = 0, executor: Executor | None = None,
              cache_dir: str | Path | None = None, progress: bool = True,
              a: float | None = None, scheme: Scheme = "explicit") -> AlgorithmicThreshold:
    """Finite-N threshold from the growth factor: ``log G_max = log(sqrt(N) m_escape / c)``.

    ``log G_max(alpha)`` is interpolated linearly between the swept alphas (it must be
    increasing there; a warning-free NaN marks N outside the swept range). The alphas run
    through :func:`dmft.sweeps.sweep` (``executor``, ``cache_dir``, ``progress``); ``a`` and
    ``scheme`` choose the loss and the step (module docstring).
    """
    _check_sizes(N)  # before any solve
    _checks.positive("c", c)
    _checks.in_range("m_escape", m_escape, 1e-12, 1.0)
    a = _loss_a(a, scheme)
    params = {"t_max": t_max, "dt": dt, "n_samples": n_samples, "seed": seed, "a": a,
              "scheme": scheme}
    points = sweep(_growth_point, alphas, executor=executor, cache_dir=cache_dir,
                   progress=progress, desc="growth factor", **params)
    lg = np.array([p["log_G_max"] for p in points])
    lg_err = np.array([p["log_G_max_sem"] for p in points])
    thr = invert_growth(N, np.asarray(alphas, dtype=float), lg, lg_err, c, m_escape)
    return dataclasses.replace(thr, a=a, scheme=scheme)


def _loss_a(a: float | None, scheme: str) -> float | None:
    """``a`` checked together with ``scheme`` (inf -> None: the plain loss)."""
    loss = loss_for(a, scheme)
    return loss.a if isinstance(loss, Loss) else None


def _check_sizes(N: Sequence[float]) -> np.ndarray:
    N = np.atleast_1d(np.asarray(N, dtype=float))
    if N.size == 0 or np.any(N < 2) or not np.all(np.isfinite(N)):
        raise ValueError(f"N must be finite and >= 2, got {N.tolist()}")
    return N


def invert_growth(N: Sequence[float], alphas: np.ndarray, log_G_max: np.ndarray,
                  log_G_max_sem: np.ndarray, c: float = C_MEDIAN,
                  m_escape: float = 0.5) -> AlgorithmicThreshold:
    """Solve ``log G_max(alpha) = log(sqrt(N) m_escape / c)`` by linear interpolation.

    The alphas may come in any order: they are sorted together with their values.
    ``log G_max`` must increase between the bracketing alphas; N outside the range of the
    sweep gets NaN rather than an extrapolation.

    Raises
    ------
    ValueError
        If the three arrays differ in shape, an alpha is repeated or not finite.
    """
    N = _check_sizes(N)
    c = _checks.positive("c", c)
    m_escape = _checks.in_range("m_escape", m_escape, 1e-12, 1.0)
    a, lg, lg_err = _sorted_sweep(alphas, log_G_max, log_G_max_sem)
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


def _sorted_sweep(alphas, log_G_max, log_G_max_sem) -> tuple[np.ndarray, ...]:
    a, lg, lg_err = (np.atleast_1d(np.asarray(x, dtype=float))
                     for x in (alphas, log_G_max, log_G_max_sem))
    if not a.ndim == 1 or a.shape != lg.shape or a.shape != lg_err.shape:
        raise ValueError(f"alphas, log_G_max and log_G_max_sem must be 1-d of one length, got "
                         f"shapes {a.shape}, {lg.shape}, {lg_err.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"alphas must be finite, got {a.tolist()}")
    order = np.argsort(a, kind="stable")
    a, lg, lg_err = a[order], lg[order], lg_err[order]
    if np.any(np.diff(a) == 0):
        raise ValueError(f"alphas must be distinct, got {a.tolist()}: merge repeated points")
    return a, lg, lg_err


def log_G_horizon(growth: GrowthFactor, t_max: float) -> tuple[float, float]:
    """``log max_{t <= t_max} G(t)`` and its standard error: the growth available to a run
    stopped at ``t_max`` (below alpha_BBP_TS, G keeps growing slowly, so the horizon of the
    finite-N experiment must be the horizon of G)."""
    if t_max > growth.t[-1] + 1e-9:
        raise ValueError(f"G is known up to t = {growth.t[-1]:g}, asked for t_max = {t_max:g}")
    keep = growth.t <= t_max + 1e-9
    k = int(np.argmax(growth.G[keep]))
    return float(np.log(growth.G[k])), float(growth.G_sem[k] / growth.G[k])


def threshold_at_horizon(N: Sequence[float], growths: Sequence[GrowthFactor], t_max: float,
                         c: float = C_MEDIAN, m_escape: float = 0.5) -> AlgorithmicThreshold:
    """:func:`invert_growth` on ``log max_{t <= t_max} G`` (:func:`log_G_horizon`): the
    alpha_alg(N) of runs stopped at ``t_max``; with ``c = C_MEDIAN`` it is the predicted
    50 % point of the success curve of :func:`predicted_success`. The growth factors must
    share one loss and step (their ``a`` and ``scheme`` are carried over)."""
    kinds = {(g.a, g.scheme) for g in growths}
    if len(kinds) > 1:
        raise ValueError(f"growth factors of different losses/steps (a, scheme) = "
                         f"{sorted(kinds, key=str)}: give those of one loss")
    lg, lg_err = np.array([log_G_horizon(g, t_max) for g in growths]).T
    thr = invert_growth(N, np.array([g.alpha for g in growths]), lg, lg_err, c, m_escape)
    a, scheme = kinds.pop() if kinds else (None, "explicit")
    return dataclasses.replace(thr, a=a, scheme=scheme)


def predicted_success(N: float, growths: Sequence[GrowthFactor], t_max: float,
                      m_escape: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Success probability of random starts predicted by the linear growth (T4).

    A uniformly random start has ``m0 = g/sqrt(N)``; it escapes by ``t_max`` when
    ``|m0| G_h >= m_escape`` with ``G_h = max_{t <= t_max} G(t)``:
    ``P = P(|g| >= sqrt(N) m_escape / G_h) = 2 Phi(-sqrt(N) m_escape / G_h)``.

    Returns
    -------
    alphas, p, p_err : arrays
        One entry per growth factor; ``p_err`` propagates the Monte Carlo error of G.
    """
    from scipy.stats import norm

    N = float(_check_sizes([N])[0])
    m_escape = _checks.in_range("m_escape", m_escape, 1e-12, 1.0)
    a = np.array([g.alpha for g in growths])
    lg, lg_err = np.array([log_G_horizon(g, t_max) for g in growths]).T
    x = np.sqrt(N) * m_escape * np.exp(-lg)
    p = 2 * norm.sf(x)
    return a, p, 2 * norm.pdf(x) * x * lg_err


def _growth_point(alpha: float, **params) -> dict[str, np.ndarray]:
    g = growth_factor(alpha, **params)
    out = {"t": g.t, "G": g.G, "G_sem": g.G_sem, "log_G_max": np.array(g.log_G_max),
           "log_G_max_sem": np.array(g.log_G_max_sem)}
    if g.log_G_groups is not None:
        out["log_G_groups"] = g.log_G_groups
    return out


def reference_growth(path: str | Path | None = None,
                     a: float | None = None) -> list[GrowthFactor]:
    """Growth factors G(t; alpha) shipped with the package (format: ``data/README.md``).

    Plotting and quick looks need no solve; :func:`write_reference_growth` regenerates the
    file (the test suite checks it against the full non-linear DMFT at small m0).

    Parameters
    ----------
    path : path, optional
        Another file of the same format; default: the shipped one for ``a``
        (:mod:`dmft._data`).
    a : float, optional
        Normalisation of l_a (E4a): the shipped ``data/growth_factor_la<a>.npz``; None: the
        plain loss (``data/growth_factor.npz``). With ``path``, the file's own ``a`` must
        match.

    Raises
    ------
    FileNotFoundError
        No shipped file for this ``a`` (the message lists the a values shipped).
    ValueError
        ``path`` holds another loss than ``a``.
    """
    a = _loss_a(a, "explicit")  # checked; inf -> None (the plain loss)
    if path is None:
        path = _data.shipped_path("growth_factor", ".npz", a)
    arrays, meta = load_npz(path, kind="reference-growth")
    file_a, scheme = meta.get("a"), meta.get("scheme", "explicit")  # old files: plain loss
    _data.check_file_a(path, file_a, a, "growth factors")
    groups = arrays.get("log_G_groups")  # (n_alpha, n_groups, T); absent from older files
    return [GrowthFactor(alpha=float(x), t=arrays["t"], G=arrays["G"][i],
                         G_sem=arrays["G_sem"][i], a=file_a, scheme=scheme,
                         log_G_groups=None if groups is None else groups[i])
            for i, x in enumerate(arrays["alphas"])]


def write_reference_growth(path: str | Path,
                           alphas: Sequence[float] = tuple(range(3, 14)), t_max: float = 10.0,
                           dt: float = 0.02, n_samples: int = 8000, every: int = 5,
                           executor: Executor | None = None,
                           cache_dir: str | Path | None = None,
                           progress: bool = True, a: float | None = None,
                           scheme: Scheme = "explicit") -> Path:
    """Compute G(t; alpha) on a sweep and store every ``every``-th time point at ``path``
    (the shipped files are ``data/growth_factor.npz`` and ``data/growth_factor_la<a>.npz``
    of the source tree); ``a`` and ``scheme`` choose the loss and step and are stored in
    the metadata, with the loss's name."""
    a = _loss_a(a, scheme)
    params = {"t_max": t_max, "dt": dt, "n_samples": n_samples, "seed": 0, "a": a,
              "scheme": scheme}
    points = sweep(_growth_point, alphas, executor=executor, cache_dir=cache_dir,
                   progress=progress, desc="growth factor", **params)
    arrays = {"alphas": np.asarray(alphas, dtype=float), "t": points[0]["t"][::every],
              "G": np.array([p["G"][::every] for p in points]),
              "G_sem": np.array([p["G_sem"][::every] for p in points])}
    if all("log_G_groups" in p for p in points):  # old cache entries may lack them
        arrays["log_G_groups"] = np.array([p["log_G_groups"][:, ::every] for p in points])
    loss = loss_for(a, scheme)
    return save_npz(path, "reference-growth", arrays,
                    {**params, "every": every, "m0_tangent": _M0_TANGENT,
                     "loss": loss.name if isinstance(loss, Loss) else loss})
