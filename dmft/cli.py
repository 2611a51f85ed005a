"""Command-line interface: ``dmft <command> [options]`` (``dmft --help`` lists them).

Every command validates its input (bad values: a message on stderr and exit status 2),
shows a progress bar on stderr for long runs, and prints either a one-line summary or,
with ``--json``, a JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

import numpy as np

from dmft import __version__

Handler = Callable[[argparse.Namespace], int]

# (name, help, add_arguments, handler); each command section below appends its entry.
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]] = []


def _emit_json(payload: dict) -> None:
    """Print ``payload`` as JSON (numpy arrays become lists, NaN becomes null)."""

    def convert(obj):
        if isinstance(obj, dict):
            return {k: convert(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [convert(v) for v in obj]
        if isinstance(obj, np.ndarray):
            return convert(obj.tolist())
        if isinstance(obj, np.generic):
            obj = obj.item()
        if isinstance(obj, float) and not np.isfinite(obj):
            return None
        return obj

    json.dump(convert(payload), sys.stdout)
    sys.stdout.write("\n")


# --- simulate ------------------------------------------------------------------------------


# --- solve ---------------------------------------------------------------------------------


# --- thresholds / spectrum -----------------------------------------------------------------


# --- main ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``dmft`` argument parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="dmft",
        description="DMFT, Hessian spectra and finite-N simulations of spherical gradient "
        "descent in real phase retrieval.",
    )
    parser.add_argument("--version", action="version", version=f"dmft {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, add_arguments, handler in _COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dmft`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"dmft {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
