"""Command-line interface: ``dmft <command> [options]`` (``dmft --help`` lists them).

Every command validates its input before computing: bad values, an output path that cannot
be written, a run that would not fit in memory, an unreadable ``--solution`` file all get
one line ``dmft COMMAND: error: ...`` on stderr and exit status 2. Options are spelled as
the Python keywords with ``_`` -> ``-`` (``--N``, ``--n-samples``, ``--t-max``); the old
spellings are refused with a hint, and abbreviations are not accepted. Long runs show a
progress bar on stderr; Ctrl-C stops with one line and exit status 130, after saving the
partial result (status ``"interrupted"``) where ``--out`` was given. Output is a one-line
summary or, with ``--json``, one strict JSON document (NaN and infinities as null).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

import numpy as np

from dmft import __version__, _cli_spectrum
from dmft._cli_support import (
    INTERRUPTED,
    LAST_TIME,
    Command,
    Parser,
    a_argument,
    call_reporting_warnings,
    check_output,
    count_or_all,
    emit_json,
    interrupted,
    loss_a,
    loss_of,
    renamed,
)
from dmft._io import dumps_strict, save_text

# (name, help, add_arguments, handler); each command section below appends its entry; the
# random-matrix commands (thresholds, spectrum) live in :mod:`dmft._cli_spectrum`.
COMMANDS: list[Command] = []
_ORDER = ("simulate", "solve", "thresholds", "spectrum", "validate", "demo", "figures")

# --- simulate ------------------------------------------------------------------------------


def _simulate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alpha", type=float, required=True, help="sample ratio M/N (E1)")
    p.add_argument("--N", type=int, required=True, help="dimension N")
    renamed(p, n="--N")
    p.add_argument(
        "--m0", type=float, default=None, help="initial overlap (default: random start)"
    )
    p.add_argument("--t-max", type=float, default=5.0, help="final time (default 5)")
    p.add_argument("--eta", type=float, default=None,
                   help="step size (default: min(0.01, 0.5/lambda_max) from the Hessian at the "
                   "start, said on stderr)")
    p.add_argument("--seeds", type=int, default=4, help="independent datasets (default 4)")
    p.add_argument("--replicas", type=int, default=1, help="starts per dataset (default 1)")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument(
        "--hessian-every", type=float, default=None, help="time between Hessian snapshots"
    )
    p.add_argument("--k-low", type=int, default=3, help="lowest Hessian eigenvalues kept")
    p.add_argument("--k-high", type=int, default=2, help="highest Hessian eigenvalues kept")
    p.add_argument("--record-every", type=float, default=None, help="time between records")
    p.add_argument("--loss", default="phase_retrieval", help="loss name (default phase_retrieval)")
    a_argument(p)
    p.add_argument("--noise", type=float, default=0.0, help="label-noise variance")
    p.add_argument("--float32", action="store_true", help="work in float32 (faster, less exact)")
    p.add_argument("--out", default=None, help="save the result to this .npz file")
    p.add_argument("--json", action="store_true", help="print a JSON document on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _run_simulate(args: argparse.Namespace, simulate: Callable, dtype, loss) -> object:
    """``simulate`` with the command's options; its warnings go to stderr."""
    return call_reporting_warnings(
        "simulate",
        simulate,
        args.alpha,
        args.N,
        m0=args.m0,
        t_max=args.t_max,
        eta=args.eta,
        seeds=args.seeds,
        replicas=args.replicas,
        seed=args.seed,
        hessian_every=args.hessian_every,
        k_low=args.k_low,
        k_high=args.k_high,
        record_every=args.record_every,
        loss=loss,
        noise=args.noise,
        dtype=dtype,
        progress=not args.no_progress,
    )


