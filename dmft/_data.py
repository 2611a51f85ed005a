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

__all__ = ["data_dir", "data_path", "GROWTH", "GROWTH_LONG", "BBP_TIMES", "SUCCESS_GLOB",
           "per_a_file", "reference_a_values", "shipped_path", "check_file_a"]

GROWTH = "growth_factor.npz"
"""File name of the growth factors G(t; alpha) (T4)."""
GROWTH_LONG = "growth_factor_t100.npz"
"""File name of the growth factors to t = 100 (tangent mode, issue 15; plain loss)."""
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


def per_a_file(stem: str, suffix: str, a: float | None) -> str:
    """File name of a shipped reference for ``a``: ``<stem><suffix>`` for the plain loss,
    ``<stem>_la<a:g><suffix>`` for l_a (``data/README.md``)."""
    return f"{stem}{suffix}" if a is None else f"{stem}_la{float(a):g}{suffix}"


def reference_a_values(stem: str, suffix: str) -> list[float]:
    """The values of a for which ``data/<stem>_la<a><suffix>`` is shipped, sorted."""
    found = []
    for p in data_dir().glob(f"{stem}_la*{suffix}"):
        try:
            found.append(float(p.name[len(stem) + 3:-len(suffix)]))
        except ValueError:
            continue
    return sorted(found)


def shipped_path(stem: str, suffix: str, a: float | None) -> Path:
    """Path of the shipped reference for ``a`` (None: the plain loss; ``a`` already checked
    by the caller, e.g. ``dmft.growth._loss_a``).

    Raises
    ------
    FileNotFoundError
        If none is shipped for this a; the message names the a values that are.
    """
    if a is None:
        return data_path(per_a_file(stem, suffix, None))
    path = data_dir() / per_a_file(stem, suffix, a)
    if not path.is_file():
        have = ", ".join(f"{x:g}" for x in reference_a_values(stem, suffix)) or "none"
        raise FileNotFoundError(
            f"no shipped {stem}{suffix} for the normalised loss at a = {a:g} ({path.name}); "
            f"shipped a values: {have} (or a=None for the plain loss). Compute it with "
            f"benchmarks/reference_data.py --a {a:g}")
    return path


def check_file_a(path: str | Path, file_a: float | None, a: float | None, what: str) -> None:
    """Refuse a reference file (``path``, holding ``what`` of l_a at ``file_a``; None: the
    plain loss) read as the values of ``a``: ValueError naming both."""
    if a is not None and (file_a is None or abs(file_a - a) > 1e-12 * abs(a)):
        raise ValueError(f"{path} holds the {what} of a = {file_a}, not a = {a:g}")
