"""Error-controlled low-rank far field of the response for the M_R back-substitution (issue 15).

The regular response row of THEORY D3 at step ``n`` is a back-substitution over the times
``j < n`` with the matrix ``RT[j, k] = R(t_k, t_j)``, ``j < k < n`` (``dmft._kernels``). Its
blocks far from the diagonal have low numerical rank (measured at alpha = 3-12: a block of
64-512 times has rank ~6, 12, 20 at relative accuracy 1e-3, 1e-5, 1e-8), because
``R(t, s)`` is smooth in both times away from ``t = s``.

:class:`FarField` keeps, for the dyadic tree over absolute time indices, each off-diagonal
block ``(rows I = [q s, q s + s/2), columns J = [q s + s/2, (q + 1) s))`` as ``U W`` with
``U`` orthonormal (``s/2 x r``) and ``W`` (``r x s/2``). Columns are appended as they become
final (``R(t_k, .)`` is computed once, at the end of step ``k - 1``) by two classical
Gram-Schmidt passes against ``U``; a residual above ``tol`` times the block's largest column
norm adds a basis vector, so every column of the block is represented to
``tol * max column norm`` (the error is controlled, not assumed). A block whose rank makes
the product dearer than the dense one is used densely: ``tol = 0`` is therefore the exact
dense method.

:func:`response_row_far` is :func:`dmft._kernels.response_row` on that tree: the later
child of a node is solved first, its terms in the earlier child are ``U (W @ chi)``
(``r (s/2 + cols)`` work per path instead of ``(s/2) cols``), and nodes of at most
``dense_size`` times are solved exactly by the dense blocked kernel. Cost per step
``~ S_R n (r log2(n / dense_size) + dense_size)`` instead of ``S_R n^2 / 2``.
"""

from __future__ import annotations

import numpy as np

from dmft._kernels import LEAF, _solve_block

DENSE_SIZE = 128  # nodes of at most this many times are solved by the exact dense kernel


class _Block:
    """One off-diagonal block ``RT[I, J]`` (``h = |I| = |J|``) as ``U[:, :r] W[:r, :cols]``."""

    __slots__ = ("U", "W", "r", "cols", "scale", "dense")

    def __init__(self, h: int, r_max: int):
        self.U = np.empty((h, r_max))
        self.W = np.zeros((r_max, h))
        self.r = self.cols = 0
        self.scale = 0.0  # largest column norm seen
        self.dense = False  # rank too high: use RT itself

    def append(self, a: np.ndarray, tol: float) -> None:
        """Append column ``a`` (``RT[I, k]`` for the next k of J)."""
        c = self.cols
        self.cols += 1
        if self.dense:
            return
        self.scale = max(self.scale, float(np.sqrt(a @ a)))
        U = self.U[:, : self.r]
        w = U.T @ a
        res = a - U @ w
        w2 = U.T @ res  # second pass: classical Gram-Schmidt twice
        res -= U @ w2
        w += w2
        self.W[: self.r, c] = w
        norm = float(np.sqrt(res @ res))
        if norm > tol * self.scale:
            if self.r == self.U.shape[1]:
                self.dense = True
                return
            self.U[:, self.r] = res / norm
            self.W[self.r, c] = norm
            self.r += 1


class FarField:
    """Low-rank factors of the off-diagonal blocks of ``RT`` on the dyadic time tree.

    Parameters
    ----------
    n_times : int
        Number of time points ``T`` (indices ``0 .. T-1``).
    tol : float
        Relative accuracy of every stored column (``>= 0``; 0 keeps the dense method).
    dense_size : int
        Nodes of at most this many times are never compressed.
    """

    def __init__(self, n_times: int, tol: float, dense_size: int | None = None):
        if tol < 0 or not np.isfinite(tol):
            raise ValueError(f"the far-field tolerance must be a number >= 0, got {tol}")
        self.tol = float(tol)
        self.dense_size = DENSE_SIZE if dense_size is None else int(dense_size)
        self.top = 1 << max(1, int(np.ceil(np.log2(max(n_times, 2)))))
        self.blocks: dict[tuple[int, int], _Block] = {}

    def _block(self, s: int, q: int) -> _Block:
        key = (s, q)
        blk = self.blocks.get(key)
        if blk is None:
            h = s // 2
            # beyond rank h/4 the factored product costs more than the dense one
            blk = self.blocks[key] = _Block(h, max(1, h // 4))
            if self.tol == 0.0:
                blk.dense = True
        return blk

    def add_column(self, r_row: np.ndarray, k: int) -> None:
        """Record the final column ``RT[:k, k]``, i.e. the row ``r_row[j] = R(t_k, t_j)``,
        j < k, in every block whose columns contain ``k`` (call once per k, in order)."""
        s = 2 * self.dense_size
        while s <= self.top:
            q, off = divmod(k, s)
            h = s // 2
            if off >= h:
                lo = q * s
                self._block(s, q).append(r_row[lo: lo + h], self.tol)
            s *= 2

    def ranks(self) -> dict[int, list[int]]:
        """{block size s/2: ranks of the compressed blocks (-1 for dense ones)}."""
        out: dict[int, list[int]] = {}
        for (s, _), blk in sorted(self.blocks.items()):
            out.setdefault(s // 2, []).append(-1 if blk.dense else blk.r)
        return out


def _solve_node(n: int, dt: float, lo: int, s: int, RT: np.ndarray, FP: np.ndarray,
                ChiT: np.ndarray, far: FarField) -> None:
    """Finish ``ChiT[lo : min(lo + s, n)]`` (holding the sums over later times)."""
    hi = min(lo + s, n)
    if hi <= lo:
        return
    if s <= far.dense_size:
        _solve_block(n, dt, lo, hi, RT, FP, ChiT, LEAF)
        return
    h = s // 2
    mid = lo + h
    if mid < n:
        _solve_node(n, dt, mid, h, RT, FP, ChiT, far)
        cols = hi - mid
        blk = far.blocks.get((s, lo // s))
        if blk is not None and not blk.dense and blk.cols >= cols and \
                blk.r * (h + cols) < h * cols:
            ChiT[lo:mid] += blk.U[:, : blk.r] @ (blk.W[: blk.r, :cols] @ ChiT[mid:hi])
        else:
            ChiT[lo:mid] += RT[lo:mid, mid:hi] @ ChiT[mid:hi]
    _solve_node(n, dt, lo, h, RT, FP, ChiT, far)


def response_row_far(n: int, dt: float, RT: np.ndarray, FP: np.ndarray, weights: np.ndarray,
                     far: FarField) -> np.ndarray:
    """Row ``E_w[f'(h(t_n)) chi(t_n, t_j)]``, j < n, of the regular response kernel (D3),
    with the far field of ``RT`` from ``far`` (module docstring).

    Same arguments and result as :func:`dmft._kernels.response_row` up to the far-field
    error: every column of a compressed block is exact to ``far.tol`` times the block's
    largest column norm; ``far.tol = 0`` gives the dense method exactly.
    """
    ChiT = np.zeros((n, FP.shape[0]))
    _solve_node(n, dt, 0, far.top, RT, FP, ChiT, far)
    return ChiT @ (weights * FP[:, n])
