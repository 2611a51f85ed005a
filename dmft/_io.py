"""Self-describing result files shared by every layer.

A result is one ``.npz`` file: its arrays, plus an entry ``__metadata__`` holding a JSON
document with at least ``kind`` (``"simulation"``, ``"solution"``, ...), ``dmft_version``
and the parameters of the run. Nothing is pickled, so files are portable and safe to load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dmft import __version__

_META_KEY = "__metadata__"


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


def save_npz(path: str | Path, kind: str, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write ``arrays`` and JSON metadata ``meta`` (tagged with ``kind``) to ``path``.

    The suffix ``.npz`` is added when missing. Returns the path written.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz")
    if _META_KEY in arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    header = {"kind": kind, "dmft_version": __version__, **_jsonable(meta)}
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload[_META_KEY] = np.array(json.dumps(header))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **payload)
    return path


def load_npz(path: str | Path, kind: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_npz`; check its ``kind`` when one is given."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no result file at {path}")
    with np.load(path, allow_pickle=False) as data:
        if _META_KEY not in data.files:
            raise ValueError(f"{path} is not a dmft result file (no {_META_KEY} entry)")
        meta = json.loads(str(data[_META_KEY]))
        arrays = {k: data[k] for k in data.files if k != _META_KEY}
    if kind is not None and meta.get("kind") != kind:
        raise ValueError(f"{path} holds a {meta.get('kind')!r} result, expected {kind!r}")
    return arrays, meta
