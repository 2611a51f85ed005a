"""Result files (dmft._io): atomic saves under fault injection, clear errors on bad files."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dmft._io import ResultFileError, dumps_strict, load_npz, save_npz, save_text

_SAVER = """
import sys, numpy as np
from dmft._io import save_npz
big = np.random.default_rng(1).standard_normal(12_000_000)  # ~96 MB, seconds to compress
print("saving", flush=True)
save_npz(sys.argv[1], "test", {"x": big}, {"which": "new"})
print("saved", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_interrupted_save_keeps_the_previous_file(tmp_path, sig):
    """Fault injection: a process killed while it writes a large result over a good file;
    the good file still loads with its content (the new one was a temporary file)."""
    target = tmp_path / "result.npz"
    good = np.arange(10.0)
    save_npz(target, "test", {"x": good}, {"which": "old"})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    # SIG_DFL: a suite run in the background of a non-interactive shell has SIGINT ignored
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(target)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().strip() == "saving"
    before = target.stat().st_mtime_ns
    deadline = time.monotonic() + 30
    while not (list(tmp_path.glob(".result.npz.*.tmp"))  # the write has begun
               or target.stat().st_mtime_ns != before):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    time.sleep(0.2)
    assert proc.poll() is None, "the save finished before the kill: nothing was tested"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert proc.stdout.read().strip() != "saved"
    arrays, meta = load_npz(target, kind="test")
    np.testing.assert_array_equal(arrays["x"], good)
    assert meta["which"] == "old"
    if sig == signal.SIGINT:  # Python unwound: the temporary file was removed
        assert not list(tmp_path.glob(".result.npz.*.tmp"))


def test_save_keeps_permissions_and_leaves_no_temporary(tmp_path):
    path = save_npz(tmp_path / "a", "test", {"x": np.ones(3)}, {})
    assert path.name == "a.npz" and [p.name for p in tmp_path.iterdir()] == ["a.npz"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_text_is_atomic_under_an_interrupt(tmp_path, monkeypatch):
    """save_text (the JSON files of the CLI, demo and benchmarks) shares save_npz's atomic
    write: a Ctrl-C between the write and the rename keeps the old file and no temporary."""
    path = save_text(tmp_path / "r.json", '{"old": 1}')
    assert json.loads(path.read_text()) == {"old": 1}

    def interrupt(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_text(path, '{"new": 2}')
    assert json.loads(path.read_text()) == {"old": 1}
    assert [q.name for q in tmp_path.iterdir()] == ["r.json"]
    monkeypatch.undo()
    assert json.loads(save_text(path, '{"new": 2}').read_text()) == {"new": 2}


def _good(tmp_path) -> Path:
    return save_npz(tmp_path / "good", "test", {"x": np.linspace(0, 1, 5000)}, {"a": 1})


def _flip_byte(path: Path, where: float) -> Path:
    data = bytearray(path.read_bytes())
    i = int(where * len(data))
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("make, why", [
    (lambda d: (d / "e.npz").write_bytes(b"") or d / "e.npz", "empty"),
    (lambda d: _trunc(_good(d)), "truncated or corrupted"),
    (lambda d: _flip_byte(_good(d), 0.5), "truncated or corrupted"),
    (lambda d: d, "is a folder"),
    (lambda d: _text(d), "truncated or corrupted"),
    (lambda d: _bare(d), "bare array"),
    (lambda d: _no_meta(d), "no __metadata__"),
    (lambda d: save_npz(d / "k", "simulation", {"x": np.ones(2)}, {}), "expected 'test'"),
])
def test_bad_files_raise_one_error_type_naming_the_file(tmp_path, make, why):
    path = make(tmp_path)
    with pytest.raises(ResultFileError, match=why) as exc:
        load_npz(path, kind="test")
    assert str(path) in str(exc.value) and isinstance(exc.value, ValueError)


def test_missing_entries_and_newer_version(tmp_path):
    path = save_npz(tmp_path / "f", "test", {"x": np.ones(2)},
                    {"dmft_version": "99.0.0", "a": 1})
    with pytest.raises(ResultFileError, match="lacks y, metadata 'b'"):
        load_npz(path, kind="test", arrays_needed=("x", "y"), meta_needed=("a", "b"))
    with pytest.warns(RuntimeWarning, match="newer"):
        load_npz(path, kind="test")


def test_strict_json():
    """NaN and infinities become null; a strict parser accepts the text."""
    def refuse(name):
        raise ValueError(name)

    text = dumps_strict({"a": math.nan, "b": [np.inf, np.float32(2.5)], "c": np.arange(2)})
    assert json.loads(text, parse_constant=refuse) == {"a": None, "b": [None, 2.5],
                                                       "c": [0, 1]}


def _trunc(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _text(d: Path) -> Path:
    (d / "t.npz").write_text("not a zip file\n")
    return d / "t.npz"


def _bare(d: Path) -> Path:
    with open(d / "b.npz", "wb") as fh:
        np.save(fh, np.ones(3))
    return d / "b.npz"


def _no_meta(d: Path) -> Path:
    np.savez(d / "n.npz", x=np.ones(3))
    return d / "n.npz"
