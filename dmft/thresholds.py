"""Thresholds at the random start t = 0 (THEORY.md T1, H6, H8).

At t = 0, m = 0 the outlier condition (H6) on the principal-value branch reads
``S_PV(s) = 1/s + alpha R(s) = 0`` with ``R(s) = Re E[z (1 - g^2)/(1 - z s)]`` (s real < 0,
``s - i0`` prescription), which is linear in alpha: a root exists iff
``alpha >= alpha(s) = -1/(s R(s))`` for some s on the branch. Hence

    alpha_BBP_init = min_{s<0} -1/(s R(s)),   at the root of  d/ds [s R(s)] = R + s R' = 0,

found by a bracketing root finder (brentq) on ``R + s R'``; the expectations are exact in the
radial variable (exponential integrals, principal value + i pi residue) and use the periodic
trapezoid rule in the polar angle (:mod:`dmft._spectral_laws`). The error estimate is the
change under doubling of the number of angular nodes. The root appears as a pair (a
tangency of S_PV), not by leaving an edge; it is checked to lie before the PV turning point
``x_PV'(s) = 0`` of the branch (H4).

Normalised loss l_a (E4a, ``a`` finite): z = (3 h^2 - y)/(a + y) > -1 is bounded below, the
left branch is ``-1 < s < 0`` and the threshold is the smallest alpha with a root of S_PV on
the branch before its H4 turning point (:func:`dmft._quadrature_law.alpha_bbp_init_bounded`):
kind ``"edge"`` (the outlier leaves the hard edge, overlap^2 -> 0; measured for a <= 1) or
``"support"`` (the root enters at ``s = 1/z_min = -1``; a >= 3.16). The error is the change
between two quadrature levels of the exact law (:class:`dmft._quadrature_law.NormalisedLaw`).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import brentq
from tqdm.auto import tqdm

from dmft import _checks
from dmft._quadrature_law import NormalisedLaw, alpha_bbp_init_bounded
from dmft.losses import PHASE_RETRIEVAL, get_loss
from dmft.spectrum import Outlier, WeightLaw

BBPKind = Literal["pair", "edge", "support"]

# quadrature levels (n_nodes, per_decade, n_v) of the l_a law; the last is the result, the
# change from the one before the error (measured at a = 0.01: ~1e-13)
LA_LEVELS: tuple[tuple[int, int, int], ...] = ((160, 6, 250), (240, 10, 400))


@dataclass(frozen=True)
class BBPInit:
    """Result of :func:`alpha_bbp_init`.

    ``alpha``: threshold; ``error``: |difference| between the two finest quadratures;
    ``s``: the s of the outlier at threshold; ``lam``: its Riemannian eigenvalue; ``table``:
    rows ``(n_quad, alpha, s)`` (l_a: ``n_nodes`` of the level); ``before_turn``: whether
    ``s`` lies on the branch, before (or, kind ``"edge"``, at) the PV turning point (H4);
    ``kind``: how the outlier appears: ``"pair"`` (tangency of S_PV, the plain loss),
    ``"edge"`` (it leaves the hard left edge) or ``"support"`` (it enters at ``s = 1/z_min``);
    ``a``: the normalisation of l_a (None: plain loss); ``loss``: the loss name.
    """

    alpha: float
    error: float
    s: float
    lam: float
    table: list[tuple[int, float, float]]
    before_turn: bool
    kind: BBPKind = "pair"
    a: float | None = None
    loss: str = PHASE_RETRIEVAL.name


def _R(law: WeightLaw, s: float) -> tuple[float, float]:
    """``R(s) = Re E[z (1 - g^2)/(1 - z s)]`` and ``R'(s)`` at real s (module docstring)."""
    A, A1, B, B1 = law.expect(np.array([s + 0j]))
    return float((A - B).real[0]), float((A1 - B1).real[0])


def _tangency(n_quad: int, m: float) -> tuple[float, float]:
    law = WeightLaw.gaussian(1.0, m, n_quad=n_quad)

    def dfun(s: float) -> float:
        r, rp = _R(law, s)
        return r + s * rp

    grid = -np.geomspace(1e-3, 3.0, 80)
    vals = np.array([dfun(s) for s in grid])
    alphas = np.array([-1.0 / (s * _R(law, s)[0]) for s in grid])
    ok = alphas > 0
    best = None
    for i in range(grid.size - 1):
        if np.sign(vals[i]) != np.sign(vals[i + 1]) and ok[i] and ok[i + 1]:
            s0 = brentq(dfun, grid[i + 1], grid[i], xtol=1e-15, rtol=1e-14)
            a0 = -1.0 / (s0 * _R(law, s0)[0])
            if a0 > 0 and (best is None or a0 < best[0]):
                best = (a0, s0)
    if best is None:
        raise ValueError("no tangency of S_PV found: alpha_BBP_init cannot be bracketed")
    return best


