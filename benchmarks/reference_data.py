"""Regenerate the reference data of ``data/`` behind figures (a) and (d) (``data/README.md``).

* ``data/growth_factor.npz``: G(t; alpha) to t = 20 (:func:`write_reference_growth`);
* ``data/bbp_times.json``: t_BBP(alpha) with its refinements (:func:`dmft.bbp.t_bbp`)
  and alpha_BBP_TS with both routes (:func:`dmft.bbp.alpha_bbp_ts`; the rate route
  on the shipped growth factors);
* ``data/success_N<N>.npz``: finite-N success curves (:func:`success_probability`), read
  from the cache of ``benchmarks/success_rates.py`` when present (same parameters).

Run: ``python benchmarks/reference_data.py [--part growth|bbp|success|all] [--n N ...]``; the growth
factors take about an hour on one core, t_BBP and alpha_BBP_TS about 15 minutes, the
success curves hours (each point is cached in the temporary directory).
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
from dmft.bbp import alpha_bbp_ts, t_bbp
from dmft.growth import reference_growth, write_reference_growth
from dmft.success import success_probability

DATA = Path(__file__).resolve().parents[1] / "data"  # the source of truth, shipped in the wheel

GROWTH_ALPHAS = (4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0)
T_BBP_ALPHAS = (4.0, 6.0, 8.0, 10.0, 12.0)
TS_ALPHAS = (8.0, 9.0, 10.0, 11.0, 12.0, 13.0)
# (N, alphas, runs, t_max, eta) of the measured success curves
SUCCESS = [
    (250, (3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0), 40, 20.0, 0.01),
    (500, (3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0), 40, 20.0, 0.01),
    (1000, (4.0, 5.0, 6.0, 7.0, 8.0), 24, 20.0, 0.01),
    (2000, (5.0, 6.0, 7.0, 8.0, 9.0, 10.0), 20, 30.0, 0.02),
]
CACHE = Path(tempfile.gettempdir())


def _bbp(path: Path) -> None:
    out = {"t_bbp": {}, "params": {"t_max": 3.0, "dt": 0.02, "n_samples": 8000,
                                   "every": 0.05, "m0": 1e-10, "m0_check": 1e-4}}
    for a in T_BBP_ALPHAS:
        t0 = time.perf_counter()
        r = t_bbp(a, t_max=3.0, n_samples=8000, every=0.05)
        after = r.t > r.t_bbp if np.isfinite(r.t_bbp) else np.zeros(r.t.size, bool)
        out["t_bbp"][f"{a:g}"] = {
            "t": r.t_bbp, "error": r.error, "variants": r.variants, "m0_shift": r.m0_shift,
            "fraction_present_after": float(np.mean(r.margin[after] > 0)) if after.any()
            else None}
        print(f"alpha = {a:g}: t_BBP = {r.t_bbp:.3f} +- {r.error:.3f} {r.variants} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
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
    path.write_text(json.dumps(out, indent=1, default=float))


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
    p.add_argument("--part", choices=("growth", "bbp", "success", "all"), default="all")
    p.add_argument("--n", type=int, nargs="+", default=None,
                   help="success part: only these N (default: all of SUCCESS)")
    args = p.parse_args()
    if args.part in ("growth", "all"):
        with ThreadPoolExecutor(1) as ex:
            write_reference_growth(DATA / _data.GROWTH, alphas=GROWTH_ALPHAS, t_max=20.0,
                                   executor=ex, cache_dir=CACHE / "g20_cache")
    if args.part in ("bbp", "all"):
        _bbp(DATA / _data.BBP_TIMES)
    if args.part in ("success", "all"):
        _success(DATA, args.n)


if __name__ == "__main__":
    main()
