"""Shared pieces of the ``dmft`` command line (:mod:`dmft.cli`): the parser class (no
abbreviations, one-line errors, old option spellings refused with a hint), output-path
checks done before any work, strict JSON output, the ``--a`` option of the normalised loss,
and the one-line report of an interrupted run."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from dmft._io import dumps_strict

Handler = Callable[[argparse.Namespace], int]
Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]
"""(name, help, add_arguments, handler) of one ``dmft`` command."""

INTERRUPTED = 130  # exit status after Ctrl-C (128 + SIGINT), as shells report it
LAST_TIME = ("the run ends at n_steps * dt with n_steps = ceil(t_max / dt) (ratio taken to "
              "a relative 1e-9), so at t_max or just after")


class Parser(argparse.ArgumentParser):
    """No abbreviations; a usage error is one line ``PROG: error: ...`` and exit 2."""

    def __init__(self, *args, **kwargs):
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Renamed(argparse.Action):
    """An old option spelling: refused with the new one."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is now spelled {self.new}: use {self.new}")


def renamed(p: argparse.ArgumentParser, **old_to_new: str) -> None:
    """Refuse old spellings, e.g. ``renamed(p, n="--N")`` for ``--n``."""
    for old, new in old_to_new.items():
        p.add_argument("--" + old.replace("_", "-"), action=Renamed, new=new,
                       dest=f"_renamed_{old}")


def emit_json(payload: dict) -> None:
    """Print ``payload`` as strict JSON (numpy arrays become lists, NaN and inf null)."""
    sys.stdout.write(dumps_strict(payload) + "\n")


def check_output(option: str, path: str | Path, folder: bool = False,
                 npz: bool = False) -> Path:
    """Check before any work that ``path`` can be written; raise ValueError if not.

    Parameters
    ----------
    option : str
        The option that gave the path (for the message), e.g. ``"--out"``.
    path : str or Path
        A file (or with ``folder=True`` a folder) to be written; missing parent folders
        are fine (they will be made) as long as the nearest existing one is a writable
        folder.
    npz : bool
        The file gets the suffix ``.npz`` when missing (as :func:`dmft._io.save_npz`).

    Returns
    -------
    Path
        The path that will be written.
    """
    p = Path(path)
    if npz and p.suffix != ".npz":
        p = p.with_suffix(p.suffix + ".npz")
    if p.exists() and p.is_dir() != folder:
        what = "is a folder; give a file name" if p.is_dir() else "is a file, not a folder"
        raise ValueError(f"{option} {path}: {p} {what}")
    if not folder and p.name in ("", ".", ".."):
        raise ValueError(f"{option} {path}: give a file name, not a folder")
    if p.exists() and not folder and not os.access(p, os.W_OK):
        raise ValueError(f"{option} {path}: {p} is read-only")
    base = p if folder else p.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"{option} {path}: {base} is a file, not a folder")
    try:  # the only sure test of permission (read-only mounts, /proc, ACLs)
        fd, probe = tempfile.mkstemp(dir=base, prefix=".dmft-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot write in {base} ({exc.strerror})") from None
    return p


def interrupted(command: str, t_end: float, out: str | None) -> int:
    """One line on stderr for a run stopped by Ctrl-C; exit status 130."""
    kept = f"; partial result (status 'interrupted') saved to {out}" if out else ""
    print(f"dmft {command}: interrupted at t={t_end:g}{kept}", file=sys.stderr)
    return INTERRUPTED


def call_reporting_warnings(command: str, fn: Callable, *args, **kwargs):
    """Call ``fn``; print its RuntimeWarnings (e.g. an early stop) on stderr, not lost."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        result = fn(*args, **kwargs)
    for w in caught:
        print(f"dmft {command}: warning: {w.message}", file=sys.stderr)
    return result


def a_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--a", type=float, default=None, metavar="A",
                   help="normalised loss l_a = (h^2 - y)^2 / (4 (a + y)) (THEORY E4a), a > 0; "
                   "inf is the plain loss (default: the plain loss E4); needs --loss "
                   "phase_retrieval. l_a is stiff: the step must shrink about like a")


def loss_of(args: argparse.Namespace):
    """The loss of ``--loss`` and ``--a`` (ValueError for a <= 0, NaN, or another loss)."""
    from dmft.losses import get_loss

    return args.loss if args.a is None else get_loss(args.loss, a=args.a)


def loss_a(args: argparse.Namespace) -> float | None:
    """``--a`` checked (ValueError, exit 2, for a <= 0 or NaN); None for the plain loss."""
    from dmft.losses import get_loss

    return None if args.a is None else get_loss("phase_retrieval", a=args.a).a


def refuse_a(args: argparse.Namespace, command: str, why: str) -> None:
    """Refuse a finite ``--a`` on a command whose code path has no l_a yet (never ignore it)."""
    if loss_a(args) is not None:
        raise ValueError(f"--a: {command} does not support the normalised loss l_a yet ({why}); "
                         "omit --a (or give --a inf) for the plain loss")


def count_or_all(text: str) -> int | str | None:
    """An option value that is a count, ``all`` (None: every path) or ``auto`` (kept)."""
    if text.strip().lower() == "all":
        return None
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        msg = f"expected a count, 'all' or 'auto', got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def save_plot(path: str, function: str, *plot_args) -> str:
    """Draw with ``dmft.plotting.<function>(*plot_args)`` and save to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from dmft import plotting

    getattr(plotting, function)(*plot_args).savefig(path, dpi=110)
    return path


