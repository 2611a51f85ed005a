"""Sweeps (dmft.sweeps): a real dask.distributed cluster gives the serial numbers; the disk
cache is keyed by the parameters and by the code, so it goes stale when either changes."""

from __future__ import annotations

import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from dmft import sweeps
from dmft.growth import GrowthFactor, growth_factor


def _growth_point(alpha: float, **params) -> dict[str, np.ndarray]:
    """A tiny but real point: the tangent DMFT growth factor (solver, numba, RNG)."""
    g: GrowthFactor = growth_factor(alpha, **params)
    return {"t": g.t, "G": g.G, "G_sem": g.G_sem}


TINY = {"t_max": 0.2, "dt": 0.02, "n_samples": 200, "seed": 3}


def test_dask_local_cluster_matches_serial(tmp_path):
    """The same sweep on a dask LocalCluster (a real scheduler and worker) and in-process:
    identical arrays (the solver is deterministic given its seed)."""
    distributed = pytest.importorskip("dask.distributed")
    serial = [_growth_point(a, **TINY) for a in (4.0, 8.0)]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = sweeps.sweep(_growth_point, [4.0, 8.0], executor=client, progress=False,
                              **TINY)
    for s, r in zip(serial, remote, strict=True):
        for key in ("t", "G", "G_sem"):
            np.testing.assert_array_equal(s[key], r[key])
    assert not np.array_equal(remote[0]["G"], remote[1]["G"])  # two different points


def _load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


POINT_SRC = '''
import numpy as np

CALLS = []


def point(alpha, scale=1.0):
    CALLS.append(alpha)
    return {{"y": np.array(scale * alpha + {offset})}}
'''


def test_cache_is_keyed_by_parameters_and_code(tmp_path, monkeypatch):
    """Same code and parameters: read from disk. Other parameters, an edited point
    function (its source file changes) or another package hash: computed again."""
    src = tmp_path / "toy_point.py"
    src.write_text(POINT_SRC.format(offset=0.0))
    mod = _load_module(src, "toy_point")
    cache = tmp_path / "cache"
    kw = {"executor": ThreadPoolExecutor(1), "cache_dir": cache, "progress": False}
    first = sweeps.sweep(mod.point, [4.0, 5.0], scale=2.0, **kw)
    again = sweeps.sweep(mod.point, [4.0, 5.0], scale=2.0, **kw)
    assert mod.CALLS == [4.0, 5.0]  # the second sweep read both points from disk
    assert [float(p["y"]) for p in again] == [float(p["y"]) for p in first] == [8.0, 10.0]
    sweeps.sweep(mod.point, [4.0], scale=3.0, **kw)  # new parameters
    assert mod.CALLS == [4.0, 5.0, 4.0]
    src.write_text(POINT_SRC.format(offset=1.0))  # the point function's code changes
    edited = _load_module(src, "toy_point")
    assert float(sweeps.sweep(edited.point, [4.0], scale=2.0, **kw)[0]["y"]) == 9.0
    assert edited.CALLS == [4.0]
    monkeypatch.setattr(sweeps, "_package_hash", lambda: "another version of dmft")
    sweeps.sweep(edited.point, [4.0], scale=2.0, **kw)
    assert edited.CALLS == [4.0, 4.0]
    assert len(list(cache.glob("*.npz"))) == 5


def test_package_hash_changes_when_any_module_changes(tmp_path, monkeypatch):
    """Every dmft/*.py enters the package hash (solver, kernels, losses included): on a
    copy of the package, editing one byte of each module in turn changes the hash."""
    import shutil

    copy = tmp_path / "dmft"
    shutil.copytree(sweeps._PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(sweeps, "_PACKAGE", copy)
    names = ("solver.py", "_kernels.py", "losses.py", "growth.py", "sweeps.py")
    hashes = []
    for name in (None, *names):
        if name is not None:
            (copy / name).write_text((copy / name).read_text() + "\n# edited\n")
        sweeps._package_hash.cache_clear()
        hashes.append(sweeps._package_hash())
    sweeps._package_hash.cache_clear()
    assert len(set(hashes)) == len(hashes)


@pytest.mark.parametrize("bad", [[], [0.0], [float("nan")]])
def test_sweep_rejects_bad_alphas(bad):
    with pytest.raises(ValueError):
        sweeps.sweep(_growth_point, bad)


class _Synchronous:
    """An executor that runs each task at submission (as the benchmark scripts' Serial)."""

    def submit(self, fn, *args, **kwargs):
        from concurrent.futures import Future

        fut = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(exc)
        return fut


def test_synchronous_executor_keeps_each_point_before_the_next(tmp_path):
    """With an executor that runs at submission, a point is cached as soon as it is done:
    a failure (or Ctrl-C) at the third alpha keeps the first two (before this fix nothing
    was saved until every point had run: measured, an hour of N = 4000 runs at risk)."""
    src = tmp_path / "failing_point.py"
    src.write_text(POINT_SRC.format(offset=0.0).replace(
        "    CALLS.append(alpha)", "    CALLS.append(alpha)\n"
        "    if alpha > 5.5:\n        raise KeyboardInterrupt"))
    mod = _load_module(src, "failing_point")
    cache = tmp_path / "cache"
    kw = {"executor": _Synchronous(), "cache_dir": cache, "progress": False}
    with pytest.raises(KeyboardInterrupt):
        sweeps.sweep(mod.point, [4.0, 5.0, 6.0], **kw)
    assert len(list(cache.glob("*.npz"))) == 2
    mod.CALLS.clear()
    assert [float(p["y"]) for p in sweeps.sweep(mod.point, [4.0, 5.0], **kw)] == [4.0, 5.0]
    assert mod.CALLS == []  # both read back from the cache


def _march_threads(alpha: float) -> dict[str, np.ndarray]:
    """The thread count solve's n_workers='auto' would use in this process (8 groups)."""
    from dmft import _lockstep

    return {"threads": np.array(_lockstep.workers("auto", 8))}


def test_default_pool_shares_the_cores_between_processes(monkeypatch):
    """Processes x march threads stay within the cores: each process of the default pool
    marches on its share (DMFT_NUM_THREADS), and a value the user set is kept."""
    import os

    from dmft import _lockstep

    monkeypatch.delenv(_lockstep.THREADS_ENV, raising=False)
    cores = os.cpu_count() or 1
    out = sweeps.sweep(_march_threads, [1.0, 2.0], progress=False)
    n_proc = min(2, cores)
    assert [int(r["threads"]) for r in out] == [max(1, cores // n_proc)] * 2
    monkeypatch.setenv(_lockstep.THREADS_ENV, "3")
    out = sweeps.sweep(_march_threads, [1.0], progress=False)
    assert int(out[0]["threads"]) == 3


def test_bad_thread_cap_is_one_clear_error(monkeypatch):
    from dmft import _lockstep

    monkeypatch.setenv(_lockstep.THREADS_ENV, "lots")
    with pytest.raises(ValueError, match="DMFT_NUM_THREADS must be a positive integer"):
        _lockstep.workers("auto", 4)
    monkeypatch.setenv(_lockstep.THREADS_ENV, "0")
    with pytest.raises(ValueError, match="DMFT_NUM_THREADS must be >= 1"):
        _lockstep.workers("auto", 4)
    monkeypatch.setenv(_lockstep.THREADS_ENV, "1")
    assert _lockstep.workers("auto", 4) == 1 and _lockstep.workers(3, 4) == 3