def _simulate_handler(args: argparse.Namespace) -> int:
    from dmft.simulate import SimulationInterrupted, simulate

    loss = loss_of(args)
    if args.out:
        check_output("--out", args.out, npz=True)
    dtype = np.float32 if args.float32 else np.float64
    try:
        res = _run_simulate(args, simulate, dtype, loss)
    except SimulationInterrupted as exc:
        res = exc.result
        out = str(res.save(args.out)) if args.out else None
        return interrupted("simulate", float(res.t[-1]) if res.t.size else 0.0, out)
    meta = res.metadata
    if meta.get("eta_chosen_from", "given") != "given":
        print(f"dmft simulate: --eta not given: eta = {meta['eta']:.3g} = min(0.01, "
              f"0.5/lambda_max, 0.25/|mu|, t_max), set by {meta['eta_chosen_from']}; "
              f"lambda_max at the start = {meta['lambda_max_start']:.4g}", file=sys.stderr)
    out = str(res.save(args.out)) if args.out else None
    if args.json:
        payload = {
            "t": res.t,
            "m_mean": res.m_mean,
            "m_sem": res.m_sem,
            "e_mean": res.e_mean,
            "e_sem": res.e_sem,
            "mu_mean": res.mu_mean,
            "mu_sem": res.mu_sem,
            "grad_norm_mean": res.grad_norm_mean,
            "success_rate": res.success_rate,
            "n_runs": res.n_runs,
            "status": res.status,
            "message": res.message,
            "metadata": {**res.metadata, "a": getattr(loss, "a", None)},
        }
        if res.hessian_t.size:
            payload["hessian_t"] = res.hessian_t
            for name in ("hess_low", "hess_low_overlap2", "hess_high"):
                payload[f"{name}_mean"] = res.mean(name)
                payload[f"{name}_sem"] = res.sem(name)
        if out:
            payload["out"] = out
        emit_json(payload)
    else:
        m_end = res.m_mean[-1] if res.t.size else float("nan")
        m_err = res.m_sem[-1] if res.t.size else float("nan")
        e_end = res.e_mean[-1] if res.t.size else float("nan")
        t_end = res.t[-1] if res.t.size else float("nan")
        print(
            f"simulate alpha={args.alpha:g} N={args.N} runs={res.n_runs}: t_end={t_end:g} "
            f"m={m_end:.4f}+-{m_err:.4f} e={e_end:.4g} success_rate={res.success_rate:.3f} "
            f"status={res.status} ({res.message})" + (f" saved to {out}" if out else "")
        )
    return 0 if res.status >= 0 else 1


COMMANDS.append(
    (
        "simulate",
        "finite-N spherical gradient descent (THEORY E1-E5): overlap, energy, multiplier and "
        "optional Hessian extremes (H1) averaged over datasets",
        _simulate_arguments,
        _simulate_handler,
    )
)


# --- solve ---------------------------------------------------------------------------------


