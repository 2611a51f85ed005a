"""Benchmark of the DMFT solver: wall time and peak memory of ``dmft.solver.solve``.

Prints one row per (S, T) with the wall time and peak resident memory of ``solve`` (each
configuration in a fresh subprocess, so the peak is its own), the share of the time spent
in the response sweep, and the time of a deliberately naive reference for the response
kernel M_R: the forward Volterra recursion of THEORY D3, ``chi(t,s) = -R(t,s) f'(s) -
int R(t,tau) f'(tau) chi(tau,s) dtau``, storing the whole per-sample matrix chi and using
every path, in plain Python loops. The naive reference is timed on a few paths and scaled
linearly in S (its cost is exactly linear in the number of paths).

Run: ``python benchmarks/bench_solver.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

CONFIGS = [(2_000, 200), (10_000, 500), (10_000, 1_000)]
DT = 0.01


def _child(S: int, T: int) -> None:
    """Run one solve and print its timings as JSON (called in a subprocess)."""
    import resource

    from dmft import _kernels
    from dmft.solver import solve

    spent = {"response": 0.0}
    original = _kernels.response_row

    def timed(*args):
        t0 = time.perf_counter()
        out = original(*args)
        spent["response"] += time.perf_counter() - t0
        return out

    import dmft.solver as solver_module

    solve(3.0, 0.3, 4 * DT, dt=DT, n_samples=400, seed=0)  # compile numba kernels first
    solver_module.response_row = timed
    spent["response"] = 0.0
    t0 = time.perf_counter()
    sol = solve(3.0, 0.3, T * DT, dt=DT, n_samples=S, seed=0)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "response": spent["response"], "peak_mb": peak_mb,
                      "n_response": sol.metadata["n_response"], "status": sol.status}))


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
    naive_response_rows(R, FP, DT)
    return (time.perf_counter() - t0) * S / paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the smallest configuration")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    configs = CONFIGS[:1] if args.quick else CONFIGS
    print(f"{'S':>7} {'T':>6} {'S_R':>6} {'wall s':>8} {'M_R sweep s':>12} {'peak MB':>8} "
          f"{'naive M_R s':>12} {'speed-up':>9}")
    for S, T in configs:
        out = subprocess.run([sys.executable, __file__, "--child", str(S), str(T)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        naive = _naive_seconds(S, min(T, 200)) * (T / min(T, 200)) ** 3
        print(f"{S:>7} {T:>6} {r['n_response']:>6} {r['wall']:>8.1f} {r['response']:>12.1f} "
              f"{r['peak_mb']:>8.0f} {naive:>12.0f} {naive / r['wall']:>8.0f}x", flush=True)
    print("naive: plain-loop D3 on all S paths, timed on 2 paths (and T <= 200, scaled as "
          "T^3) then scaled linearly in S")


if __name__ == "__main__":
    main()