def _loss_a(a: float | None) -> float | None:
    """``a`` checked (ValueError for a <= 0 or NaN); None for the plain loss (a None or inf)."""
    return None if a is None else get_loss(PHASE_RETRIEVAL.name, a=a).a


def _alpha_bbp_init_normalised(m: float, a: float) -> BBPInit:
    """T1 for l_a: :func:`alpha_bbp_init_bounded` at the levels :data:`LA_LEVELS`."""
    table, res, backend = [], None, None
    for n_nodes, per_decade, n_v in LA_LEVELS:
        backend = NormalisedLaw(a, m, n_nodes=n_nodes, per_decade=per_decade, n_v=n_v)
        res = alpha_bbp_init_bounded(backend)
        table.append((n_nodes, res.alpha, res.s))
    law = WeightLaw(alpha=res.alpha, mu=res.alpha * backend.mean_fh, m=m, kind="normalised",
                    t=0.0, backend=backend)
    pv = law.pv(np.array([res.s]))
    return BBPInit(alpha=res.alpha, error=abs(table[-1][1] - table[-2][1]), s=res.s,
                   lam=float(pv.x[0]) - law.mu, table=table,
                   before_turn=bool(res.kind == "edge" or pv.dx[0] < 0), kind=res.kind, a=a,
                   loss=get_loss(PHASE_RETRIEVAL.name, a=a).name)


def alpha_bbp_init(m: float = 0.0, n_quads: tuple[int, ...] = (64, 128, 256, 512),
                   a: float | None = None) -> BBPInit:
    """T1: smallest alpha with a real root of the outlier condition (H6) at t = 0.

    Parameters
    ----------
    m : overlap of the start (T1 is m = 0).
    n_quads : angular quadrature sizes of the plain loss, increasing; the last two give the
        error estimate (unused for l_a, whose levels are :data:`LA_LEVELS`).
    a : normalisation of the loss l_a (E4a); None or inf: the plain loss (E4).

    Returns
    -------
    BBPInit
        With ``kind`` ``"pair"`` for the plain loss, ``"edge"`` or ``"support"`` for l_a.
    """
    m = _checks.in_range("m", m, -0.999, 0.999)
    a = _loss_a(a)
    if a is not None:
        return _alpha_bbp_init_normalised(m, a)
    table = []
    for nq in n_quads:
        a, s = _tangency(int(nq), m)
        table.append((int(nq), a, s))
    alpha, s = table[-1][1], table[-1][2]
    err = abs(table[-1][1] - table[-2][1]) if len(table) > 1 else math.nan
    law = WeightLaw.gaussian(alpha, m, n_quad=n_quads[-1])
    pv = law.pv(np.array([s]))
    return BBPInit(alpha=alpha, error=err, s=s, lam=float(pv.x[0]) - law.mu, table=table,
                   before_turn=bool(pv.dx[0] < 0))


def outlier_at(alpha: float, m: float = 0.0, n_quad: int = 256,
               a: float | None = None) -> Outlier:
    """Outlier (H6, H7) at t = 0 as a function of alpha (Riemannian eigenvalue); ``a``: the
    normalisation of l_a (E4a, exact quadrature law), None or inf for the plain loss."""
    a = _loss_a(a)
    if a is not None:
        return WeightLaw.normalised(alpha, a, m).outlier()
    return WeightLaw.gaussian(alpha, m, n_quad=n_quad).outlier()


