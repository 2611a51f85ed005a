"""t_BBP (T2) and alpha_BBP_TS (T3): the BBP margin, its interpolation and the fits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from dmft.bbp import _combine, _rate_inf, _root_linear, reference_bbp, t_bbp
from dmft.spectrum import SpectrumTrajectory, WeightLaw
from dmft.thresholds import alpha_bbp_init


def test_margin_changes_sign_at_alpha_bbp_init():
    """Two routes to T1: the zero of the BBP margin max S_PV (a grid maximum on the PV
    branch) and the tangency solve of :func:`alpha_bbp_init` (Newton on S = S' = 0)."""
    margin = lambda a: WeightLaw.gaussian(a, m=0.0, n_quad=256).outlier().margin  # noqa: E731
    assert margin(3.0) < 0 < margin(3.3)
    root = brentq(margin, 3.0, 3.3, xtol=1e-6)
    ref = alpha_bbp_init(n_quads=(128, 256))
    # the grid maximum of S_PV is below the true maximum by O(grid^2): tolerance 1e-3
    assert abs(root - ref.alpha) < 1e-3


def _traj(t, margin):
    n = len(t)
    nan = np.full(n, np.nan)
    status = ["exists" if x > 0 else "absent" for x in margin]
    return SpectrumTrajectory(np.asarray(t, float), nan, nan, nan, nan, nan, status, nan,
                              ["hard"] * n, nan, nan, nan, np.asarray(margin, float))


def test_t_bbp_interpolates_the_margin_between_grid_points():
    t = np.linspace(0, 1, 11)
    tr = _traj(t, 0.37 - t)  # linear margin: exact zero at 0.37
    assert tr.t_bbp(0.0) == pytest.approx(0.37, abs=1e-12)  # the raw rule interpolates
    assert abs(tr.t_bbp() - 0.37) <= 0.1  # the majority rule: within one spectrum step
    for smooth in (0.0, 0.3):
        assert math.isnan(_traj(t, 1 + t).t_bbp(smooth))
        assert _traj(t, -1 - t).t_bbp(smooth) == 0.0


def test_rate_extrapolation_separates_algebraic_from_exponential_growth():
    t = np.linspace(0, 10, 501)
    sem = np.full(t.size, 1e-6)
    power = 1 + t**2  # marginal states: G ~ t^b, r_inf = 0
    r0, _ = _rate_inf(t, power, sem * power, 10.0)
    expo = np.exp(0.3 * t) * (1 + t**2)  # surviving outlier: rate 0.3 on top
    r1, _ = _rate_inf(t, expo, sem * expo, 10.0)
    # the b/t ansatz is exact for t^b; (1 + t^2) deviates by O(1/t^3): 0.05 of 2/t
    assert abs(r0) < 0.05 and abs(r1 - 0.3) < 0.05


def test_root_linear_recovers_a_known_crossing_and_its_error():
    rng = np.random.default_rng(1)
    a = np.linspace(8, 13, 6)
    roots = []
    for _ in range(400):
        y = 0.5 * (a - 10.4) + rng.normal(0, 0.2, a.size)
        roots.append(_root_linear(a, y, np.full(a.size, 0.2)))
    roots = np.array(roots)
    assert abs(roots[:, 0].mean() - 10.4) < 3 * roots[:, 0].std() / 20
    assert roots[:, 1].mean() == pytest.approx(roots[:, 0].std(), rel=0.15)


def test_small_t_bbp_matches_shipped_reference():
    """Recompute t_BBP(8) at small size and compare with data/bbp_times.json within the
    combined refinement errors (both sides carry one)."""
    ref = reference_bbp()["t_bbp"][8.0]
    r = t_bbp(8.0, t_max=0.8, n_samples=1000, every=0.05)
    assert set(r.variants) == {"base", "dt/2", "seed+1", "m0=0.0001", "4S"}
    assert math.isfinite(r.t_bbp) and math.isfinite(r.error)
    # + every: linear interpolation of a curved margin can be off by up to one grid step
    assert abs(r.t_bbp - ref["t"]) < 3 * math.hypot(r.error, ref["error"]) + 0.05


def test_t_bbp_rejects_bad_input():
    with pytest.raises(ValueError, match="every"):
        t_bbp(6.0, dt=0.02, every=0.01)
    with pytest.raises(ValueError, match="alpha"):
        t_bbp(-1.0)
    with pytest.raises(ValueError, match="smooth"):
        t_bbp(6.0, smooth=-0.3)


def test_root_linear_uses_the_last_upward_crossing():
    """A noise crossing at small alpha followed by a return below zero is not the
    threshold: the order parameter must stay positive above it."""
    a = np.arange(4.0, 13.0)
    y = np.where(a < 11, -1.0, 1.0) * abs(a - 10.5)
    y[1] = 0.3  # an isolated up-crossing at alpha = 5
    root, err = _root_linear(a, y, np.full(a.size, 0.1))
    assert 10 < root < 11 and err > 0


def test_combine_weights_routes_and_inflates_the_error_only_on_disagreement():
    w = np.array([1 / 0.3**2, 1 / 3.0**2])
    # consistent routes: the uninformative one barely moves the estimate or its error
    est, err = _combine((12.0, 0.3), (13.0, 3.0))
    assert est == pytest.approx((w @ [12.0, 13.0]) / w.sum())
    assert err == pytest.approx(1 / math.sqrt(w.sum()))
    # routes 5 sigma apart: error scaled by sqrt(chi^2) (one degree of freedom)
    est, err = _combine((12.0, 0.3), (10.0, 0.3))
    assert est == pytest.approx(11.0) and err == pytest.approx(1.0)
    assert _combine((12.0, 0.3), (math.nan, math.nan)) == pytest.approx((12.0, 0.3))
    assert all(math.isnan(x) for x in _combine((math.nan, math.nan)))


# ------------------------------------------------------------------ normalised loss l_a (E4a)
def test_la_t_bbp_recomputes_the_shipped_base_run():
    """Recompute the base run of t_BBP(alpha = 4) of l_a at a = 1 (S = 8000, seed 0,
    explicit dt = 0.02, spectra every 0.05 to the shipped horizon; ~7 s) and compare
    with its entry in data/bbp_times_la1.json: a recomputation, equal up to one spectrum
    step. A smaller population is not a check of the shipped value: t_BBP of l_a moves
    with S below S ~ 8000 (alpha = 4, pooled: 1.5 at S = 1000, 2.65 at 2000, 2.84 at 8000;
    THEORY T2)."""
    from dmft.growth import loss_for
    from dmft.solver import solve
    from dmft.spectrum import spectrum_along

    ref = reference_bbp(a=1.0)
    assert ref["a"] == 1.0 and ref["scheme"] == "explicit"
    shipped, params = ref["t_bbp"][4.0], ref["params"]
    horizon = params["t_max"]["4"]
    times = np.arange(0.0, horizon + 1e-9, params["every"])
    sol = solve(4.0, params["m0"], horizon, dt=params["dt"], n_samples=params["n_samples"],
                seed=0, sample_times=times, loss=loss_for(1.0, "explicit"), progress=False)
    assert sol.status == 0, sol.message
    t = spectrum_along(sol, sol.sample_times).t_bbp(params["smooth"])
    assert abs(t - shipped["variants"]["base"]) < params["every"], (t, shipped)


def test_reference_bbp_per_a_files():
    """Every shipped per-a file reads back with its own a; a missing a names the shipped
    ones; a file of another loss is refused."""
    from dmft._data import reference_a_values, shipped_path

    have = reference_a_values("bbp_times", ".json")
    assert {0.01, 1.0} <= set(have)
    for a in have:
        d = reference_bbp(a=a)
        assert d["a"] == a and d["scheme"] in ("explicit", "prox")
        value, err = d["alpha_bbp_ts"]
        if math.isfinite(value):
            assert d["alpha_bbp_init"] < value and err > 0  # T3 lies above T1
        else:  # not resolved: the file says why
            assert "not resolved" in d["alpha_bbp_ts_note"]
    with pytest.raises(FileNotFoundError, match=r"shipped a values: .*0\.01"):
        reference_bbp(a=0.5)
    with pytest.raises(ValueError, match="holds the values of a"):
        reference_bbp(shipped_path("bbp_times", ".json", None), a=1.0)
    assert reference_bbp(a=np.inf)["a"] is None


def test_pooled_t_bbp_is_unbiased_with_a_calibrated_error():
    """:func:`pool_t_bbp` on synthetic variants: t_BBP of a population of S paths scattered
    by sigma / sqrt(S / S_base) about the truth (base and seed+1: sigma; 4S: sigma / 2), no
    time-step effect. The pooled mean is unbiased, its variance is sigma^2 / 6, and the
    squared statistical error estimates that variance without bias (2 degrees of freedom)."""
    from dmft.bbp import pool_t_bbp

    rng = np.random.default_rng(11)
    n, sigma, truth = 4000, 0.3, 1.7
    vals, stat2 = [], []
    for _ in range(n):
        b, s1, s4 = truth + sigma * rng.normal(size=3) * np.array([1.0, 1.0, 0.5])
        v, stat, dt_shift, err = pool_t_bbp({"base": b, "dt/2": b, "seed+1": s1, "4S": s4,
                                             "m0=0.0001": b})
        assert dt_shift == 0.0 and err == stat
        vals.append(v)
        stat2.append(stat**2)
    vals, stat2 = np.array(vals), np.array(stat2)
    var = sigma**2 / 6
    assert abs(vals.mean() - truth) < 4 * math.sqrt(var / n)
    assert abs(vals.var() / var - 1) < 4 * math.sqrt(2 / n)
    # stat^2 ~ var * chi^2_2 / 2: its mean has relative standard error 1 / sqrt(n)
    assert abs(stat2.mean() / var - 1) < 4 / math.sqrt(n)


def test_pooled_t_bbp_where_populations_disagree_on_merging():
    from dmft.bbp import pool_t_bbp

    inf = math.inf
    v = pool_t_bbp({"base": 1.0, "dt/2": 1.1, "seed+1": inf, "4S": 1.2})
    assert v[0] == 1.0 and all(math.isnan(x) for x in v[1:])
    assert pool_t_bbp({"base": inf, "dt/2": inf, "seed+1": inf, "4S": inf})[0] == inf


def test_shipped_tbbp_seed_ensemble_is_reproduced_by_fresh_seeds():
    """``data/tbbp_seeds_la0.01.json`` (``benchmarks/tbbp_seeds.py``): the mean t_BBP over
    32 seeds at a = 0.01, alpha = 3, prox dt = 0.01, against 4 fresh seeds (1000-1003) run
    through the library's own t_BBP path (:func:`dmft.bbp.t_bbp`'s runs and majority rule):
    the two means agree within 3 standard errors of their difference (the single-run sd
    from the file)."""
    import json

    from dmft._data import data_dir
    from dmft.bbp import _bbp_run, _first_merge
    from dmft.spectrum import SMOOTH_T_BBP

    d = json.loads((data_dir() / "tbbp_seeds_la0.01.json").read_text())
    p = d["params"]
    runs = [r for r in d["runs"] if r["alpha"] == 3.0 and r["dt"] == 0.01]
    x = np.array([r["t_bbp"] for r in runs])
    assert x.size == 32 and np.all(np.isfinite(x))
    fresh = [_first_merge(_bbp_run(alpha=3.0, t_max=runs[0]["t_max"], dt=0.01,
                                   n_samples=p["samples"], m0=p["m0"], seed=s,
                                   every=p["every"], n_response="auto", a=p["a"],
                                   scheme=p["scheme"]), SMOOTH_T_BBP)
             for s in range(1000, 1004)]
    sd = x.std(ddof=1)
    assert abs(np.mean(fresh) - x.mean()) <= 3 * sd * math.sqrt(1 / 4 + 1 / x.size), fresh


def test_pool_seed_ensemble_pools_steps_only_without_a_step_trend():
    """pool_seed_ensemble: per-step means and s.e. (closed form); steps pooled when every
    halving changes the mean by <= 2 errors, else the smallest step's mean with the last
    change in quadrature; a run beyond its horizon is refused, not averaged."""
    from dmft.bbp import pool_seed_ensemble

    rng = np.random.default_rng(0)
    x1, x2 = 1.0 + 0.3 * rng.standard_normal(20), 1.0 + 0.3 * rng.standard_normal(20)
    runs = ([{"dt": 0.01, "t_bbp": v} for v in x1]
            + [{"dt": 0.005, "t_bbp": v} for v in x2])
    p = pool_seed_ensemble(runs)
    both = np.concatenate([x1, x2])
    assert p["steps"][0.01][0] == pytest.approx(x1.mean())
    assert p["steps"][0.005][1] == pytest.approx(x2.std(ddof=1) / np.sqrt(20))
    change = x2.mean() - x1.mean()
    assert p["halvings"][0][2] == pytest.approx(change)
    assert abs(change) <= 2 * p["halvings"][0][3] and p["pooled"]
    assert p["t"] == pytest.approx(both.mean())
    assert p["error"] == pytest.approx(both.std(ddof=1) / np.sqrt(40))
    shifted = [dict(r, t_bbp=r["t_bbp"] - 1.0) if r["dt"] == 0.005 else r for r in runs]
    q = pool_seed_ensemble(shifted)  # a trend of -1 per halving: not pooled
    assert not q["pooled"] and q["t"] == pytest.approx(x2.mean() - 1.0)
    assert q["error"] == pytest.approx(math.hypot(q["steps"][0.005][1], q["halvings"][0][2]))
    with pytest.raises(ValueError, match="horizon"):
        pool_seed_ensemble(runs + [{"dt": 0.01, "t_bbp": math.inf}])


def test_runs_beyond_their_horizon_give_the_median_of_the_full_sample():
    """Right-censored runs (t_bbp = inf past t_max): pool_seed_ensemble switches to medians,
    and these equal the medians and 68 % intervals of the same runs with their true
    (uncensored) values, step by step and pooled, while the censored runs sort above the
    interval; with half the runs censored the median is refused, not guessed."""
    from dmft.bbp import pool_seed_ensemble
    from dmft.stats import median_interval

    rng = np.random.default_rng(3)
    true = {dt: np.exp(0.5 * rng.standard_normal(40)) for dt in (0.01, 0.005)}
    horizon = float(np.quantile(np.concatenate(list(true.values())), 0.85))

    def censor(h):
        return [{"dt": dt, "t_max": h, "t_bbp": v if v <= h else math.inf}
                for dt, xs in true.items() for v in xs]

    p = pool_seed_ensemble(censor(horizon))
    assert p["estimator"] == "median" and p["n_censored"] > 0
    for dt, xs in true.items():
        assert p["steps"][dt][:2] == list(median_interval(xs))
    assert p["pooled"]
    assert (p["t"], p["error"]) == median_interval(np.concatenate(list(true.values())))
    assert (p["median"], p["median_error"]) == (p["t"], p["error"])
    with pytest.raises(ValueError, match="not determined"):
        pool_seed_ensemble(censor(float(np.quantile(true[0.01], 0.5))))
    with pytest.raises(ValueError, match="NaN"):
        median_interval([1.0, math.nan])
    assert pool_seed_ensemble([{"dt": 0.01, "t_bbp": v} for v in true[0.01]])[
        "estimator"] == "mean"


@pytest.mark.parametrize("n", [5, 48])
def test_median_interval_covers_the_median_of_a_heavy_tailed_law(n):
    """median_interval on lognormal samples (true median 1): over 2000 samples the interval
    covers 1 as often as its exact binomial coverage says (>= 68.27 %), within 3 binomial
    standard errors; the ensemble reports the median of the runs it pools."""
    from scipy.stats import binom

    from dmft.bbp import pool_seed_ensemble
    from dmft.stats import median_interval

    rng = np.random.default_rng(1)
    hits, lo = 0, None
    for _ in range(2000):
        x = np.exp(0.8 * rng.standard_normal(n))
        med, half = median_interval(x)
        xs = np.sort(x)
        if lo is None:  # the rank the interval used, from its half-width
            lo = next(k for k in range(1, n + 1) if 0.5 * (xs[n - k] - xs[k - 1]) == half)
        assert med == np.median(x)
        hits += xs[lo - 1] <= 1.0 <= xs[n - lo]
    exact = binom.cdf(n - lo, n, 0.5) - binom.cdf(lo - 1, n, 0.5)
    assert exact >= 0.6827
    assert abs(hits / 2000 - exact) <= 3 * math.sqrt(exact * (1 - exact) / 2000)
    runs = [{"dt": 0.01, "t_bbp": v} for v in np.exp(rng.standard_normal(n))]
    p = pool_seed_ensemble(runs)
    assert (p["median"], p["median_error"]) == median_interval([r["t_bbp"] for r in runs])
    with pytest.raises(ValueError, match="two or more"):
        median_interval([1.0])


@pytest.mark.parametrize("a", [0.01, 1.0])
def test_reference_bbp_takes_the_seed_ensemble_where_shipped(tmp_path, a):
    """reference_bbp(a) reports the pooled many-seed t_BBP of data/tbbp_seeds_la<a>.json
    at its alphas, keeps the three-population entries elsewhere, and a copy of the file
    read by path gets no overlay."""
    import json
    import shutil

    from dmft._data import data_dir
    from dmft.bbp import pool_seed_ensemble

    runs = json.loads((data_dir() / f"tbbp_seeds_la{a:g}.json").read_text())["runs"]
    ref = reference_bbp(a=a)
    raw = json.loads((data_dir() / f"bbp_times_la{a:g}.json").read_text())["t_bbp"]
    for alpha in {r["alpha"] for r in runs}:
        want = pool_seed_ensemble([r for r in runs if r["alpha"] == alpha])
        got = ref["t_bbp"][alpha]
        assert (got["t"], got["error"]) == (want["t"], want["error"])
        assert got["seed_ensemble"]["source"] == f"tbbp_seeds_la{a:g}.json"
    untouched = [al for al in ref["t_bbp"] if al not in {r["alpha"] for r in runs}]
    assert untouched and all(ref["t_bbp"][al]["t"] == raw[f"{al:g}"]["t"] for al in untouched)
    copy = tmp_path / "bbp.json"
    shutil.copy(data_dir() / f"bbp_times_la{a:g}.json", copy)
    plain = reference_bbp(copy, a=a)
    assert all("seed_ensemble" not in v for v in plain["t_bbp"].values())