def _groups(text: str) -> int | str:
    """``--n-groups`` / ``--n-workers``: an integer or 'auto'."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'auto', got {text!r}") \
            from None


def _solve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alpha", type=float, required=True, help="sample ratio M/N (E1)")
    p.add_argument("--m0", type=float, required=True, help="initial overlap m(0) in (-1, 1)")
    p.add_argument("--t-max", type=float, default=5.0,
                   help=f"final time (default 5); {LAST_TIME}")
    p.add_argument("--dt", type=float, default=0.02, help="time step (default 0.02)")
    p.add_argument("--n-samples", type=int, default=10_000,
                   help="population size S (default 1e4)")
    p.add_argument("--n-response", type=count_or_all, default="auto",
                   help="paths used for the response kernel M_R, 'all', or 'auto' (default: "
                   "all; a subset is faster but biases small groups where the dynamics is "
                   "sensitive)")
    p.add_argument("--scheme", choices=("explicit", "prox"), default="explicit",
                   help="step of the march: 'explicit' projected gradient step (default), "
                   "or 'prox', the step on the Moreau envelope of the loss, stable at "
                   "~10x larger dt for l_a (THEORY E5p)")
    p.add_argument("--n-groups", type=_groups, default="auto",
                   help="independent sub-populations for standard errors, or 'auto' "
                   "(default: 8, i.e. 7 degrees of freedom, when each gets >= 1000 paths, "
                   "else 4; groups of a few hundred paths can blow up from kernel noise)")
    p.add_argument("--n-workers", type=_groups, default="auto",
                   help="threads marching the sub-populations side by side, or 'auto' "
                   "(default: one per usable core, at most --n-groups); the result is the "
                   "same bit for bit for every value")
    p.add_argument("--response-tol", type=float, default=1e-10,
                   help="relative accuracy of the low-rank far field of R in the response "
                   "kernel (default 1e-10; 0: the exact dense kernel)")
    p.add_argument("--tangent", action="store_true",
                   help="the m = 0 DMFT with its equations linearised in m, of scale m0 "
                   "(0 < |m0| <= 1e-6): m is then m0 G(t), the growth factor of T4, rescaled "
                   "internally so that it can grow without bound")
    p.add_argument("--sample-times", type=float, nargs="+", default=None,
                   help="times at which to keep the effective-process samples, for "
                   "`dmft spectrum --solution --times` (default: 0, t_max/2, t_max)")
    renamed(p, samples="--n-samples", response_samples="--n-response",
             groups="--n-groups")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--loss", default="phase_retrieval", help="loss name (default phase_retrieval)")
    a_argument(p)
    p.add_argument("--noise", type=float, default=0.0, help="label-noise variance Delta")
    p.add_argument("--out", default=None, help="save the Solution to this .npz file")
    p.add_argument("--json", action="store_true", help="print a JSON document on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _solve_handler(args: argparse.Namespace) -> int:
    from dmft.solver import solve

    loss = loss_of(args)
    if args.out:
        check_output("--out", args.out, npz=True)
    sol = call_reporting_warnings(
        "solve", solve, args.alpha, args.m0, args.t_max, dt=args.dt, n_samples=args.n_samples,
        seed=args.seed, loss=loss, noise=args.noise, n_response=args.n_response,
        scheme=args.scheme,
        n_groups=args.n_groups, sample_times=args.sample_times, progress=not args.no_progress,
        response_tol=args.response_tol, tangent=args.tangent, n_workers=args.n_workers,
    )
    out = str(sol.save(args.out)) if args.out else None
    if sol.status == "interrupted":
        return interrupted("solve", float(sol.t[-1]), out)
    if args.json:
        payload = {"t": sol.t, "m": sol.m, "m_sem": sol.m_sem, "e": sol.e, "e_sem": sol.e_sem,
                   "mu": sol.mu, "mu_sem": sol.mu_sem, "status": sol.status,
                   "message": sol.message, "c_diag_error": sol.c_diag_error,
                   "metadata": sol.metadata}
        if out:
            payload["out"] = out
        emit_json(payload)
    else:
        print(
            f"solve alpha={args.alpha:g} m0={args.m0:g}: t_end={sol.t[-1]:g} "
            f"m={sol.m[-1]:.4f}+-{sol.m_sem[-1]:.4f} e={sol.e[-1]:.4g}+-{sol.e_sem[-1]:.2g} "
            f"mu={sol.mu[-1]:.4g} status={sol.status} ({sol.message})"
            + (f" saved to {out}" if out else "")
        )
    return 0 if sol.status == 0 else 1


COMMANDS.append(
    (
        "solve",
        "N -> infinity DMFT of spherical gradient flow (THEORY D1-D9): m, e, mu, C, R and "
        "memory kernels with Monte Carlo errors",
        _solve_arguments,
        _solve_handler,
    )
)


# --- validate / demo ------------------------------------------------------------------------


def _validate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alpha", type=float, required=True, help="sample ratio M/N")
    p.add_argument("--N", type=int, required=True, help="dimension N of the finite-N side")
    p.add_argument("--m0", type=float, default=0.3, help="initial overlap (default 0.3)")
    p.add_argument("--t-max", type=float, default=2.0, help="final time (default 2)")
    p.add_argument("--eta", type=float, default=0.01, help="step = DMFT dt (default 0.01)")
    p.add_argument("--seeds", type=int, default=8, help="finite-N datasets (default 8)")
    p.add_argument("--n-samples", type=int, default=10_000,
                   help="DMFT population (default 1e4)")
    renamed(p, n="--N", samples="--n-samples")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--hessian-points", type=int, default=None,
                   help="Hessian snapshots after t = 0 (default 5 for the plain loss, 0 with "
                   "--a: H8 needs an unbounded tail; 0 for none)")
    a_argument(p)
    p.add_argument("--scheme", choices=("explicit", "prox"), default="explicit",
                   help="step of both sides: explicit projected step (default) or 'prox', the "
                   "step on the Moreau envelope (THEORY E5p), stable at ~10x larger eta for l_a")
    p.add_argument("--out", default="dmft-validate", help="output directory")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _validate_handler(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from dmft.losses import get_loss
    from dmft.plotting import plot_validation
    from dmft.validate import validate

    a = loss_a(args)
    loss = get_loss("phase_retrieval", a=a)
    hessian_points = args.hessian_points
    if hessian_points is None:
        hessian_points = 5 if a is None else 0
    out = check_output("--out", args.out, folder=True)
    report = validate(args.alpha, args.N, m0=args.m0, t_max=args.t_max, eta=args.eta,
                      seeds=args.seeds, n_samples=args.n_samples, seed=args.seed,
                      hessian_points=hessian_points, progress=not args.no_progress,
                      loss=loss, scheme=args.scheme)
    out.mkdir(parents=True, exist_ok=True)
    text = dumps_strict(json.loads(report.to_json()))
    save_text(out / "validation.json", text)
    plot_validation(report).savefig(out / "validation.png", dpi=120)
    if args.json:
        sys.stdout.write(text + "\n")
    else:
        worst = ", ".join(f"{k}={v:.2f}" for k, v in report.worst_z.items())
        hess = ", ".join(f"{k}={v:.1f}" for k, v in report.hessian_worst_z.items())
        print(f"validate alpha={args.alpha:g} N={args.N} m0={args.m0:g}: worst |z| {worst}; "
              f"Hessian (H8 vs Lanczos, in finite-N s.e.) {hess or 'not computed'}; "
              f"report in {out}/validation.json and validation.png")
    return 0


COMMANDS.append(
    (
        "validate",
        "DMFT vs finite-N gradient descent with matched parameters: JSON report and figure "
        "of m, e, mu with standard errors and standardised differences",
        _validate_arguments,
        _validate_handler,
    )
)


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="dmft-demo", help="output directory (default ./dmft-demo)")
    p.add_argument("--quick", action="store_true", help="smaller populations, shorter times")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--a", type=float, default=None, metavar="A",
                   help="normalised loss l_a = (h^2 - y)^2 / (4 (a + y)) (THEORY E4a), a > 0 "
                   "(default: the paper's a = 0.01); inf: the plain loss, as --plain")
    p.add_argument("--plain", action="store_true",
                   help="the plain quartic loss (THEORY E4) instead of l_a (same as --a inf)")


def _demo_handler(args: argparse.Namespace) -> int:
    from dmft.demo import A_DEMO, format_summary, run_demo

    a = A_DEMO if args.a is None else loss_a(args)  # checked; None: --a inf, the plain loss
    if args.plain and a is not None:
        if args.a is not None:
            raise ValueError(f"--plain and --a {args.a:g} contradict each other: give one "
                             "(--plain is --a inf)")
        a = None
    check_output("--out", args.out, folder=True)
    summary = run_demo(args.out, quick=args.quick, progress=not args.no_progress, a=a)
    print(format_summary(summary, args.out))
    return 0


COMMANDS.append(
    (
        "demo",
        "the paper's story on built-in defaults, on l_a at a = 0.01 (--plain: the plain "
        "loss): alpha_BBP_init, the t = 0 Hessian outlier vs finite N, DMFT trajectories with "
        "the BBP margin and t_BBP, DMFT vs finite N, shipped success data, figures",
        _demo_arguments,
        _demo_handler,
    )
)


def _figures_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="dmft-figures",
                   help="output directory (default ./dmft-figures)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes (seconds instead of minutes) for (b), (c), (e)")
    a_argument(p)


def _figures_handler(args: argparse.Namespace) -> int:
    from dmft.figures import make_figures

    if loss_a(args) is not None:
        raise ValueError("--a: dmft figures draws (a)-(e) for the plain loss and the l_a "
                         "figures at the paper's a = 0.01 only (b_densities_la0.01.png, "
                         "phase_diagram_alpha_a.png, ...); omit --a")
    check_output("--out", args.out, folder=True)
    for path in make_figures(args.out, quick=args.quick):
        print(path)
    return 0


COMMANDS.append(
    (
        "figures",
        "figures (a)-(e): phase diagram, Hessian densities vs finite N, DMFT vs finite N, "
        "success probability, outlier and edge along time; for l_a at a = 0.01: (b), the "
        "(a, alpha) phase diagram and (a) when its data are shipped (PNG files in --out)",
        _figures_arguments,
        _figures_handler,
    )
)


# --- main ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``dmft`` argument parser with one sub-parser per command."""
    parser = Parser(
        prog="dmft",
        description="DMFT, Hessian spectra and finite-N simulations of spherical gradient "
        "descent in real phase retrieval. Equation tags (E1, D3, H6, T1, ...) refer to "
        "docs/THEORY.md of the repository.",
    )
    parser.add_argument("--version", action="version", version=f"dmft {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands = sorted(COMMANDS + _cli_spectrum.COMMANDS, key=lambda c: _ORDER.index(c[0]))
    for name, help_text, add_arguments, handler in commands:
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
        status = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows up here, inside the handler below
        return status
    except BrokenPipeError:
        # the reader went away (``| head``): as the Python docs recommend, point stdout at
        # devnull so that the flush at exit does not raise again, and stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"dmft {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
            PermissionError) as exc:
        print(f"dmft {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
