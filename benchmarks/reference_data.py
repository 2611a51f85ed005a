"""Regenerate the reference data of ``data/`` behind figures (a) and (d) (``data/README.md``).

* ``data/growth_factor.npz``: G(t; alpha) to t = 20 (:func:`write_reference_growth`);
* ``data/bbp_times.json``: t_BBP(alpha) with its refinements (:func:`dmft.bbp.t_bbp`)
  and alpha_BBP_TS with both routes (:func:`dmft.bbp.alpha_bbp_ts`; the rate route
  on the shipped growth factors);
* ``data/success_N<N>.npz``: finite-N success curves (:func:`success_probability`), read
  from the cache of ``benchmarks/success_rates.py`` when present (same parameters).

With ``--a A`` (normalised loss l_a, E4a; the settings of :data:`LA` per a, with the step
they need): ``data/growth_factor_la<A>.npz`` (``--part growth``) and
``data/bbp_times_la<A>.json`` (``--part bbp``: t_BBP, alpha_BBP_TS with the rate route on
those growth factors, alpha_alg(N)); ``--part ts`` computes only alpha_BBP_TS into that
file (the coarse values at a = 0.1 and 10, which have no growth file: rate route on the
runs' own G).

Run: ``python benchmarks/reference_data.py [--part growth|bbp|ts|success|all] [--a A]
[--n N ...]``; the plain growth factors take about an hour on one core, t_BBP and
alpha_BBP_TS about 15 minutes, the success curves hours (each point is cached in the
temporary directory). The l_a files: cost in ``data/README.md``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from dmft import _data
from dmft._io import save_text
from dmft.bbp import alpha_bbp_ts, t_bbp
from dmft.growth import reference_growth, threshold_at_horizon, write_reference_growth
from dmft.spectrum import SMOOTH_T_BBP
from dmft.success import success_probability
from dmft.thresholds import alpha_bbp_init

DATA = Path(__file__).resolve().parents[1] / "data"  # the source of truth, shipped in the wheel

GROWTH_ALPHAS = (4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0)
# {alpha: horizon} of t_BBP, each horizon past the merge seen in a first look
T_BBP_HORIZONS = {4.0: 3.0, 6.0: 3.0, 8.0: 3.0, 10.0: 4.0, 12.0: 8.0}
T_BBP_SETTINGS = {"dt": 0.02, "n_samples": 8000}  # of the plain t_BBP runs
TS_ALPHAS = (8.0, 9.0, 10.0, 11.0, 12.0, 13.0)
# (N, alphas, runs, t_max, eta) of the measured success curves
SUCCESS = [
    (250, (3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0), 40, 20.0, 0.01),
    (500, (3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0), 40, 20.0, 0.01),
    (1000, (4.0, 5.0, 6.0, 7.0, 8.0), 24, 20.0, 0.01),
    (2000, (5.0, 6.0, 7.0, 8.0, 9.0, 10.0), 20, 30.0, 0.02),
]
CACHE = Path(tempfile.gettempdir())
ALG_N = (250, 500, 1000, 2000, 4000)  # sizes of alpha_alg(N)

# l_a (E4a) settings per a: the step (THEORY E5a: a = 0.01 needs the prox step, dt <= 0.01
# up to alpha ~ 7), the alphas of each part (growth and alpha_BBP_TS share their solves: the
# same m0 -> 0+ run gives G and the margin) and the sizes; t_bbp: {alpha: horizon}, each
# horizon past the merge seen in a first look (t_bbp = inf: survives it; tbbp_samples: paths
# of its base run, 4x in the 4S variant). margin_sys:
# spread (SD) of the late margin between seeds and 4x the paths, measured (data/README.md).
LA: dict[float, dict] = {
    0.01: {"scheme": "prox", "dt": 0.01, "n_samples": 4000, "t_max": 10.0, "every": 5,
           "growth_alphas": (3.0, 3.25, 3.5, 4.0, 4.5, 5.0, 6.0),
           "t_bbp": {3.0: 1.5, 3.25: 2.0, 3.5: 3.0, 3.75: 6.0, 4.0: 5.0}, "tbbp_samples": 8000,
           "ts_alphas": (3.0, 3.25, 3.5, 4.0, 4.5, 5.0), "margin_sys": 0.11},
    1.0: {"scheme": "explicit", "dt": 0.02, "n_samples": 4000, "t_max": 10.0, "every": 5,
          "growth_alphas": (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0),
          "t_bbp": {2.0: 3.0, 3.0: 3.0, 4.0: 4.0, 5.0: 5.0, 6.0: 6.0}, "tbbp_samples": 8000,
          "ts_alphas": (3.0, 4.0, 5.0, 6.0, 7.0, 8.0), "margin_sys": 0.08},
    # alpha_BBP_TS only (--part ts), coarse: 2000 paths
    0.1: {"scheme": "prox", "dt": 0.02, "n_samples": 2000, "t_max": 10.0,
          "ts_alphas": (2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0), "margin_sys": 0.11},
    # a = 3 (issue 12: a fourth a for the (a, alpha) plane), coarse: 2000 paths; time runs
    # ~a times slower than at a = 1, hence dt = 0.04 and t_max = 20; margin_sys borrowed
    3.0: {"scheme": "explicit", "dt": 0.04, "n_samples": 2000, "t_max": 20.0,
          "ts_alphas": (3.0, 4.0, 5.0, 6.0, 7.0, 8.0), "margin_sys": 0.1},
    # a = 10: l_a ~ l/a, so time runs ~a times slower: dt = 0.1 (0.1 fails at alpha = 8,
    # t = 31) and t_max = 50
    10.0: {"scheme": "explicit", "dt": 0.1, "n_samples": 2000, "t_max": 50.0,
           "ts_alphas": (6.0, 6.15, 6.25, 6.5, 7.0), "margin_sys": 0.13},
}


def _write_json(path: Path, obj: dict) -> None:
    """Atomic (:func:`dmft._io.save_text`: an interrupt keeps the old file)."""
    save_text(path, json.dumps(obj, indent=1, default=float))


def _tbbp_points(path: Path, alphas: dict, settings: dict, **kw) -> dict:
    """t_BBP(alpha) of :func:`dmft.bbp.t_bbp` at each ``{alpha: horizon}`` into the
    ``t_bbp`` and ``params`` entries of the JSON at ``path`` (its other entries kept; the
    file rewritten after every point; a rerun keeps the points of that file computed with
    the same settings)."""
    old = json.loads(path.read_text()) if path.is_file() else {"params": {}}
    params = {"t_max": {f"{x:g}": t for x, t in alphas.items()}, **settings,
              "every": 0.05, "m0": 1e-10, "m0_check": 1e-4, "n_response": "all paths",
              "smooth": SMOOTH_T_BBP}
    same = all(old["params"].get(k) == params[k] for k in params if k != "t_max")
    out = {**old, "t_bbp": {}, "params": params}
    for al, horizon in alphas.items():
        key = f"{al:g}"
        if same and old["params"]["t_max"].get(key) == horizon and key in old["t_bbp"]:
            out["t_bbp"][key] = old["t_bbp"][key]  # same settings: kept
            continue
        t0 = time.perf_counter()
        r = t_bbp(al, t_max=horizon, dt=settings["dt"], n_samples=settings["n_samples"],
                  every=params["every"], smooth=params["smooth"], **kw)
        out["t_bbp"][key] = _t_bbp_entry(r)
        print(f"alpha = {al:g}: t_BBP = {r.t_bbp:.3f} +- {r.error:.3f} {r.variants} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        _write_json(path, out)
    return out


def _bbp(path: Path) -> None:
    out = _tbbp_points(path, T_BBP_HORIZONS, T_BBP_SETTINGS)
    with ThreadPoolExecutor(1) as ex:
        ts = alpha_bbp_ts(TS_ALPHAS, t_max=10.0, n_samples=8000, executor=ex,
                          cache_dir=CACHE / "ts_cache",
                          growths=reference_growth(DATA / _data.GROWTH))
    out["alpha_bbp_ts"] = [ts.alpha, ts.error]
    out["alpha_bbp_ts_routes"] = {
        "margin": [ts.alpha_margin, ts.alpha_margin_err], "rate": [ts.alpha_rate,
                                                                   ts.alpha_rate_err],
        "alphas": ts.alphas.tolist(), "margin_late": ts.margin_late.tolist(),
        "margin_late_sem": ts.margin_late_sem.tolist(), "rate_alphas": ts.params["rate_alphas"],
        "rate_inf": ts.rate_inf.tolist(),
        "rate_inf_sem": ts.rate_inf_sem.tolist(), "method": ts.method, "params": ts.params}
    print(json.dumps(out["alpha_bbp_ts_routes"], indent=1))
    print(f"alpha_BBP_TS = {ts.alpha:.2f} +- {ts.error:.2f}")
    _write_json(path, out)


def _la_params(a: float) -> dict:
    if a not in LA:
        raise SystemExit(f"--a {a:g}: no settings in LA (have {sorted(LA)}); add them first")
    return LA[a]


def _la_growth(a: float) -> None:
    s = _la_params(a)
    with ThreadPoolExecutor(1) as ex:
        write_reference_growth(DATA / f"growth_factor_la{a:g}.npz", alphas=s["growth_alphas"],
                               t_max=s["t_max"], dt=s["dt"], n_samples=s["n_samples"],
                               every=s["every"], executor=ex,
                               cache_dir=CACHE / f"g_la{a:g}_cache", a=a, scheme=s["scheme"])


def _t_bbp_entry(r) -> dict:
    return {"t": r.t_bbp, "error": r.error, "stat_error": r.stat_error,
            "dt_shift": r.dt_shift, "variants": r.variants, "m0_shift": r.m0_shift,
            "returns": r.returns}


def _la_tbbp(a: float) -> dict:
    s = _la_params(a)
    path = DATA / f"bbp_times_la{a:g}.json"
    if not path.is_file():
        _write_json(path, {"a": a, "scheme": s["scheme"],
                           "alpha_bbp_init": alpha_bbp_init(a=a).alpha})
    n = s.get("tbbp_samples", s["n_samples"])
    return _tbbp_points(path, s["t_bbp"], {"dt": s["dt"], "n_samples": n}, a=a,
                        scheme=s["scheme"])


def _la_bbp(a: float) -> None:
    """t_BBP(alpha), alpha_BBP_TS (rate route on the shipped l_a growth factors) and
    alpha_alg(N) into data/bbp_times_la<a>.json."""
    s = _la_params(a)
    path = DATA / f"bbp_times_la{a:g}.json"
    out = _la_tbbp(a)
    growths = reference_growth(DATA / f"growth_factor_la{a:g}.npz", a=a)
    out.update(_ts_entries(a, s, growths))
    alg = threshold_at_horizon(ALG_N, growths, t_max=s["t_max"])
    out["alpha_alg"] = {"N": alg.N.tolist(), "alpha_alg": alg.alpha_alg.tolist(),
                        "alpha_alg_err": alg.alpha_alg_err.tolist(), "c": alg.c,
                        "m_escape": alg.m_escape, "t_max": s["t_max"],
                        "alphas": alg.alphas.tolist(), "log_G_max": alg.log_G_max.tolist(),
                        "log_G_max_sem": alg.log_G_max_sem.tolist()}
    print(f"alpha_alg(N) = {dict(zip(ALG_N, alg.alpha_alg.round(3).tolist(), strict=True))}")
    _write_json(path, out)


def _ts_entries(a: float, s: dict, growths) -> dict:
    with ThreadPoolExecutor(1) as ex:
        ts = alpha_bbp_ts(s["ts_alphas"], t_max=s["t_max"], dt=s["dt"],
                          n_samples=s["n_samples"], executor=ex, margin_sys=s["margin_sys"],
                          cache_dir=CACHE / f"ts_la{a:g}_cache", growths=growths, a=a,
                          scheme=s["scheme"])
    print(f"a = {a:g}: alpha_BBP_TS = {ts.alpha:.3f} +- {ts.error:.3f} (margin "
          f"{ts.alpha_margin:.3f} +- {ts.alpha_margin_err:.3f}, rate {ts.alpha_rate:.3f} +- "
          f"{ts.alpha_rate_err:.3f})", flush=True)
    out = {}
    if not np.isfinite(ts.alpha):
        late = ", ".join(f"{m:.3f}" for m in ts.margin_late)
        out["alpha_bbp_ts_note"] = (
            f"not resolved: neither order parameter changes sign over alphas "
            f"{ts.alphas.tolist()} (late margins {late}, each +- {ts.params['margin_sys']:g} "
            f"systematic; rates {np.round(ts.rate_inf, 3).tolist()} +- "
            f"{np.round(ts.rate_inf_sem, 3).tolist()})")
    return {**out, "alpha_bbp_ts": [ts.alpha, ts.error], "alpha_bbp_ts_routes": {
        "margin": [ts.alpha_margin, ts.alpha_margin_err],
        "rate": [ts.alpha_rate, ts.alpha_rate_err], "alphas": ts.alphas.tolist(),
        "margin_late": ts.margin_late.tolist(), "margin_late_sem": ts.margin_late_sem.tolist(),
        "rate_alphas": ts.params["rate_alphas"], "rate_inf": ts.rate_inf.tolist(),
        "rate_inf_sem": ts.rate_inf_sem.tolist(), "method": ts.method, "params": ts.params}}


def _la_ts_only(a: float) -> None:
    """alpha_BBP_TS alone (rate route on the runs' own G), merged into the per-a file."""
    s = _la_params(a)
    path = DATA / f"bbp_times_la{a:g}.json"
    out = json.loads(path.read_text()) if path.is_file() else {
        "a": a, "scheme": s["scheme"], "alpha_bbp_init": alpha_bbp_init(a=a).alpha,
        "t_bbp": {}, "params": {}}
    out.update(_ts_entries(a, s, None))
    _write_json(path, out)


def _success(data: Path, only: list[int] | None) -> None:
    with ThreadPoolExecutor(1) as ex:
        for N, alphas, runs, t_max, eta in SUCCESS:
            if only and N not in only:
                continue
            c = success_probability(N, alphas, runs=runs, t_max=t_max, eta=eta, executor=ex,
                                    cache_dir=CACHE / "dmft_success_rates")
            c.save(data / f"success_N{N}.npz")
            print(f"N = {N}: alpha_50 = {c.alpha_50:.2f} +- {c.alpha_50_err:.2f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("growth", "bbp", "tbbp", "ts", "success", "all"),
                   default="all", help="tbbp: only the t_BBP points of the bbp file")
    p.add_argument("--n", type=int, nargs="+", default=None,
                   help="success part: only these N (default: all of SUCCESS)")
    p.add_argument("--a", type=float, default=None,
                   help="normalised loss l_a (E4a): the per-a files, settings of LA")
    args = p.parse_args()
    if args.a is not None:
        if args.part == "success":
            raise SystemExit("--a: the l_a success curves are benchmarks/la_success.py's")
        if args.part in ("growth", "all"):
            _la_growth(args.a)
        if args.part in ("bbp", "all"):
            _la_bbp(args.a)
        if args.part == "ts":
            _la_ts_only(args.a)
        if args.part == "tbbp":
            _la_tbbp(args.a)
        return
    if args.part == "ts":
        raise SystemExit("--part ts is for --a (the plain file's alpha_BBP_TS: --part bbp)")
    if args.part in ("growth", "all"):
        with ThreadPoolExecutor(1) as ex:
            write_reference_growth(DATA / _data.GROWTH, alphas=GROWTH_ALPHAS, t_max=20.0,
                                   executor=ex, cache_dir=CACHE / "g20_cache")
    if args.part in ("bbp", "all"):
        _bbp(DATA / _data.BBP_TIMES)
    if args.part == "tbbp":
        _tbbp_points(DATA / _data.BBP_TIMES, T_BBP_HORIZONS, T_BBP_SETTINGS)
    if args.part in ("success", "all"):
        _success(DATA, args.n)


if __name__ == "__main__":
    main()
