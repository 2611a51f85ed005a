"""Self-describing result files and strict JSON, shared by every layer.

A result is one ``.npz`` file: its arrays, plus an entry ``__metadata__`` holding a JSON
document with at least ``kind`` (``"simulation"``, ``"solution"``, ...), ``dmft_version``
and the parameters of the run. Nothing is pickled, so files are portable and safe to load.

Saving is atomic: the file is written under a temporary name in the same folder, flushed
to disk, then renamed over the target (``os.replace``), so an interrupted save (Ctrl-C,
SIGTERM, SIGKILL, a full disk) leaves the previous file intact. Loading turns every way a
file can be broken (empty, truncated, corrupted, an entry missing, a folder, another kind)
into one :class:`ResultFileError` that names the file and what is wrong.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from dmft import __version__

__all__ = ["ResultFileError", "dumps_strict", "load_npz", "save_npz", "save_text", "strict"]

_META_KEY = "__metadata__"


class ResultFileError(ValueError):
    """A result file that cannot be read: the message names the file and the defect."""


def strict(value: Any) -> Any:
    """``value`` with numpy types as Python ones and NaN/inf as None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_strict(value: Any, **kwargs) -> str:
    """JSON text that a strict parser accepts (RFC 8259: NaN and infinities become null)."""
    return json.dumps(strict(value), allow_nan=False, **kwargs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _npz_path(path: str | Path) -> Path:
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_suffix(path.suffix + ".npz")


def save_npz(path: str | Path, kind: str, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write ``arrays`` and JSON metadata ``meta`` (tagged with ``kind``) to ``path``.

    The suffix ``.npz`` is added when missing. The write is atomic (module docstring): a
    previous file at ``path`` survives any interruption. Returns the path written.
    """
    path = _npz_path(path)
    if _META_KEY in arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    header = {"kind": kind, "dmft_version": __version__, **_jsonable(meta)}
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload[_META_KEY] = np.array(json.dumps(header))  # NaN kept: read back by load_npz
    return _atomic_write(path, lambda fh: np.savez_compressed(fh, **payload))


def save_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, as :func:`save_npz` writes its files:
    a previous file at ``path`` survives any interruption. Returns the path written."""
    return _atomic_write(Path(path), lambda fh: fh.write(text.encode("utf-8")))


def _atomic_write(path: Path, write) -> Path:
    """Call ``write(binary file)`` on a temporary file beside ``path``, flush it to disk,
    then rename it over ``path`` (module docstring); the temporary file is removed on any
    failure or interruption."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for p in str(text).split("."):
        digits = "".join(c for c in p if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ResultFileError(f"{path} holds a bare array, not a dmft result file")
        with data:
            if _META_KEY not in data.files:
                raise ResultFileError(
                    f"{path} is not a dmft result file (no {_META_KEY} entry)")
            meta = json.loads(str(data[_META_KEY]))
            arrays = {k: data[k] for k in data.files if k != _META_KEY}
    except ResultFileError:
        raise
    except IsADirectoryError:
        raise ResultFileError(f"{path} is a folder, not a result file") from None
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"{path}: its metadata is not valid JSON ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, ValueError) as exc:
        if path.stat().st_size == 0:
            raise ResultFileError(f"{path} is empty, not a dmft result file") from None
        raise ResultFileError(f"{path} is not a readable dmft result file (truncated or "
                              f"corrupted? {type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict):
        raise ResultFileError(f"{path}: its metadata is not a JSON object")
    return arrays, meta


def load_npz(path: str | Path, kind: str | None = None, arrays_needed=(),
             meta_needed=()) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_npz`.

    Checks its ``kind`` when one is given and that the named arrays and metadata entries
    are present. Warns (RuntimeWarning) when the file was written by a newer dmft.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ResultFileError
        Anything else that makes the file unusable (a ValueError naming the file).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no result file at {path}")
    arrays, meta = _read(path)
    if kind is not None and meta.get("kind") != kind:
        raise ResultFileError(f"{path} holds a {meta.get('kind')!r} result, expected {kind!r}")
    missing = [a for a in arrays_needed if a not in arrays]
    missing += [f"metadata {k!r}" for k in meta_needed if k not in meta]
    if missing:
        raise ResultFileError(f"{path} lacks {', '.join(missing)} (incomplete result file)")
    version = meta.get("dmft_version")
    if version is not None and _version_tuple(version) > _version_tuple(__version__):
        warnings.warn(f"{path} was written by dmft {version}, newer than this dmft "
                      f"{__version__}; it is read as if it were current", RuntimeWarning,
                      stacklevel=2)
    return arrays, meta
