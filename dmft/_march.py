"""The forward march of one DMFT sub-population (private to :mod:`dmft.solver`, whose
module docstring describes the algorithm): population sampling, the incremental QR
factor of the force history (M_C, D3), the response row (D3, D7) and the step."""

from __future__ import annotations

import math
import os

import numpy as np
from scipy.special import ndtri

from dmft._farfield import FarField, response_row_far
from dmft._kernels import response_row


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
# A force column whose part orthogonal to the basis is below this fraction of its norm adds
# no basis vector (and no noise direction): the dropped part changes M_C(n, n') by at most
# _PIVOT_TOL sqrt(M_C(n, n) M_C(n', n')), far below the Monte Carlo error. The innovations
# of the force history decay geometrically in time, so the basis stays small: measured
# (S = 1e4, dt = 0.02) 73 vectors for 1001 steps at alpha = 3, m0 = 0.1 (644 at the old
# 1e-12), 40 for 501 steps at alpha = 12, m0 = 0; but 450 for 501 at alpha = 10, m0 = 0.1,
# where the forces vanish with the loss and relative innovations stay large.
_PIVOT_TOL = 1e-10
# tangent mode: the odd part is rescaled to |m0| when |m| exceeds this many times |m0|
_TANGENT_SPAN = 1e4


def _qr_append(Q: np.ndarray, Rq: np.ndarray, r: int, n: int, v: np.ndarray) -> int:
    """Append column ``n`` (``v``) to the compact QR factor of the force history.

    On entry ``[v_0 .. v_{n-1}] = Q[:r].T Rq[:r, :n]`` with ``Q[:r]`` orthonormal rows (the
    basis) and ``Rq`` zero below row ``r``. Classical Gram-Schmidt twice (as stable as
    modified Gram-Schmidt), in three passes over ``Q[:r]``: ``c = Q v``; then, tile by tile
    of paths, ``v -= Q^T c`` and the second projection ``c2 = Q v`` of the tile just
    updated, while that tile of ``Q`` is in cache; then ``v -= Q^T c2``. ``v`` is
    overwritten. A residual above ``_PIVOT_TOL`` of the column norm becomes basis vector
    ``r`` (``Rq[r, n]`` its norm); a smaller one is dropped (module constant). Returns the
    new basis size (``r`` or ``r + 1``).
    """
    coeffs = np.zeros(r)
    if r:
        Qr = Q[:r]
        c = Qr @ v
        for i0 in range(0, v.size, _GS_TILE):
            v_tile, Q_tile = v[i0:i0 + _GS_TILE], Qr[:, i0:i0 + _GS_TILE]
            v_tile -= c @ Q_tile
            coeffs += Q_tile @ v_tile
        v -= coeffs @ Qr
        coeffs += c
    norm = float(np.sqrt(v @ v))
    scale = float(np.sqrt(coeffs @ coeffs + norm * norm))
    Rq[:r, n] = coeffs
    if norm > _PIVOT_TOL * scale:
        Rq[r, n] = norm
        np.divide(v, norm, out=Q[r])
        return r + 1
    return r


# default number of sub-populations (3 degrees of freedom for the errors). Not more: each
# group is a DMFT of S / n_groups paths, and where the dynamics is sensitive its bias grows
# as the groups shrink, which the spread between groups does not see (measured, alpha = 3,
# m0 = 0.3, dt = 0.02, S = 4e4, seeds 7-9: m(5) = 0.94, 0.86, 0.94 with 4 groups, 0.80,
# 0.77, 0.78 with 8, sems 0.02-0.08; half of the 5000-path groups stalled at m ~ 0.65)
_RISE_WINDOW = 10  # steps before an energy rise searched for the stiffest path
_ENERGY_RISE = 0.1  # tolerated rise of e(t) above its running minimum, in units of e(0)


def _qr_append_reference(Q, Rq, r, n, v):
    """Reference path of :func:`_qr_append` (the step before issue 15: two full
    classical Gram-Schmidt passes, four reads of Q, one row of ``Q`` per time step, zero
    where the pivot is dropped), kept for the equality test and
    ``benchmarks/bench_solver.py``. Same arguments; returns ``n + 1`` (rows = times)."""
    coeffs = np.zeros(n)
    if n:
        for _ in range(2):
            c = Q[:n] @ v
            v = v - c @ Q[:n]
            coeffs += c
    norm = float(np.sqrt(v @ v))
    Rq[:n, n] = coeffs
    if norm > _PIVOT_TOL * float(np.sqrt(coeffs @ coeffs + norm * norm)):
        Rq[n, n], Q[n] = norm, v / norm
    else:
        Rq[n, n], Q[n] = 0.0, 0.0
    return n + 1


