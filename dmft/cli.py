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
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dmft import __version__
from dmft._io import dumps_strict

Handler = Callable[[argparse.Namespace], int]

# (name, help, add_arguments, handler); each command section below appends its entry.
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]] = []

_INTERRUPTED = 130  # exit status after Ctrl-C (128 + SIGINT), as shells report it
_LAST_TIME = ("the run ends at n_steps * dt with n_steps = ceil(t_max / dt) (ratio taken to "
              "a relative 1e-9), so at t_max or just after")


class _Parser(argparse.ArgumentParser):
    """No abbreviations; a usage error is one line ``PROG: error: ...`` and exit 2."""

    def __init__(self, *args, **kwargs):
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Renamed(argparse.Action):
    """An old option spelling: refused with the new one."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is now spelled {self.new}: use {self.new}")


def _renamed(p: argparse.ArgumentParser, **old_to_new: str) -> None:
    """Refuse old spellings, e.g. ``_renamed(p, n="--N")`` for ``--n``."""
    for old, new in old_to_new.items():
        p.add_argument("--" + old.replace("_", "-"), action=_Renamed, new=new,
                       dest=f"_renamed_{old}")


def _emit_json(payload: dict) -> None:
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


def _interrupted(command: str, t_end: float, out: str | None) -> int:
    """One line on stderr for a run stopped by Ctrl-C; exit status 130."""
    kept = f"; partial result (status 'interrupted') saved to {out}" if out else ""
    print(f"dmft {command}: interrupted at t={t_end:g}{kept}", file=sys.stderr)
    return _INTERRUPTED


def _call_reporting_warnings(command: str, fn: Callable, *args, **kwargs):
    """Call ``fn``; print its RuntimeWarnings (e.g. an early stop) on stderr, not lost."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        result = fn(*args, **kwargs)
    for w in caught:
        print(f"dmft {command}: warning: {w.message}", file=sys.stderr)
    return result


def _a_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--a", type=float, default=None, metavar="A",
                   help="normalised loss l_a = (h^2 - y)^2 / (4 (a + y)) (THEORY E4a), a > 0; "
                   "inf is the plain loss (default: the plain loss E4); needs --loss "
                   "phase_retrieval. l_a is stiff: the step must shrink about like a")


def _loss(args: argparse.Namespace):
    """The loss of ``--loss`` and ``--a`` (ValueError for a <= 0, NaN, or another loss)."""
    from dmft.losses import get_loss

    return args.loss if args.a is None else get_loss(args.loss, a=args.a)


def _loss_a(args: argparse.Namespace) -> float | None:
    """``--a`` checked (ValueError, exit 2, for a <= 0 or NaN); None for the plain loss."""
    from dmft.losses import get_loss

    return None if args.a is None else get_loss("phase_retrieval", a=args.a).a


def _refuse_a(args: argparse.Namespace, command: str, why: str) -> None:
    """Refuse a finite ``--a`` on a command whose code path has no l_a yet (never ignore it)."""
    if _loss_a(args) is not None:
        raise ValueError(f"--a: {command} does not support the normalised loss l_a yet ({why}); "
                         "omit --a (or give --a inf) for the plain loss")


# --- simulate ------------------------------------------------------------------------------


