"""Memory estimates, checked before a large allocation (bottom layer: numpy only).

A run that cannot fit should be refused at once with the estimate and the limit, not die
with a MemoryError (or be killed by the kernel) after minutes of work. The estimates count
the large arrays of each algorithm (the dominant terms, not the small bookkeeping); the
limit is the memory the system reports available now.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

_GIB = 2.0**30


def available_bytes() -> int | None:
    """Memory available to a new allocation, in bytes (None when it cannot be told).

    ``MemAvailable`` of ``/proc/meminfo`` (Linux: free plus reclaimable memory), else the
    free physical pages from ``os.sysconf``.
    """
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def solver_bytes(n_steps: int, n_samples: int, n_groups: int, n_response: int) -> int:
    """Bytes held by the DMFT forward march of :func:`dmft.solver.solve` (float64).

    Per time point ``T = n_steps + 1``: the population fields ``H`` and the orthonormal
    force basis ``Q`` (``T x S`` each), the noise draws (``T x S/2``) and the response
    paths' ``f'`` (``T x n_response``); per sub-population, seven ``T x T`` kernels (C, R,
    its transpose, the perpendicular part of C, M_R, the QR factor of M_C, and one
    working copy) and, when the sub-populations are combined, four more.
    """
    T = float(n_steps) + 1.0
    population = 2.5 * T * n_samples + T * n_response
    kernels = 11.0 * n_groups * T * T
    return int(8.0 * (population + kernels))


def simulation_bytes(N: int, alpha: float, seeds: int, replicas: int, dtype,
                     datasets_at_once: int = 1) -> int:
    """Bytes held by finite-N gradient descent (:func:`dmft.simulate.simulate`).

    Per dataset held at once: the design matrix ``X`` (``M x N``, ``M = round(alpha N)``)
    in ``dtype``; per replica, the pre-activations, forces and loss temporaries (about six
    ``M``-vectors) and the gradient and weights (three ``N``-vectors); the final weights of
    all ``seeds * replicas`` runs in float64. The current simulator draws and holds one
    dataset at a time (``datasets_at_once = 1``).
    """
    item = np.dtype(dtype).itemsize
    M = max(1.0, round(float(alpha) * float(N)))
    per_dataset = item * (M * N + replicas * (6.0 * M + 3.0 * N))
    return int(datasets_at_once * per_dataset + 8.0 * seeds * replicas * N)


def check_fits(what: str, needed: int, advice: str) -> None:
    """Raise ValueError when ``needed`` bytes exceed the memory available now.

    Parameters
    ----------
    what : str
        The computation, for the message (e.g. ``"solve(alpha=6, ...)"``).
    needed : int
        Estimated bytes.
    advice : str
        What to change (e.g. ``"reduce n_samples or t_max/dt"``).
    """
    limit = available_bytes()
    if limit is not None and needed > limit:
        raise ValueError(
            f"{what} needs about {needed / _GIB:.3g} GiB of memory, more than the "
            f"{limit / _GIB:.3g} GiB available (MemAvailable); {advice}"
        )
