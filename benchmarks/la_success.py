"""Finite-N success of prox-gradient descent on l_a (a = 0.01) from random starts, vs theory.

Regenerates ``data/success_la0.01_N*.npz`` (issue 12, item 2) and the table of measured vs
predicted alpha_50(N):

* measured: :func:`dmft.success.success_probability` with ``loss = l_a`` and
  ``scheme = "prox"`` (projected GD with step eta on the Moreau envelope ``l_a^eta``, the
  finite-N twin of ``solve(..., scheme="prox")``), ``runs`` uniformly random starts per
  alpha, success ``|m(t_max)| > 0.9``; alpha_50 at each horizon of ``--horizons`` (from
  the recorded first-hit times, :meth:`SuccessCurve.fit_at`);
* (i) alpha_BBP_init(a) of :func:`dmft.thresholds` (T1a; the N = inf t = 0 threshold);
* (ii) the non-linear DMFT from ``m0 = |g| / sqrt(N)`` averaged over g
  (:func:`dmft.success.dmft_success_prediction`), written to
  ``data/success_la0.01_dmft.json``.

Run (defaults = the shipped data; about 30 min on one free core)::

    python benchmarks/la_success.py --curve 250 20 2.0,2.25,2.5,2.75,3.0,3.5 \
        --curve 500 20 2.5,3.0,3.5,4.0 --curve 1000 10 3.25,3.5,3.75 \
        --curve 2000 10 3.25,3.5,3.75,4.0  # N = 2000: another ~30 min

``--curve N T_MAX ALPHAS`` may be repeated; ``--no-dmft`` reads the predictor from the JSON
file instead of solving. One process (serial executor): the machine is shared. Points are
cached in ``--cache-dir``. ``--shipped`` reads the curves from ``--out`` and solves only
the ``--dmft-extra`` points, merged into the shipped predictor (the N = 4000 points)::

    python benchmarks/la_success.py --shipped --dmft-extra 4.0 0.01 --dmft-extra 4.5 0.01 ...
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from dmft._io import save_text
from dmft._quadrature_law import NormalisedLaw, alpha_bbp_init_bounded
from dmft.losses import get_loss
from dmft.success import (
    DmftSuccessPrediction,
    SuccessCurve,
    dmft_success_prediction,
    success_probability,
)

DEFAULT_EXTRA = [(3.5, 0.1), (3.0, 0.1), (3.0, 0.2)]
DATA = Path(__file__).resolve().parents[1] / "data"
DEFAULT_CURVES = [(250, 20.0, "2.0,2.25,2.5,2.75,3.0,3.5"), (500, 20.0, "2.5,3.0,3.5,4.0"),
                  (1000, 10.0, "3.25,3.5,3.75")]


class Serial:
    """Executor running each task at submission (one process)."""

    def submit(self, fn, *args, **kwargs) -> Future:
        fut: Future = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", type=float, default=0.01, help="normalisation of l_a (E4a)")
    p.add_argument("--curve", nargs=3, action="append", metavar=("N", "T_MAX", "ALPHAS"),
                   help="one success curve: N, t_max, comma-separated alphas (repeatable)")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--eta", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--horizons", type=float, nargs="+", default=[5.0, 10.0, 20.0])
    p.add_argument("--dmft-alphas", type=float, nargs="+", default=[2.5, 3.0, 3.5, 4.0])
    p.add_argument("--dmft-m0s", type=float, nargs="+", default=[0.02, 0.06])
    p.add_argument("--dmft-extra", type=float, nargs=2, action="append",
                   metavar=("ALPHA", "M0"), default=None,
                   help="an extra (alpha, m0) DMFT point off the grid (repeatable; default: "
                        "the shipped extras)")
    p.add_argument("--dmft-t-max", type=float, default=10.0)
    p.add_argument("--dmft-samples", type=int, default=4000)
    p.add_argument("--no-dmft", action="store_true")
    p.add_argument("--shipped", action="store_true",
                   help="read the curves from --out; solve only --dmft-extra, merged into "
                        "the shipped predictor")
    p.add_argument("--out", type=Path, default=DATA)
    p.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "dmft_la_success"))
    return p.parse_args()


def _curves(args, loss) -> list[SuccessCurve]:
    if args.shipped:
        paths = sorted(args.out.glob(f"success_la{args.a:g}_N*.npz"))
        return sorted((SuccessCurve.load(p) for p in paths), key=lambda c: c.N)
    out = []
    for N, t_max, alphas in args.curve or DEFAULT_CURVES:
        t0 = time.perf_counter()
        c = success_probability(int(N), [float(x) for x in alphas.split(",")], runs=args.runs,
                                t_max=float(t_max), eta=args.eta, seed=args.seed, loss=loss,
                                scheme="prox", executor=Serial(), cache_dir=args.cache_dir,
                                progress=False)
        c.save(args.out / f"success_la{args.a:g}_N{c.N}.npz")
        print(f"N = {c.N}: {time.perf_counter() - t0:.0f} s (0 if cached); t_max = {c.t_max:g}")
        early = {t: c.rate_at(t) for t in args.horizons if t < c.t_max}
        for i, a in enumerate(c.alphas):
            print(f"  alpha {a:5.2f}: {c.successes[i]:2d}/{c.trials[i]} "
                  f"[{c.ci_low[i]:.2f}, {c.ci_high[i]:.2f}]"
                  + "".join(f"; rate by t = {t:g}: {r[i]:.2f}" for t, r in early.items()))
        out.append(c)
    return out


def _alpha_50(c: SuccessCurve, t: float) -> tuple[float, float]:
    if t > c.t_max:
        return float("nan"), float("nan")
    try:
        f = c.fit_at(t)
    except ValueError:
        return float("nan"), float("nan")
    return f.alpha_50, f.alpha_50_err


def _merge(pred: DmftSuccessPrediction, extra: DmftSuccessPrediction) -> DmftSuccessPrediction:
    """Union of two predictors' grids; points solved by neither are NaN."""
    a = np.union1d(pred.alphas, extra.alphas)
    m = np.union1d(pred.m0s, extra.m0s)
    t_hit = np.full((a.size, m.size), np.nan)
    for p in (pred, extra):
        idx = np.ix_(np.searchsorted(a, p.alphas), np.searchsorted(m, p.m0s))
        t_hit[idx] = np.where(np.isnan(p.t_hit), t_hit[idx], p.t_hit)
    return DmftSuccessPrediction(**{**vars(pred), "alphas": a, "m0s": m, "t_hit": t_hit})


