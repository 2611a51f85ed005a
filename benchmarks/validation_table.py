"""Print the DMFT vs finite-N validation table (the numbers behind the closing notes).

For alpha in {3, 8}, m0 in {0.1, 0.3}: DMFT (dt = eta) and gradient descent at N with
8 datasets, at t in {0.2, 0.5, 1, 2, 3, 5}: values, standard errors and the standardised
difference z. Run: ``python benchmarks/validation_table.py [N]`` (default N = 2000).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_solver_vs_simulation import _compare  # noqa: E402


def main() -> None:
    N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    worst = 0.0
    print(f"{'alpha':>5} {'m0':>4} {'t':>4} {'obs':>3} {'DMFT':>16} {'GD N=' + str(N):>16} "
          f"{'z':>6}")
    for alpha, t_max, eta in ((3.0, 5.0, 0.02), (8.0, 2.0, 0.01)):
        for m0, t, name, d, sd, s, ss, _ in _compare(alpha, N, t_max, eta, seeds=8,
                                                     n_samples=10_000):
            z = (d - s) / np.hypot(sd, ss) if np.hypot(sd, ss) > 0 else 0.0
            worst = max(worst, abs(z))
            print(f"{alpha:>5g} {m0:>4g} {t:>4g} {name:>3} {d:>8.4f}+-{sd:<6.4f} "
                  f"{s:>8.4f}+-{ss:<6.4f} {z:>6.2f}", flush=True)
    print(f"worst |z| = {worst:.2f}")


if __name__ == "__main__":
    main()