def alpha_overlap_one(m: float = 0.0, n_quad: int = 256, which: str = "pv") -> float:
    """Smallest alpha above alpha_BBP_init where the weight ``(1-m^2)/S'`` drops below 1."""
    a0 = alpha_bbp_init(m, (n_quad // 2, n_quad)).alpha

    def f(a: float) -> float:
        o = outlier_at(a, m, n_quad)
        v = o.overlap2_pv if which == "pv" else o.overlap2
        return 1e6 if not np.isfinite(v) else v - 1.0

    lo, hi = a0 * 1.001, a0 * 1.2
    while f(hi) > 0:
        lo, hi = hi, hi * 1.3
        if hi > 100:
            return math.nan
    return brentq(f, lo, hi, xtol=1e-6)


def _has_separate_peak(alpha: float, m: float, n_quad: int) -> bool:
    law = WeightLaw.gaussian(alpha, m, n_quad=n_quad)
    # independent of the outlier condition: nu_e on a fixed window left of the bulk
    lam = np.linspace(-law.mu - 5.0 * alpha - 5.0, -law.mu + 2.0 * alpha, 300)
    nu = law.signal_measure(lam).nu_e
    rho = law.density(lam).rho
    stop = int(np.argmax(rho))  # look left of the bulk maximum
    v = nu[: stop + 1]
    interior = (v[1:-1] > v[:-2]) & (v[1:-1] > v[2:])
    if not np.any(interior):
        return False
    i = int(np.flatnonzero(interior)[0]) + 1
    # a separate peak: a dip after it before the bulk
    return bool(np.min(v[i:]) < v[i] * 0.999)


def alpha_separate_peak(m: float = 0.0, n_quad: int = 128, lo: float | None = None,
                        hi: float = 20.0, tol: float = 1e-3) -> float:
    """Smallest alpha where nu_e (H5) has a local maximum left of the bulk maximum of rho,
    separated from it by a dip (bisection on a 300-point grid; measured: it lies *below*
    alpha_BBP_init, the broad resonance shows in nu_e before S_PV has a real root)."""
    lo = 1.0 if lo is None else lo
    if _has_separate_peak(lo, m, n_quad):
        return math.nan
    if not _has_separate_peak(hi, m, n_quad):
        return math.nan
    while hi - lo > tol * hi:
        mid = 0.5 * (lo + hi)
        if _has_separate_peak(mid, m, n_quad):
            hi = mid
        else:
            lo = mid
    return hi


def alpha_c(N: int, m: float = 0.0, n_quad: int = 256) -> float:
    """alpha_c(N) of (H8): ``N alpha P(z < 1/s_out) = ln 2`` (outlier lowest half the time)."""
    N = _checks.integer("N", N, 2)
    a0 = alpha_bbp_init(m, (n_quad // 2, n_quad)).alpha

    def f(a: float) -> float:
        law = WeightLaw.gaussian(a, m, n_quad=n_quad)
        root = law.pv_root()
        if not root.found:
            return math.inf
        return math.log(N * a * float(law.cdf(np.array(1.0 / root.s)))) - math.log(math.log(2.0))

    lo, hi = a0 * (1 + 1e-4), 2.0 * a0
    while f(hi) > 0:
        lo, hi = hi, hi * 1.5
        if hi > 200:
            raise ValueError("alpha_c(N) could not be bracketed")
    return brentq(f, lo, hi, xtol=1e-6)


def _summary_normalised(m: float, a: float, separate_peak: bool) -> dict:
    """T1 for l_a as a JSON-ready dictionary (see :func:`thresholds_summary`)."""
    if separate_peak:
        raise ValueError("the separate-peak criterion (--peak) is computed for the plain loss "
                         "only; omit it with --a (l_a has a hard edge and an isolated outlier)")
    b = alpha_bbp_init(m, a=a)
    return {
        "loss": b.loss, "a": b.a, "m": m,
        "alpha_bbp_init": b.alpha,
        "alpha_bbp_init_error": b.error,
        "alpha_bbp_init_kind": b.kind,
        "alpha_bbp_init_table": [list(r) for r in b.table],
        "s_threshold": b.s,
        "lam_threshold": b.lam,
        "alpha_overlap_below_one": None,
        "alpha_c": None,
        "note": "l_a (E4a): z > -1, hard left edge (H4); the outlier is the lowest eigenvalue "
                "as soon as it exists, so alpha_c(N) (H8) and the 1/S' < 1 criterion of the "
                "plain loss's pair threshold do not apply (null)",
    }


def thresholds_summary(m: float = 0.0, Ns: tuple[int, ...] = (500, 1000, 2000, 4000),
                       separate_peak: bool = True, a: float | None = None,
                       progress: bool = False) -> dict:
    """All T1 criteria at t = 0 as a JSON-ready dictionary; ``a``: normalisation of l_a
    (E4a; None or inf: the plain loss). For l_a only alpha_BBP_init (error, kind) is given.
    ``progress``: a bar on stderr over the criteria (the plain loss takes ~20 s on 2 cores)."""
    m = _checks.in_range("m", m, -0.999, 0.999)
    a = _loss_a(a)
    if a is not None:
        return _summary_normalised(m, a, separate_peak)
    steps = [("alpha_bbp_init", lambda: alpha_bbp_init(m)),
             ("alpha_overlap_below_one", lambda: alpha_overlap_one(m))]
    steps += [(f"alpha_c({N})", lambda N=N: alpha_c(N, m)) for N in Ns]
    if separate_peak:
        steps.append(("alpha_separate_peak", lambda: alpha_separate_peak(m)))
    done = {}
    with tqdm(steps, desc="thresholds (T1)", disable=not progress, file=sys.stderr,
              leave=False) as bar:
        for key, compute in bar:
            bar.set_postfix_str(key)
            done[key] = compute()
    b = done["alpha_bbp_init"]
    out = {
        "loss": b.loss, "a": None, "m": m,
        "alpha_bbp_init_kind": b.kind,
        "alpha_bbp_init": b.alpha,
        "alpha_bbp_init_error": b.error,
        "alpha_bbp_init_table": [list(r) for r in b.table],
        "s_tangency": b.s,
        "lam_tangency": b.lam,
        "tangency_before_turn": b.before_turn,
        "alpha_overlap_below_one": done["alpha_overlap_below_one"],
        "alpha_c": {str(N): done[f"alpha_c({N})"] for N in Ns},
    }
    if separate_peak:
        out["alpha_separate_peak"] = done["alpha_separate_peak"]
    return out
