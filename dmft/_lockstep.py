"""Lockstep march of the DMFT sub-populations on threads (private to :mod:`dmft.solver`).

The sub-populations of :func:`dmft.solver.solve` are independent DMFTs with their own
random streams, so one thread per core can march its share of them: numpy's large-array
loops, BLAS (held at one thread per product, process-wide) and the ``nogil`` numba kernels
of :mod:`dmft._kernels` release the GIL. The result does not depend on the thread count,
bit for bit. A barrier at the end of every step keeps the threads within one step, the
first failure in (step, group) order is the one reported, and Ctrl-C in the main thread
stops every thread after its current step with the completed steps kept.
"""

from __future__ import annotations

import os
import threading

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from dmft import _checks

# environment variable that caps the threads of n_workers="auto" (set by dmft.sweeps in the
# processes of its own pool, so that processes x threads do not exceed the cores)
THREADS_ENV = "DMFT_NUM_THREADS"


def workers(n_workers, n_groups: int) -> int:
    """Validated thread count of the march, at most ``n_groups``.

    ``"auto"``: the integer in the environment variable ``DMFT_NUM_THREADS`` when it is set,
    else the usable cores.
    """
    if isinstance(n_workers, str):
        if n_workers != "auto":
            raise ValueError(f"n_workers must be a positive integer or 'auto', got "
                             f"{n_workers!r}")
        cap = os.environ.get(THREADS_ENV)
        if cap is None:
            return max(1, min(n_groups, usable_cores()))
        try:
            capped = int(cap)
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {cap!r}") from None
        return min(n_groups, _checks.integer(THREADS_ENV, capped, 1))
    return min(n_groups, _checks.integer("n_workers", n_workers, 1))


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_ERRSTATE = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}  # the checks catch them


class _Lockstep:
    """What the marching threads share: a barrier at the end of every step, the last step
    still needed and the failures.

    The barrier keeps the threads within one step of each other (so a Ctrl-C keeps all but
    at most the last step of every group). A failure at step ``n`` (group ``g``) makes
    every step beyond ``n`` unnecessary; steps up to ``n`` of the other groups still run, so
    that the reported failure, the first in (step, group) order, and ``min(n_done)`` are
    those of the one-thread lockstep march. A thread that leaves early breaks the barrier
    (the others then march on without it, up to ``stop_at``).
    """

    def __init__(self, n_steps: int, n_threads: int):
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(n_threads)
        self.stop_at = n_steps
        self.failures: list[tuple[int, int, str]] = []
        self.error: BaseException | None = None
        self.interrupted = False

    def interrupt(self) -> None:
        """Ctrl-C: every thread stops after its current step."""
        self.stop_at, self.interrupted = -1, True
        self.barrier.abort()

    def fail(self, n: int, g: int, message: str) -> None:
        with self.lock:
            self.failures.append((n, g, message))
            self.stop_at = min(self.stop_at, n)
        self.barrier.abort()

    def crash(self, exc: BaseException) -> None:
        with self.lock:
            self.error, self.stop_at = exc, -1
        self.barrier.abort()

    def step_done(self) -> None:
        """Wait for the other threads to finish the same step (not after a break)."""
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            pass

    def first_failure(self) -> str:
        return min(self.failures)[2] if self.failures else ""


def _march_groups(marches, groups, n_steps, c_diag_tol, state: _Lockstep) -> None:
    """March the sub-populations ``groups`` (ascending indices) step by step (one thread)."""
    try:
        with np.errstate(**_ERRSTATE):  # numpy's error state is per thread
            for n in range(n_steps + 1):
                for g in groups:
                    if n > state.stop_at:
                        return
                    failure = marches[g].step(n, c_diag_tol)
                    if failure:
                        state.fail(n, g, failure)
                        return
                state.step_done()
    except KeyboardInterrupt:  # raised inside a step (a real Ctrl-C reaches the main thread)
        state.interrupt()
    except BaseException as exc:  # noqa: BLE001 - re-raised by the main thread
        state.crash(exc)


def march_all(marches, n_steps, c_diag_tol, alpha, progress, n_workers) -> tuple[str, bool]:
    """March the sub-populations in lockstep on ``n_workers`` threads; (failure, interrupted?).

    Each thread marches every ``n_workers``-th group (independent DMFTs with their own
    random streams), so the result does not depend on ``n_workers``, bit for bit. The
    main thread only waits, draws the progress bar and catches Ctrl-C, after which the
    threads stop at the end of their current step and the completed steps are kept.
    """
    n_threads = min(n_workers, len(marches))
    state = _Lockstep(n_steps, n_threads)
    workers = [threading.Thread(target=_march_groups, daemon=True, name=f"dmft-march-{w}",
                                args=(marches, range(w, len(marches), n_threads), n_steps,
                                      c_diag_tol, state))
               for w in range(n_threads)]
    bar = tqdm(total=n_steps, desc=f"DMFT alpha={alpha:g}", disable=not progress, leave=False)
    # the per-step products are small: one BLAS thread is much faster (measured 45x under
    # load) and leaves the cores to the marching threads (the limit is process-wide)
    with bar, threadpool_limits(limits=1, user_api="blas"):
        try:  # a Ctrl-C can come while the threads start (Thread.start waits for them)
            for worker in workers:
                worker.start()
            _wait(workers, marches, bar, n_steps)
        except KeyboardInterrupt:
            state.interrupt()
            for worker in workers:
                if worker.ident is not None:  # started
                    worker.join()
    if state.error is not None and not state.interrupted:
        raise state.error
    n_done = min(mc.n_done for mc in marches)
    if state.interrupted:
        if n_done == 0:
            raise KeyboardInterrupt
        return f"interrupted (KeyboardInterrupt) at t={(n_done - 1) * marches[0].dt:.4g}", True
    return state.first_failure(), False


def _wait(workers, marches, bar, n_steps) -> None:
    """Join the marching threads, advancing the progress bar to the slowest group."""
    while any(worker.is_alive() for worker in workers):
        next(w for w in workers if w.is_alive()).join(0.2)
        done = min(n_steps, max(0, min(mc.n_done for mc in marches) - 1))
        bar.update(done - bar.n)
