"""Benchmark of the DMFT solver and of its response kernel (issue 15).

One run prints, side by side, the far-field response kernel (``dmft._farfield``, the
default ``solve(response_tol=1e-10)``), the exact blocked kernel
(``dmft._kernels.response_row``, ``response_tol=0``) and the scalar adjoint sweep both
replace (``response_row_reference``, kept as the reference path):

1. the machine's DGEMM rate (2000 x 2000 ``matmul``, 1 and 2 BLAS threads, threadpoolctl);
2. the kernel alone over a whole march: the rows ``n = 1 .. T-1`` on synthetic inputs
   (causal decaying R, heavy-tailed f'), the response paths split into the solver's
   ``n_groups`` groups; every ``stride``-th row is timed and the sum scaled by ``stride``.
   Rates count ``S_R n^2`` flops per row (the multiply-adds of D3's back-substitution,
   twice);
3. ``dmft.solver.solve`` with each kernel and each march (``dmft._march.response_row``,
   and for the ``reference`` march ``_qr_append`` and ``_March._advance_h``, the
   pre-issue-15 four-pass Gram-Schmidt and path update, monkeypatched in a fresh
   subprocess per run, so the peak memory is its own): wall time, time inside the kernel,
   peak resident memory. The default cases are those of the README table; with
   ``--issue`` also the cases of issue 15 (T = 250, 1000, 2000, 5000: pick variants, the
   dense kernels at T = 5000 take hours); ``--cases`` picks cases by label and
   ``--variants`` the kernel/march pairs;
4. the time of a deliberately naive reference for the response kernel M_R: the forward
   Volterra recursion of THEORY D3, ``chi(t,s) = -R(t,s) f'(s) - int R(t,tau) f'(tau)
   chi(tau,s) dtau``, storing the whole per-sample matrix chi and using every path, in
   plain Python loops, timed on a few paths and scaled linearly in S.

Run: ``python benchmarks/bench_solver.py [--quick] [--issue] [--stride K] [--no-kernel]
[--cases readme-1000 issue-a] [--variants blocked/fast blocked/reference]``. The load
average is printed: the machine is shared, and two BLAS threads on a loaded 2-core machine
are much slower than one (THEORY section 6).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from dmft._farfield import response_row_far
from dmft._kernels import response_row, response_row_reference
from dmft._lockstep import workers as lockstep_workers
from dmft._march import _advance_h_reference, _qr_append_reference

KERNELS = {"blocked": response_row, "reference": response_row_reference,
           "far": response_row_far}
# response_tol of solve per kernel: the far field (1e-10, the default) or the exact dense
# kernels (0)
RESPONSE_TOL = {"blocked": 0.0, "reference": 0.0, "far": 1e-10}
# (label, alpha, m0, dt, n_steps, n_samples, n_response)
README_CASES = [(f"readme-{T}", 3.0, 0.3, 0.01, T, S, 2_000)
                for S, T in [(2_000, 200), (10_000, 500), (10_000, 1_000)]]
ISSUE_CASES = [("issue-a", 3.0, 0.1, 0.02, 250, 98_568, 20_000),
               ("issue-b", 3.0, 0.1, 0.02, 1_000, 10_000, 2_000),
               ("issue-T2000", 3.0, 0.1, 0.02, 2_000, 10_000, 2_000),
               ("issue-T5000", 3.0, 0.1, 0.02, 5_000, 10_000, 2_000)]
# kernel / march pairs of the solver table: "fast" is the current march, "reference" the
# march before issue 15 (four-pass Gram-Schmidt, path update with temporaries)
# (a third field fixes n_groups, e.g. "blocked/fast/4", default 4; a fourth the marching
# threads, e.g. "far/fast/4/1", default the solver's "auto": one per usable core)
VARIANTS = ["far/fast/4", "far/fast/4/1", "blocked/fast/4/1", "blocked/reference/4/1",
            "reference/reference/4/1"]


def _child(case: list, variant: str) -> None:
    """Run one solve with the given kernel/march and print its timings as JSON."""
    import resource

    import dmft._march as march_module
    import dmft.solver as solver_module

    kernel, march, *rest = variant.split("/")
    n_groups = int(rest[0]) if rest else None
    n_workers = int(rest[1]) if len(rest) > 1 else "auto"
    if march == "reference":
        march_module._qr_append = _qr_append_reference
        march_module._March._advance_h = _advance_h_reference
    _, alpha, m0, dt, n_steps, S, S_R = case
    spent = {"response": 0.0}

    def timed(*args):
        t0 = time.perf_counter()
        out = KERNELS[kernel](*args)
        spent["response"] += time.perf_counter() - t0
        return out

    if kernel == "far":
        march_module.response_row_far = timed
    else:
        march_module.response_row = timed
    tol = RESPONSE_TOL[kernel]
    solver_module.solve(3.0, 0.3, 4 * dt, dt=dt, n_samples=400, seed=0)  # compile first
    spent["response"] = 0.0
    t0 = time.perf_counter()
    sol = solver_module.solve(alpha, m0, n_steps * dt, dt=dt, n_samples=S, n_response=S_R,
                              seed=0, n_groups=n_groups or 4, response_tol=tol,
                              n_workers=n_workers)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = lockstep_workers(n_workers, sol.metadata["n_groups"])  # the solver's count
    print(json.dumps({"wall": wall, "response": spent["response"], "peak_mb": peak_mb,
                      "workers": workers,
                      "n_response": sol.metadata["n_response"], "status": sol.status,
                      "m_end": float(sol.m[-1]), "groups": sol.metadata["n_groups"]}))


def dgemm_rate(threads: int, size: int = 2000) -> float:
    """GFLOP/s of a ``size`` x ``size`` matmul with ``threads`` BLAS threads (best of 3)."""
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(size, size)), rng.normal(size=(size, size))
    best = np.inf
    with threadpool_limits(limits=threads, user_api="blas"):
        for _ in range(3):
            t0 = time.perf_counter()
            A @ B
            best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


def synthetic_inputs(S_R: int, T: int, seed: int = 0):
    """``RT`` (causal, unit diagonal, decaying in k - j), heavy-tailed ``FP``, weights."""
    rng = np.random.default_rng(seed)
    lag = np.arange(T)[None, :] - np.arange(T)[:, None]
    RT = np.where(lag >= 0, np.exp(-0.02 * lag) * rng.uniform(0.5, 1.0, (T, T)), 0.0)
    np.fill_diagonal(RT, 1.0)
    FP = 2.0 * rng.standard_t(2.5, (S_R, T))
    return RT, FP, np.full(S_R, 1.0 / S_R)


def kernel_march(kernel, S_R: int, T: int, n_groups: int = 4, stride: int = 1,
                 blas_threads: int = 1, **kw) -> tuple[float, float]:
    """(seconds, flops) of the rows ``n = 1 .. T-1`` of ``kernel``, as the solver calls it.

    The ``S_R`` paths are split into ``n_groups`` groups (one call per group and row, as in
    the solver); every ``stride``-th row is timed and its time counted ``stride`` times.
    """
    RT, FP, w = synthetic_inputs(S_R // n_groups, T)
    n_chunks = max(1, 4 * (os.cpu_count() or 1))
    kernel(min(T - 1, 200), 0.02, RT, FP, w, n_chunks, **kw)  # compile / warm up
    seconds = 0.0
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        for first in range(1, T, stride):
            rows = min(stride, T - first)
            n = first + (rows - 1) // 2  # the middle row of the window stands for all of it
            t0 = time.perf_counter()
            for _ in range(n_groups):
                kernel(n, 0.02, RT, FP, w, n_chunks, **kw)
            seconds += (time.perf_counter() - t0) * rows
    flops = float(S_R) * sum(n * n for n in range(1, T))
    return seconds, flops


def naive_response_rows(R: list, FP: list, dt: float) -> np.ndarray:
    """Naive M_R/alpha: forward D3 recursion per path with the full chi matrix stored.

    ``R`` (T x T) and ``FP`` (S x T) are nested lists (plain Python loops throughout).
    """
    S, T = len(FP), len(FP[0])
    K = np.zeros((T, T))
    for a in range(S):
        chi = [[0.0] * T for _ in range(T)]
        for n in range(1, T):
            for j in range(n):
                acc = R[n][j] * FP[a][j]
                for k in range(j + 1, n):
                    acc += dt * R[n][k] * FP[a][k] * chi[k][j]
                chi[n][j] = -acc
                K[n, j] += FP[a][n] * chi[n][j] / S
    return K


def _naive_seconds(S: int, T: int, paths: int = 2) -> float:
    rng = np.random.default_rng(0)
    R = np.tril(rng.uniform(0.5, 1.0, (T, T))).tolist()
    FP = rng.normal(2.0, 3.0, (paths, T)).tolist()
    t0 = time.perf_counter()
    naive_response_rows(R, FP, 0.01)
    return (time.perf_counter() - t0) * S / paths


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_kernel_table(S_R: int, T: int, stride: int) -> None:
    """DGEMM rates, then the kernel over a march: reference vs blocked, and block sizes."""
    print(f"# {_load()}")
    rates = {k: dgemm_rate(k) for k in (1, 2)}
    print(f"DGEMM 2000^3: {rates[1]:.1f} GFLOP/s (1 BLAS thread), "
          f"{rates[2]:.1f} GFLOP/s (2 threads)")
    print(f"\nkernel alone, rows n = 1..{T - 1}, S_R = {S_R} in 4 groups, every {stride}-th "
          "row timed")
    print("blocked B/L: blocks of B steps split in halves down to L-step numba triangles")
    print(f"{'kernel':>24} {'seconds':>9} {'GFLOP/s':>8} {'/DGEMM(1)':>10} {'speed-up':>9}")
    runs = [("reference (numba)", response_row_reference, 1, {}),
            ("blocked 128/32, 1 BLAS", response_row, 1, {}),
            ("blocked 128/32, 2 BLAS", response_row, 2, {})]
    runs += [(f"blocked {b}/{leaf}, 1 BLAS", response_row, 1, {"block": b, "leaf": leaf})
             for b, leaf in ((64, 64), (128, 128), (64, 16))]
    ref_seconds = None
    for label, kernel, threads, kw in runs:
        sec, flops = kernel_march(kernel, S_R, T, stride=stride, blas_threads=threads, **kw)
        ref_seconds = ref_seconds or sec
        rate = flops / sec / 1e9
        print(f"{label:>24} {sec:>9.2f} {rate:>8.1f} {rate / rates[1]:>10.2f} "
              f"{ref_seconds / sec:>8.1f}x", flush=True)
    print(f"# {_load()}")


def print_solver_table(cases: list, naive: bool, variants: list) -> None:
    """``solve`` with each kernel/march pair, one fresh subprocess per run."""
    print(f"\n{'case':>11} {'S':>7} {'T':>6} {'S_R':>6} {'kernel/march/G/W':>20} {'G':>2} "
          f"{'wall s':>8} "
          f"{'kernel s':>9} {'rest s':>7} {'peak MB':>8} {'m(T)':>7}"
          + ("  naive M_R s" if naive else ""))
    for case in cases:
        label, _, _, _, T, S, _ = case
        for variant in variants:
            out = subprocess.run([sys.executable, __file__, "--child", json.dumps(case),
                                  variant], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            extra = ""
            if naive and variant.startswith("reference"):
                extra = f" {_naive_seconds(S, min(T, 200)) * (T / min(T, 200)) ** 3:>12.0f}"
            print(f"{label:>11} {S:>7} {T:>6} {r['n_response']:>6} {variant:>20} {r['groups']:>2} "
                  f"{r['wall']:>8.1f} {r['response']:>9.1f} "
                  f"{r['wall'] - r['response'] / r['workers']:>7.1f} {r['peak_mb']:>8.0f} "
                  f"{r['m_end']:>7.4f}{extra}  ({_load()})", flush=True)
    if naive:
        print("naive: plain-loop D3 on all S paths, timed on 2 paths (and T <= 200, scaled as "
              "T^3) then scaled linearly in S")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small kernel march and only the smallest solver case")
    parser.add_argument("--issue", action="store_true", help="also the two cases of issue 15")
    parser.add_argument("--stride", type=int, default=5,
                        help="time every K-th row of the kernel march (1: all rows)")
    parser.add_argument("--no-solver", action="store_true", help="kernel tables only")
    parser.add_argument("--no-kernel", action="store_true", help="solver table only")
    parser.add_argument("--cases", nargs="+", metavar="LABEL",
                        help="solver cases by label: "
                        + ", ".join(c[0] for c in README_CASES + ISSUE_CASES))
    parser.add_argument("--variants", nargs="+", default=VARIANTS,
                        help="kernel/march[/n_groups[/n_workers]] of the solver table, kernel in "
                        f"{list(KERNELS)}, march in ['fast', 'reference']")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child[0]), args.child[1])
        return
    if not args.no_kernel:
        print_kernel_table(500 if args.quick else 2_000, 300 if args.quick else 1_000,
                           args.stride)
    if not args.no_solver:
        cases = README_CASES[:1] if args.quick else README_CASES
        cases = cases + (ISSUE_CASES if args.issue else [])
        if args.cases:
            known = {c[0]: c for c in README_CASES + ISSUE_CASES}
            unknown = sorted(set(args.cases) - set(known))
            if unknown:
                parser.error(f"unknown case labels {unknown}; known: {sorted(known)}")
            cases = [known[label] for label in args.cases]
        print(f"# {_load()}")
        print_solver_table(cases, naive="reference/reference" in args.variants,
                           variants=args.variants)
        print(f"# {_load()}")


if __name__ == "__main__":
    main()
