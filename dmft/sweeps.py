"""Sweeps over alpha: any executor, a disk cache keyed by code and parameters, progress.

No physics here. :func:`sweep` evaluates a module-level point function ``func(alpha,
**params)`` (returning a dict of arrays) at every alpha through any executor with
``submit(fn, *args, **kwargs)`` and futures with ``result()``: a local
``concurrent.futures.ProcessPoolExecutor`` (the default, one worker per core, each
with its share of the cores for the DMFT march's threads) or a
``dask.distributed.Client`` (``pip install "dmft[dask]"``), e.g. on a cluster::

    from dask.distributed import Client
    from dmft.growth import alpha_alg

    with Client("tcp://scheduler:8786") as client:
        thr = alpha_alg([1e3, 1e4], alphas=range(4, 13), executor=client,
                        cache_dir="cache/")

Each point is cached as one ``.npz`` file whose name hashes (sha256) the point function's
qualified name, alpha, the parameters and the source code it may depend on
(:func:`code_hash`: every module of the ``dmft`` package plus the file defining ``func``),
so a cached point goes stale as soon as any of them changes.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import numpy as np

from dmft import _checks
from dmft._io import load_npz, save_npz

__all__ = ["sweep", "code_hash", "cache_path"]

_PACKAGE = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def _package_hash() -> str:
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def code_hash(func: Callable) -> str:
    """sha256 of the code a point function may depend on: all ``dmft/*.py`` (read once per
    process) and the source file that defines ``func`` (read at every call, so editing a
    script's point function invalidates its cached points)."""
    h = hashlib.sha256(_package_hash().encode())
    try:
        source = inspect.getsourcefile(func)
    except TypeError:  # builtins, C functions
        source = None
    if source is not None and Path(source).is_file():
        h.update(Path(source).read_bytes())
    else:
        h.update(f"{func.__module__}.{func.__qualname__}".encode())
    return h.hexdigest()


def cache_path(cache_dir: str | Path, func: Callable, alpha: float, params: dict) -> Path:
    """File of the cached point ``func(alpha, **params)`` in ``cache_dir``."""
    name = f"{func.__module__}.{func.__qualname__}"
    key = json.dumps({"f": name, "alpha": float(alpha), "code": code_hash(func), **params},
                     sort_keys=True, default=repr)
    return Path(cache_dir) / f"{func.__name__}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"


def sweep(func: Callable[..., dict[str, np.ndarray]], alphas: Sequence[float],
          executor: Executor | None = None, cache_dir: str | Path | None = None,
          progress: bool = True, desc: str | None = None,
          **params) -> list[dict[str, np.ndarray]]:
    """Evaluate ``func(alpha, **params)`` for every alpha, in parallel, with a disk cache.

    Parameters
    ----------
    func : callable
        A module-level function (picklable) returning a dict of arrays.
    alphas : sequence of float
        Points of the sweep (each must be > 0).
    executor : Executor, optional
        Anything with ``submit(fn, *args, **kwargs)`` returning futures with ``result()``
        (``concurrent.futures`` executors, ``dask.distributed.Client``). Default: a
        ``ProcessPoolExecutor`` with one worker per core, closed afterwards.
    cache_dir : path, optional
        Directory of cached points (created if needed); None disables caching.
    progress : bool
        Show a tqdm bar on stderr over the points still to compute.
    desc : str, optional
        Label of the bar (default: the function's name).
    **params :
        Passed to ``func``; part of the cache key (JSON-serialisable values).

    Returns
    -------
    list of dict
        One result per alpha, in the order of ``alphas``.
    """
    alphas = [_checks.positive("alpha", a) for a in alphas]
    if not alphas:
        raise ValueError("alphas is empty: give at least one sample ratio")
    results: list[dict | None] = [None] * len(alphas)
    todo = []
    for i, a in enumerate(alphas):
        path = cache_path(cache_dir, func, a, params) if cache_dir is not None else None
        if path is not None and path.exists():
            results[i], _ = load_npz(path, kind="sweep-point")
        else:
            todo.append((i, a, path))
    if todo:
        _run(func, todo, results, executor, params, progress, desc or func.__name__)
    return results


def _share_cores(n_proc: int) -> None:
    """Initializer of the default pool's processes: the DMFT march of each uses at most its
    share of the cores (``DMFT_NUM_THREADS``, read by ``dmft._lockstep``; a value the user
    set is kept), so that processes x threads do not exceed the cores."""
    os.environ.setdefault("DMFT_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // n_proc)))


def _run(func, todo, results, executor, params, progress, desc) -> None:
    from tqdm.auto import tqdm

    own = executor is None
    n_proc = min(len(todo), os.cpu_count() or 1)
    pool = ProcessPoolExecutor(max_workers=n_proc, initializer=_share_cores,
                               initargs=(n_proc,)) if own else executor
    bar = tqdm(total=len(todo), desc=desc, unit="point", disable=not progress, file=sys.stderr)
    def collect(i, a, path, fut) -> None:
        results[i] = {k: np.asarray(v) for k, v in fut.result().items()}
        if path is not None:
            save_npz(path, "sweep-point", results[i], {"alpha": a, **params})
        bar.update(1)

    try:
        pending = []
        for i, a, path in todo:
            fut = pool.submit(func, a, **params)
            if fut.done():  # a synchronous executor: keep the point before the next starts
                collect(i, a, path, fut)
            else:
                pending.append((i, a, path, fut))
        for item in pending:
            collect(*item)
    finally:
        bar.close()
        if own:
            pool.shutdown()