def _simulate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alpha", type=float, required=True, help="sample ratio M/N (E1)")
    p.add_argument("--N", type=int, required=True, help="dimension N")
    _renamed(p, n="--N")
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
    _a_argument(p)
    p.add_argument("--noise", type=float, default=0.0, help="label-noise variance")
    p.add_argument("--float32", action="store_true", help="work in float32 (faster, less exact)")
    p.add_argument("--out", default=None, help="save the result to this .npz file")
    p.add_argument("--json", action="store_true", help="print a JSON document on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _run_simulate(args: argparse.Namespace, simulate: Callable, dtype, loss) -> object:
    """``simulate`` with the command's options; its warnings go to stderr."""
    return _call_reporting_warnings(
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

    loss = _loss(args)
    if args.out:
        check_output("--out", args.out, npz=True)
    dtype = np.float32 if args.float32 else np.float64
    try:
        res = _run_simulate(args, simulate, dtype, loss)
    except SimulationInterrupted as exc:
        res = exc.result
        out = str(res.save(args.out)) if args.out else None
        return _interrupted("simulate", float(res.t[-1]) if res.t.size else 0.0, out)
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
        _emit_json(payload)
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


_COMMANDS.append(
    (
        "simulate",
        "finite-N spherical gradient descent (THEORY E1-E5): overlap, energy, multiplier and "
        "optional Hessian extremes (H1) averaged over datasets",
        _simulate_arguments,
        _simulate_handler,
    )
)


# --- solve ---------------------------------------------------------------------------------


def _count_or_all(text: str) -> int | None:
    """An option value that is a positive count or ``all`` (None: every path)."""
    if text.strip().lower() == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or 'all', got {text!r}") from None


def _solve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alpha", type=float, required=True, help="sample ratio M/N (E1)")
    p.add_argument("--m0", type=float, required=True, help="initial overlap m(0) in (-1, 1)")
    p.add_argument("--t-max", type=float, default=5.0,
                   help=f"final time (default 5); {_LAST_TIME}")
    p.add_argument("--dt", type=float, default=0.02, help="time step (default 0.02)")
    p.add_argument("--n-samples", type=int, default=10_000,
                   help="population size S (default 1e4)")
    p.add_argument("--n-response", type=_count_or_all, default=2000,
                   help="paths used for the response kernel M_R, or 'all' (default 2000; "
                   "use 'all' for l_a, whose response tail no label stratum catches)")
    p.add_argument("--scheme", choices=("explicit", "prox"), default="explicit",
                   help="step of the march: 'explicit' projected gradient step (default), "
                   "or 'prox', the step on the Moreau envelope of the loss, stable at "
                   "~10x larger dt for l_a (THEORY E5p)")
    p.add_argument("--n-groups", type=int, default=4,
                   help="independent sub-populations for standard errors (default 4)")
    p.add_argument("--sample-times", type=float, nargs="+", default=None,
                   help="times at which to keep the effective-process samples, for "
                   "`dmft spectrum --solution --times` (default: 0, t_max/2, t_max)")
    _renamed(p, samples="--n-samples", response_samples="--n-response",
             groups="--n-groups")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--loss", default="phase_retrieval", help="loss name (default phase_retrieval)")
    _a_argument(p)
    p.add_argument("--noise", type=float, default=0.0, help="label-noise variance Delta")
    p.add_argument("--out", default=None, help="save the Solution to this .npz file")
    p.add_argument("--json", action="store_true", help="print a JSON document on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _solve_handler(args: argparse.Namespace) -> int:
    from dmft.solver import solve

    loss = _loss(args)
    if args.out:
        check_output("--out", args.out, npz=True)
    sol = _call_reporting_warnings(
        "solve", solve, args.alpha, args.m0, args.t_max, dt=args.dt, n_samples=args.n_samples,
        seed=args.seed, loss=loss, noise=args.noise, n_response=args.n_response,
        scheme=args.scheme,
        n_groups=args.n_groups, sample_times=args.sample_times, progress=not args.no_progress,
    )
    out = str(sol.save(args.out)) if args.out else None
    if sol.status == "interrupted":
        return _interrupted("solve", float(sol.t[-1]), out)
    if args.json:
        payload = {"t": sol.t, "m": sol.m, "m_sem": sol.m_sem, "e": sol.e, "e_sem": sol.e_sem,
                   "mu": sol.mu, "mu_sem": sol.mu_sem, "status": sol.status,
                   "message": sol.message, "c_diag_error": sol.c_diag_error,
                   "metadata": sol.metadata}
        if out:
            payload["out"] = out
        _emit_json(payload)
    else:
        print(
            f"solve alpha={args.alpha:g} m0={args.m0:g}: t_end={sol.t[-1]:g} "
            f"m={sol.m[-1]:.4f}+-{sol.m_sem[-1]:.4f} e={sol.e[-1]:.4g}+-{sol.e_sem[-1]:.2g} "
            f"mu={sol.mu[-1]:.4g} status={sol.status} ({sol.message})"
            + (f" saved to {out}" if out else "")
        )
    return 0 if sol.status == 0 else 1


_COMMANDS.append(
    (
        "solve",
        "N -> infinity DMFT of spherical gradient flow (THEORY D1-D9): m, e, mu, C, R and "
        "memory kernels with Monte Carlo errors",
        _solve_arguments,
        _solve_handler,
    )
)


# --- thresholds / spectrum -----------------------------------------------------------------


def _thresholds_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--m", type=float, default=0.0, help="overlap of the start (T1: 0)")
    _a_argument(p)
    p.add_argument("--peak", action="store_true",
                   help="also locate where nu_e first shows a separate peak (slow, minutes)")
    p.add_argument("--json", action="store_true", help="print a JSON document on stdout")


def _thresholds_handler(args: argparse.Namespace) -> int:
    from dmft.thresholds import thresholds_summary

    a = _loss_a(args)
    out = thresholds_summary(m=args.m, separate_peak=args.peak, a=a)
    if args.json:
        _emit_json(out)
    elif a is not None:
        print(f"{out['loss']}: alpha_BBP_init = {out['alpha_bbp_init']:.8f} "
              f"(+- {out['alpha_bbp_init_error']:.1e}; outlier leaves the "
              f"{'hard edge' if out['alpha_bbp_init_kind'] == 'edge' else 'end of the support'}"
              f", kind {out['alpha_bbp_init_kind']}) at lam = {out['lam_threshold']:.4f}")
    else:
        ac = ", ".join(f"N={k}: {v:.3f}" for k, v in out["alpha_c"].items())
        print(f"alpha_BBP_init = {out['alpha_bbp_init']:.8f} "
              f"(+- {out['alpha_bbp_init_error']:.1e}); 1/S' < 1 above "
              f"{out['alpha_overlap_below_one']:.4f}; alpha_c(N): {ac}")
    return 0


_COMMANDS.append(
    ("thresholds", "thresholds at the random start (T1): alpha_BBP_init with its error, "
     "1/S' < 1, alpha_c(N)", _thresholds_arguments, _thresholds_handler)
)


def _spectrum_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alpha", type=float, default=None,
                   help="sample ratio M/N (t = 0 quadrature; required without --solution)")
    p.add_argument("--solution", default=None,
                   help="saved DMFT Solution (.npz from `dmft solve --out`); use with --times")
    p.add_argument("--times", type=float, nargs="+", default=None,
                   help="times along the solution (must be among its sample times)")
    p.add_argument("--t", type=float, default=None,
                   help="time (only t = 0 without --solution; default 0)")
    p.add_argument("--m", type=float, default=None, help="overlap at t = 0 (default 0)")
    p.add_argument("--N", type=int, default=None,
                   help="finite-N picture of the low end (H8; at t = 0 only)")
    _a_argument(p)
    p.add_argument("--plot", default=None,
                   help="write an image: density and nu_e at t = 0, or with --solution the "
                   "outlier and left edge along the times")
    p.add_argument("--json", action="store_true", help="print a JSON document on stdout")


def _spectrum_along_handler(args: argparse.Namespace) -> int:
    from dmft.solver import Solution
    from dmft.spectrum import spectrum_along

    refused = {"--alpha": args.alpha is not None and "alpha is the solution's own",
               "--t": args.t is not None and "use --times along a solution",
               "--m": args.m is not None and "m(t) is the solution's own",
               "--a": args.a is not None and "the loss is the solution's own",
               "--N": args.N is not None and "the finite-N picture (H8) is available at t = 0 "
                                             "only (--alpha without --solution)"}
    for option, why in refused.items():
        if why:
            raise ValueError(f"{option} cannot be used with --solution: {why}")
    if args.plot:
        check_output("--plot", args.plot)
    sol = _call_reporting_warnings("spectrum", Solution.load, args.solution)
    times = args.times if args.times is not None else sol.sample_times
    for t in times:
        sol.samples_at(t)  # clear error when t is not a kept sample time
    tr = spectrum_along(sol, times)
    payload = {"t": tr.t, "mu": tr.mu, "m": tr.m, "lam_out": tr.lam_out,
               "overlap2": tr.overlap2, "width": tr.width, "status": tr.status,
               "left_edge": tr.left_edge, "left_edge_kind": tr.left_kind,
               "right_edge": tr.right_edge, "z_min": tr.z_min, "t_bbp": tr.t_bbp()}
    if args.plot:
        payload["plot"] = _save_plot(args.plot, "plot_outlier_along", tr, sol.alpha,
                                     tr.t_bbp())
    if args.json:
        _emit_json(payload)
    else:
        for k in range(tr.t.size):
            print(f"t={tr.t[k]:g} m={tr.m[k]:.4f} mu={tr.mu[k]:.4g}: outlier {tr.status[k]} "
                  f"{tr.lam_out[k]:.4g}, left edge ({tr.left_kind[k]}) {tr.left_edge[k]:.4g}")
        print(f"t_BBP = {tr.t_bbp():g}" + (f"; plot in {args.plot}" if args.plot else ""))
    return 0


def _save_plot(path: str, function: str, *plot_args) -> str:
    """Draw with ``dmft.plotting.<function>(*plot_args)`` and save to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from dmft import plotting

    getattr(plotting, function)(*plot_args).savefig(path, dpi=110)
    return path


def _spectrum_handler(args: argparse.Namespace) -> int:
    from dmft.losses import get_loss
    from dmft.spectrum import WeightLaw, spectrum_curves

    if args.solution is not None:
        return _spectrum_along_handler(args)
    if args.alpha is None:
        raise ValueError("give --alpha (t = 0) or --solution FILE [--times ...]")
    if args.t not in (None, 0.0):
        raise ValueError("only --t 0 is available without a saved solution")
    if args.times is not None:
        raise ValueError("--times needs --solution (times along a saved DMFT solution)")
    a = _loss_a(args)
    if a is not None and args.N is not None:
        raise ValueError("--N cannot be used with --a: the finite-N picture (H8) is for the "
                         "plain loss's unbounded tail; l_a has a hard left edge")
    if args.plot:
        check_output("--plot", args.plot)
    m = 0.0 if args.m is None else args.m
    law = WeightLaw.gaussian(args.alpha, m) if a is None else WeightLaw.normalised(args.alpha, a, m)
    out = law.outlier()
    le = law.left_edge()
    re_ = law.right_edge()
    payload = {"loss": get_loss("phase_retrieval", a=a).name, "a": a, "alpha": law.alpha,
               "m": law.m, "mu": law.mu, "status": out.status,
               "lam_out": out.lam, "overlap2": out.overlap2, "width": out.width,
               "lam_out_pv": out.lam_pv, "overlap2_pv": out.overlap2_pv,
               "outlier_reason": out.reason,
               "left_edge": le.lam if le.kind in ("hard", "support") else None,
               "left_edge_kind": le.kind, "left_edge_pv": le.lam,
               "right_edge": re_.lam if re_.kind in ("hard", "support") else None,
               "right_edge_kind": re_.kind}
    if args.N is not None:
        fn = law.finite_n(args.N)
        payload.update({"N": args.N, "lam_low_expected": fn.lam_low,
                        "p_outlier_lowest": fn.p_outlier_lowest,
                        "overlap2_lowest_expected": fn.overlap2_lowest})
    if args.plot:
        payload["plot"] = _save_plot(args.plot, "plot_spectrum", spectrum_curves(law))
    if args.json:
        _emit_json(payload)
        return 0
    prefix = "" if a is None else f"l_a (a={a:g}) "
    print(f"{prefix}alpha={law.alpha:g} m={law.m:g} mu={law.mu:.4g}: outlier {out.status} at "
          f"{out.lam:.4f} (overlap^2 {out.overlap2:.3f}, width {out.width:.3g}); left edge "
          f"{le.kind} {le.lam:.4f}, right edge {re_.kind} {re_.lam:.4f}")
    if args.N is not None:
        print(f"N={args.N} (H8): expected lowest eigenvalues "
              f"{np.array2string(np.asarray(payload['lam_low_expected']), precision=4)}, "
              f"P(lowest is the outlier) = {payload['p_outlier_lowest']:.3f}, expected "
              f"overlap^2 of the lowest = {payload['overlap2_lowest_expected']:.3f}")
    if args.plot:
        print(f"plot in {args.plot}")
    return 0


_COMMANDS.append(
    ("spectrum", "Hessian spectrum (H3-H8) at t = 0, or along a saved DMFT solution: outlier, "
     "overlap, width, edges, t_BBP",
     _spectrum_arguments, _spectrum_handler)
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
    _renamed(p, n="--N", samples="--n-samples")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--hessian-points", type=int, default=5,
                   help="Hessian snapshots after t = 0 (default 5; 0 for none)")
    _a_argument(p)
    p.add_argument("--out", default="dmft-validate", help="output directory")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _validate_handler(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from dmft.plotting import plot_validation
    from dmft.validate import validate

    _refuse_a(args, "validate", "its DMFT and finite-N sides run the plain loss")
    out = check_output("--out", args.out, folder=True)
    report = validate(args.alpha, args.N, m0=args.m0, t_max=args.t_max, eta=args.eta,
                      seeds=args.seeds, n_samples=args.n_samples, seed=args.seed,
                      hessian_points=args.hessian_points, progress=not args.no_progress)
    out.mkdir(parents=True, exist_ok=True)
    text = dumps_strict(json.loads(report.to_json()))
    (out / "validation.json").write_text(text)
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


_COMMANDS.append(
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
    _a_argument(p)


def _demo_handler(args: argparse.Namespace) -> int:
    from dmft.demo import format_summary, run_demo

    _refuse_a(args, "demo", "its DMFT trajectory, growth factor and finite-N check are for "
              "the plain loss")
    check_output("--out", args.out, folder=True)
    summary = run_demo(args.out, quick=args.quick, progress=not args.no_progress)
    print(format_summary(summary, args.out))
    return 0


_COMMANDS.append(
    (
        "demo",
        "the main job on built-in defaults: thresholds, a DMFT trajectory with its Hessian "
        "spectrum, the growth factor and alpha_alg(N), a finite-N check, figures",
        _demo_arguments,
        _demo_handler,
    )
)


def _figures_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="dmft-figures",
                   help="output directory (default ./dmft-figures)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes (seconds instead of minutes) for (b), (c), (e)")
    _a_argument(p)


def _figures_handler(args: argparse.Namespace) -> int:
    from dmft.figures import make_figures

    _refuse_a(args, "figures", "figures (a)-(e) are drawn for the plain loss")
    check_output("--out", args.out, folder=True)
    for path in make_figures(args.out, quick=args.quick):
        print(path)
    return 0


_COMMANDS.append(
    (
        "figures",
        "figures (a)-(e): phase diagram, Hessian densities vs finite N, DMFT vs finite N, "
        "success probability, outlier and edge along time (PNG files in --out)",
        _figures_arguments,
        _figures_handler,
    )
)


# --- main ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``dmft`` argument parser with one sub-parser per command."""
    parser = _Parser(
        prog="dmft",
        description="DMFT, Hessian spectra and finite-N simulations of spherical gradient "
        "descent in real phase retrieval.",
    )
    parser.add_argument("--version", action="version", version=f"dmft {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
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
        return _INTERRUPTED
    except (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
            PermissionError) as exc:
        print(f"dmft {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
