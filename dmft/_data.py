"""Where the shipped reference data lives (``data/`` of the source tree; format:
``data/README.md``).

The top-level ``data/`` folder of the repository is the source of truth. The wheel ships it
as the folder ``dmft/_refdata`` (``pyproject.toml`` maps the resource package
``dmft._refdata`` onto ``data/``), so an installed package reads it through
:mod:`importlib.resources` (``files("dmft") / "_refdata"``: an installed wheel is a plain
folder); run from a checkout without installing, it falls back to the source tree's
``data/``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["data_dir", "data_path", "GROWTH", "BBP_TIMES", "SUCCESS_GLOB"]

GROWTH = "growth_factor.npz"
"""File name of the growth factors G(t; alpha) (T4)."""
BBP_TIMES = "bbp_times.json"
"""File name of t_BBP(alpha) and alpha_BBP_TS (T2, T3)."""
SUCCESS_GLOB = "success_N*.npz"
"""Pattern of the finite-N success curves."""

_SOURCE_DATA = Path(__file__).resolve().parents[1] / "data"


def data_dir() -> Path:
    """Folder holding the reference data: the installed ``dmft._refdata`` if present, else
    the source tree's ``data/``.

    Raises
    ------
    FileNotFoundError
        If neither holds the growth factors (a broken install: reinstall the package).
    """
    installed = resources.files("dmft").joinpath("_refdata")  # a folder of the wheel
    for candidate in (Path(str(installed)), _SOURCE_DATA):
        if (candidate / GROWTH).is_file():
            return candidate
    raise FileNotFoundError(
        f"no reference data: neither the installed dmft._refdata nor {_SOURCE_DATA} holds "
        f"{GROWTH}; reinstall the package (pip install .) or run from a full checkout")


def data_path(name: str) -> Path:
    """Path of one shipped file (e.g. :data:`GROWTH`); FileNotFoundError if it is missing."""
    path = data_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"no reference file {name!r} in {path.parent}; regenerate it "
                                "with benchmarks/reference_data.py")
    return path