def _dmft(args, loss) -> DmftSuccessPrediction:
    t0 = time.perf_counter()
    kw = {"dt": 0.01, "n_samples": args.dmft_samples, "loss": loss, "scheme": "prox"}
    path = args.out / f"success_la{args.a:g}_dmft.json"
    if args.shipped:
        pred = _shipped_prediction(path)
        if pred is None:
            raise SystemExit(f"--shipped: no predictor at {path}")
    else:
        pred = dmft_success_prediction(args.dmft_alphas, args.dmft_m0s, args.dmft_t_max, **kw)
    for alpha, m0 in args.dmft_extra if args.dmft_extra is not None else DEFAULT_EXTRA:
        pred = _merge(pred, dmft_success_prediction([alpha], [m0], args.dmft_t_max, **kw))
    print(f"DMFT predictor: {time.perf_counter() - t0:.0f} s; t_hit (rows alpha "
          f"{pred.alphas.tolist()}, cols m0 {pred.m0s.tolist()}):\n{np.round(pred.t_hit, 2)}")
    save_text(path, json.dumps({  # atomic: an interrupt keeps the old file
        "kind": "dmft-success-prediction", "alphas": pred.alphas.tolist(),
        "m0s": pred.m0s.tolist(), "t_hit": [[_encode(x) for x in row]
                                             for row in pred.t_hit.tolist()],
        "t_max": pred.t_max, "dt": pred.dt, "n_samples": pred.n_samples, "seed": pred.seed,
        "success_threshold": pred.success_threshold, "loss": pred.loss,
        "scheme": pred.scheme}, indent=1))
    return pred


def _encode(x: float) -> float | str | None:
    """JSON form of a hit time: the time, "never" (not by t_max) or null (not solved)."""
    return None if np.isnan(x) else "never" if np.isinf(x) else x


def _shipped_prediction(path: Path) -> DmftSuccessPrediction | None:
    """The predictor written by a previous run (``--no-dmft``), None if absent."""
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    t_hit = np.array([[np.nan if x is None else np.inf if x == "never" else float(x)
                       for x in row] for row in d["t_hit"]])
    return DmftSuccessPrediction(alphas=np.array(d["alphas"]), m0s=np.array(d["m0s"]),
                                 t_hit=t_hit, **{k: d[k] for k in (
                                     "t_max", "dt", "n_samples", "seed", "success_threshold",
                                     "loss", "scheme")})


def main() -> None:
    args = _args()
    loss = get_loss("phase_retrieval", a=args.a)
    bbp = alpha_bbp_init_bounded(NormalisedLaw(args.a)).alpha
    curves = _curves(args, loss)
    pred = (_shipped_prediction(args.out / f"success_la{args.a:g}_dmft.json") if args.no_dmft
            else _dmft(args, loss))
    print(f"\nalpha_BBP_init(a = {args.a:g}) = {bbp:.4f}")
    print(f"{'N':>5} {'t':>5} {'alpha_50 measured':>20} {'(i) BBP_init':>13} {'(ii) DMFT':>10}")
    for c in curves:
        for t in args.horizons:
            a50, err = _alpha_50(c, t)
            d = pred.alpha_50(c.N, t) if pred is not None and t <= pred.t_max else float("nan")
            print(f"{c.N:>5} {t:>5g} {a50:>12.3f} +- {err:<5.3f} {bbp:>13.3f} {d:>10.3f}")


if __name__ == "__main__":
    main()