def _advance_h_reference(self, n, f, K, nrm):
    """Reference path of :meth:`_March._advance_h` (before issue 15: temporaries of size
    S, noise by ``np.repeat``); same arguments, to be set on the class."""
    dt, h = self.dt, self.H[n]
    self.Z[n] = _stratified_normal(self.S // 2, self.rng)
    eta = np.repeat(self.Rq[: n + 1, n] @ self.Z[: n + 1], 2)
    memory = dt * (K @ self.H[:n]) if n else 0.0
    grad = self.loc[n] * h + memory + f + self.rho[n] * self.h_star - eta
    self.H[n + 1] = (h - dt * grad) / nrm



class _March:
    """State of the forward march; ``step(n)`` completes time ``t_n`` and advances h."""

    def __init__(self, alpha, m0, dt, n_steps, S, loss, noise, n_resp, rng, response_tol=0.0,
                 tangent=False):
        self.alpha, self.dt, self.loss, self.rng = alpha, dt, loss, rng
        # tangent mode: the odd part (m, pair differences) is rescaled back to |m0| whenever
        # |m| passes _TANGENT_SPAN |m0|; true m = m * exp(log_scale) (:meth:`_rescale_odd`)
        self.m_ref = abs(m0)
        self.m_cap = _TANGENT_SPAN * self.m_ref if tangent else math.inf
        self.log_scale = 0.0
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
        # tangent mode: the basis of the pair-even forces only (module docstring of growth)
        self.tangent = bool(tangent)
        self.Q = np.empty((T, half if tangent else S))
        self.Z = np.empty((T, half))
        self.Rq = np.zeros((T, T))  # rows: basis vectors (pages beyond the basis untouched)
        self.r, self.new_basis = 0, False  # size of the basis of the force history
        self.resp_idx, self.resp_w = _response_subset(y, n_resp, rng)
        self.FP = np.zeros((self.resp_idx.size, T))
        self.far = FarField(T, response_tol) if response_tol > 0 else None
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
        self.rate_max = np.full(T, math.nan)  # M_R^loc + max f': the stiffest local rate

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
        self.rate_max[n] = self.loc[n] + np.max(fp)
        self.e[n] = np.mean(loss.l(h, y))
        # M_C row (D3) through the incremental QR of the force history
        r_old = self.r
        self.r = _qr_append(self.Q, self.Rq, r_old, n, self._noise_column(f))
        self.new_basis = self.r > r_old
        Mrow = self.Rq[: self.r, : n + 1].T @ self.Rq[: self.r, n]
        # M_R regular row (D3) by the adjoint sweep
        self.FP[:, n] = fp[self.resp_idx]
        if n > 0 and self.far is not None:
            self.K[n, :n] = alpha * response_row_far(n, dt, self.RT, self.FP, self.resp_w,
                                                     self.far)
        elif n > 0:
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
        if abs(self.m[n + 1]) > self.m_cap:
            self._rescale_odd(n + 1, self.m_ref / abs(self.m[n + 1]))
        return ""

    def _noise_column(self, f: np.ndarray) -> np.ndarray:
        """The column of the force history whose Gram matrix is M_C (D3): ``sqrt(alpha/S)
        f`` over the paths; in tangent mode ``sqrt(2 alpha/S)`` times the pair means of f.

        The pair mean is the even part of the forces; their odd part is of order m and
        enters M_C only as its square, which the linearisation drops. Keeping it would
        let the odd part steer the basis at first order: the innovations of the even
        forces are often below 1e-8 of their norm, while the odd part of a Gram-Schmidt
        residual is of order m (measured: with it, rescaling at m0 = 1e-6 moved mu by
        7e-6 by t = 0.3, alpha = 8).
        """
        if not self.tangent:
            return np.sqrt(self.alpha / self.S) * f
        return np.sqrt(0.5 * self.alpha / self.S) * (f[0::2] + f[1::2])

    def _rescale_odd(self, k: int, lam: float) -> None:
        """Multiply the part odd in m of the state at times ``<= t_k`` by ``lam``.

        In tangent mode (``solve(tangent=True)``) the population integrates the m = 0 DMFT
        and, in the half-differences of its antithetic pairs, the equations linearised in
        m (:mod:`dmft.growth`). Those are linear and homogeneous in the odd part, so scaling
        all of it (the pair half-differences of ``H``, ``m``, ``rho``) is exact to the
        O(m^2) of the linearisation; ``log_scale`` keeps the product of the scales. The
        even kernels (C, R, M_R, M_C) are untouched (their odd contamination is second
        order) and ``P = C - m m^T`` follows m. The odd part of the stored Gram-Schmidt basis is
        not rescaled; it enters the noise coefficients only through products of two odd
        parts (pair sums of even x odd vanish), i.e. at second order.
        """
        pairs = self.H[: k + 1].reshape(k + 1, -1, 2)
        half_diff = 0.5 * (pairs[..., 0] - pairs[..., 1]) * (lam - 1.0)
        pairs[..., 0] += half_diff
        pairs[..., 1] -= half_diff
        m = self.m[: k + 1]
        # C(t, t) = 1 is the sphere and stays exact (a deviation of C's diagonal grows
        # under the march: measured, alpha = 12, C(t,t) = 0.75 by t = 18 when the rescale
        # went into C); P = C - m m^T takes the O(m^2) change
        self.P[: k + 1, : k + 1] += (1.0 - lam * lam) * np.outer(m, m)
        m *= lam
        self.rho[: k + 1] *= lam
        self.log_scale -= math.log(lam)

    def _advance_h(self, n: int, f: np.ndarray, K: np.ndarray, nrm: float) -> None:
        """h(t_{n+1}) of all paths, in place in ``H[n+1]`` (no temporaries of size S):
        ``(h - dt [M_R^loc h + dt sum_l M_R(n, l) h_l + f + rho h* - eta]) / nrm`` with the
        noise ``eta = sum_k Rq[k, n] z_k`` over the basis vectors ``k`` of the force history,
        shared by the two paths of an antithetic pair. A normal ``z`` is drawn at every step
        and kept as ``Z[k]`` when step n created basis vector ``k`` (the random stream of
        the per-time-step reference path)."""
        dt, h, out = self.dt, self.H[n], self.H[n + 1]
        z = _stratified_normal(self.S // 2, self.rng)
        if self.new_basis:
            self.Z[self.r - 1] = z
        eta = self.Rq[: self.r, n] @ self.Z[: self.r]
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
            # a stable descent step never raises the loss
            return self._energy_rise(n, e_min, math.sqrt(norm2))
        if abs(self.C[n, n] - 1.0) > c_diag_tol:
            return (f"C(t,t) drifted to {self.C[n, n]:.4g} at t={t:.4g} (step {n}), beyond "
                    f"c_diag_tol={c_diag_tol}; reduce dt or raise n_samples")
        return ""

    def _energy_rise(self, n: int, e_min: float, nrm: float) -> str:
        """Failure message for a rise of e(t), saying whether the step or the noise did it.

        A path's linearised step is ``h -> (1 - dt r) h / nrm`` with local rate ``r =
        M_R^loc + f'(h)`` (D3); it oscillates with growing amplitude iff ``dt r - 1 > nrm``
        (the N = inf form of ``eta lambda_max > 2``). When even the stiffest path is inside
        that bound, the explicit step is stable and the rise is Monte Carlo feedback of the
        kernels of a finite sub-population (issue 15: alpha = 3, m0 = 0.3, dt = 0.02, where
        N = 2000 gradient descent with the same step is stable). Measured: alpha = 12,
        dt = 0.04 oscillates (period 2) with dt r - 1 ~ 1.4 > nrm (step).
        """
        t, dt = n * self.dt, self.dt
        rise = (f"the energy rose from {e_min:.4g} to {self.e[n]:.4g} at t={t:.4g} "
                f"(step {n})")
        rates = self.rate_max[max(0, n - _RISE_WINDOW): n + 1]
        k = int(np.argmax(rates))
        over = dt * rates[k] - 1.0
        if over > nrm:
            return (f"{rise}: the step dt={dt} is unstable at alpha={self.alpha:g} "
                    f"(stiffest path: dt (M_R^loc + max f') - 1 = {over:.3g} > |step norm| "
                    f"{nrm:.3g}, like eta lambda_max > 2 at finite N); reduce dt below "
                    f"{(1.0 + nrm) / rates[k]:.3g}")
        return (f"{rise}, with a stable step (stiffest path: dt (M_R^loc + max f') - 1 = "
                f"{over:.3g} <= |step norm| {nrm:.3g}): Monte Carlo feedback of the kernels "
                f"of a sub-population of {self.S} paths, not the step; raise n_samples (or "
                "n_response), or use fewer n_groups")

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
        if self.far is not None:
            self.far.add_column(R[n + 1, : n + 1], n + 1)
