"""Throughput of the finite-N simulator (dmft.simulate) against the memory-bandwidth bound.

One gradient-descent step (E5) streams X (M x N) twice: ``H = X W^T`` and ``G^T = F^T X``.
The bound is ``2 * X.nbytes / bandwidth``, with the bandwidth measured here by a large numpy
copy (STREAM "copy" convention: bytes read + bytes written per second).

Run: ``python benchmarks/bench_simulate.py [--n 1000 2000 4000] [--alpha 8] [--float32]
[--blas-threads 1]``.
Prints a table; targets: K = 1 within 2x of the bound, K = 16 at least 5x more replica-steps
per second than K = 1. Timings on a shared machine are noisy: the best of several repeats
is reported.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

if "--blas-threads" in sys.argv:  # must be set before numpy loads OpenBLAS
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--blas-threads") + 1]
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"]

import numpy as np  # noqa: E402

from dmft.losses import get_loss  # noqa: E402
from dmft.simulate import Problem, _Block, make_problem  # noqa: E402


def measure_bandwidth(nbytes: int = 1 << 29, repeats: int = 5) -> float:
    """Best copy bandwidth in bytes/s (read + write) for arrays of ``nbytes`` bytes."""
    a = np.ones(nbytes // 8)
    b = np.empty_like(a)
    np.copyto(b, a)  # touch pages
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.nbytes / best


def measure_gemm_flops(dtype=np.float64, n: int = 2000, repeats: int = 3) -> float:
    """Best square GEMM rate in flop/s (the machine's compute peak, all BLAS threads)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    a @ a
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def time_steps(prob: Problem, K: int, min_time: float = 1.0, repeats: int = 3) -> float:
    """Best seconds per gradient-descent step (evaluate + update) for K replicas."""
    sub = Problem(
        X=prob.X,
        y=prob.y,
        w_star=prob.w_star,
        W0=prob.W0[:K].copy(),
        alpha=prob.alpha,
        N=prob.N,
        M=prob.M,
    )
    block = _Block(sub, get_loss("phase_retrieval"))
    _, _, mu, _ = block.evaluate()
    block.step(1e-3, mu, False)  # warm-up
    t0 = time.perf_counter()
    block.evaluate()
    per = max(time.perf_counter() - t0, 1e-6)
    n = max(3, int(min_time / per))
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            _, _, mu, _ = block.evaluate()
            block.step(1e-3, mu, False)
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 2000, 4000])
    parser.add_argument("--alpha", type=float, default=8.0)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--float32", action="store_true", help="also time float32")
    parser.add_argument(
        "--blas-threads",
        default=None,
        help="OPENBLAS_NUM_THREADS for this run (1 is much faster on a shared, busy machine)",
    )
    args = parser.parse_args()

    bw = measure_bandwidth()
    flops = {np.dtype(dt).name: measure_gemm_flops(dt) for dt in (np.float64, np.float32)}
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"memory bandwidth (numpy copy, read+write): {bw / 1e9:.1f} GB/s; square GEMM "
        f"{flops['float64'] / 1e9:.0f} GFLOP/s float64, {flops['float32'] / 1e9:.0f} float32; "
        f"cpus={os.cpu_count()} OPENBLAS_NUM_THREADS={threads} load(1 min)={load:.1f}"
    )
    print(
        "bound ms: 2 passes over X at that bandwidth; flop ms: 4 M N K flops at the square-GEMM "
        "rate; a step cannot beat the larger of the two"
    )
    dtypes = [np.float64] + ([np.float32] if args.float32 else [])
    header = (
        f"{'N':>6} {'M':>7} {'dtype':>7} {'K':>3} {'ms/step':>9} {'steps/s':>9} "
        f"{'repl-steps/s':>13} {'bound ms':>9} {'flop ms':>8} {'x bound':>8} {'K-gain':>7}"
    )
    print(header)
    print("-" * len(header))
    for N in args.n:
        for dt in dtypes:
            prob = make_problem(args.alpha, N, m0=0.1, seed=0, replicas=max(args.k), dtype=dt)
            bound = 2 * prob.X.nbytes / bw
            base = None
            for K in args.k:
                sec = time_steps(prob, K)
                rate = K / sec
                base = rate if base is None else base
                flop_ms = 4 * prob.M * N * K / flops[np.dtype(dt).name] * 1e3
                print(
                    f"{N:>6} {prob.M:>7} {np.dtype(dt).name:>7} {K:>3} {sec * 1e3:>9.2f} "
                    f"{1 / sec:>9.1f} {rate:>13.1f} {bound * 1e3:>9.2f} {flop_ms:>8.2f} "
                    f"{sec / bound:>8.2f} {rate / base:>7.1f}",
                    flush=True,
                )
            del prob


if __name__ == "__main__":
    main()
