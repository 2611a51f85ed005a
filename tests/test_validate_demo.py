"""Validation report and demo at small size (regression tests of the user-facing jobs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dmft import cli
from dmft.validate import validate

SEEDS, DMFT_GROUPS = 8, 4  # finite-N datasets; independent DMFT groups (solve's default)


def test_validation_report_is_consistent(tmp_path):
    """DMFT vs N = 1000 gradient descent at short times (finite-N shifts O(1/N) are below
    the noise there): every |z| within the allowance of the statistics.

    z is Student-t distributed with the Welch-Satterthwaite number of degrees of freedom
    (DMFT error from 4 groups: 3 dof; finite-N error from 8 datasets: 7 dof); the allowance
    is its two-sided quantile at 1 % overall for the 3 x 20 comparisons after t = 0
    (Bonferroni, conservative for comparisons correlated in time).
    """
    from scipy import stats

    r = validate(4.0, 1000, m0=0.3, t_max=0.4, eta=0.02, seeds=SEEDS, n_samples=8000, seed=1)
    assert r.t.size == 21
    n_cmp = 3 * (r.t.size - 1)
    for k in ("m", "e", "mu"):
        a, b = r.theory_sem[k][1:] ** 2, r.finite_n_sem[k][1:] ** 2
        dof = (a + b) ** 2 / (a**2 / (DMFT_GROUPS - 1) + b**2 / (SEEDS - 1))
        allowance = stats.t.ppf(1 - 0.01 / (2 * n_cmp), dof.min())
        assert r.worst_z[k] < allowance, (k, r.worst_z[k], allowance)
        assert r.worst_z[k] == pytest.approx(np.max(np.abs(r.z[k])))
    # exact start (THEORY section 1) on both sides, and no spurious z from round-off there
    assert r.theory["m"][0] == pytest.approx(0.3) and r.finite_n["m"][0] == pytest.approx(0.3)
    assert abs(r.z["m"][0]) < 1e-3
    payload = json.loads(r.to_json(tmp_path / "r.json"))
    assert set(payload) >= {"t", "theory", "finite_n", "z", "worst_z", "params", "t_hessian",
                            "hessian_theory", "hessian_finite_n", "hessian_z"}
    # Hessian snapshots: t = 0 plus hessian_points on the step grid, both sides at those times
    assert r.t_hessian[0] == 0 and r.t_hessian.size == 6
    # ordering and range hold on both routes (H8 expectations are grid integrals: 1e-3 rel.)
    for side in (r.hessian_theory, r.hessian_finite_n):
        assert np.all(side["lam_1"] <= side["lam_2"] + 1e-3 * np.abs(side["lam_2"]))
        assert np.all((side["overlap2_1"] >= 0) & (side["overlap2_1"] <= 1))


def test_validate_rejects_single_seed():
    with pytest.raises(ValueError, match="seeds"):
        validate(4.0, 100, seeds=1)


def test_cli_validate_writes_report_and_figure(tmp_path, capsys):
    out = tmp_path / "v"
    rc = cli.main(["validate", "--alpha", "4", "--N", "200", "--t-max", "0.2", "--eta", "0.02",
                   "--seeds", "3", "--n-samples", "1000", "--out", str(out), "--no-progress"])
    assert rc == 0
    assert (out / "validation.json").exists() and (out / "validation.png").stat().st_size > 0
    out_text = capsys.readouterr().out
    assert "worst |z|" in out_text and "lam_1=" in out_text


def test_demo_default_is_la_and_its_t0_outlier_matches_finite_n(tmp_path, capsys):
    """The default demo runs the paper's l_a at a = 0.01 end to end (--quick) and states a
    in its first line and its summary. Its t = 0 outlier (exact quadrature law, H6) against
    its own dense finite-N Hessians (H1): lam_1 + mu_N and the overlap^2 of the lowest
    eigenvector agree within the demo's stated standard errors, i.e. within the Student-t
    quantile (datasets - 1 dof) at 1 % overall for the two comparisons; the left edge in
    place of the outlier would fail the same test (so the finite-N side resolves it)."""
    from scipy import stats

    from dmft.losses import get_loss

    rc = cli.main(["demo", "--quick", "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "l_a" in first and "a = 0.01" in first, first
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["a"] == 0.01 and s["loss"] == get_loss("phase_retrieval", a=0.01).name
    fn, t0 = s["t0_finite_n"], s["t0"]
    allowance = stats.t.ppf(1 - 0.01 / (2 * 2), fn["datasets"] - 1)
    for key, theory in (("lam1_plus_mu", t0["lam_out"] + t0["mu"]),
                        ("overlap2_1", t0["overlap2"])):
        mean, se = fn[key]
        assert abs(mean - theory) < allowance * se, (key, mean, se, theory)
    mean, se = fn["lam1_plus_mu"]
    assert abs(mean - (t0["hard_edge"] + t0["mu"])) > allowance * se
    for name in ("spectrum_t0.png", "margin_along.png", "validation.png", "success.png",
                 "phase_diagram.png"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize(("flags", "a"), [([], 0.01), (["--plain"], None), (["--a", "inf"], None),
                                          (["--a", "1"], 1.0), (["--plain", "--a", "inf"], None)])
def test_demo_loss_flags(flags, a, tmp_path, monkeypatch, capsys):
    """l_a at a = 0.01 by default; the plain loss one flag away (--plain or --a inf)."""
    import dmft.demo

    seen = {}
    monkeypatch.setattr(dmft.demo, "run_demo", lambda out, quick, progress, a: seen.update(a=a))
    monkeypatch.setattr(dmft.demo, "format_summary", lambda summary, out: "")
    assert cli.main(["demo", "--out", str(tmp_path), *flags]) == 0
    assert seen["a"] == a


@pytest.mark.parametrize(("flags", "says"), [(["--plain", "--a", "0.1"], "contradict"),
                                           (["--a", "-1"], "must be > 0"),
                                           (["--a", "nan"], "must be > 0")])
def test_demo_refuses_contradictory_or_bad_a(flags, says, tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path), *flags]) == 2
    assert says in capsys.readouterr().err


@pytest.mark.slow
def test_demo_quick_plain_runs_end_to_end(tmp_path, capsys):
    rc = cli.main(["demo", "--quick", "--plain", "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["a"] is None and summary["loss"] == "phase_retrieval"
    # independent route (T1 tangency, not the root scan of the outlier): at t = 0 z is
    # unbounded below (H7), so above alpha_BBP_init the outlier is a resonance, else absent
    from dmft.thresholds import alpha_bbp_init

    above = summary["alpha"] > alpha_bbp_init(n_quads=(64, 128)).alpha
    assert summary["t0_outlier"]["status"] == ("resonance" if above else "absent")
    for name in ("spectrum_t0.png", "validation.png", "growth_factor.png",
                 "outlier_along.png", "phase_diagram.png", "success.png"):
        assert (tmp_path / name).stat().st_size > 0
    out = capsys.readouterr().out
    assert "alpha_alg" in out and "plain" in out.splitlines()[0]
    # the shipped plain alpha_BBP_TS is a finite-S value (THEORY T3): said, not hidden
    assert summary["alpha_bbp_ts_caveat"] and "finite-S value" in out


def test_phase_diagram_and_success_figures_from_cached_data():
    """Figures (a) and (d) draw one series per input, from data/ without any solve."""
    import matplotlib

    matplotlib.use("Agg")
    from dmft.growth import invert_growth, reference_growth
    from dmft.plotting import plot_growth, plot_phase_diagram, plot_success
    from dmft.stats import wilson_interval
    from dmft.success import SuccessCurve

    gs = reference_growth()
    thr = invert_growth([1e2, 1e4], np.array([g.alpha for g in gs]),
                           np.array([g.log_G_max for g in gs]),
                           np.array([g.log_G_max_sem for g in gs]))
    fig = plot_phase_diagram(thr, alpha_bbp_init=3.15)
    assert len(fig.axes) == 2
    assert len(plot_growth(gs[:3]).axes[0].lines) == 3
    k = np.array([1, 5, 9])
    lo, hi = wilson_interval(k, 10)
    curve = SuccessCurve(N=100, alphas=np.array([4.0, 6.0, 8.0]), successes=k,
                            trials=np.full(3, 10), rate=k / 10, ci_low=lo, ci_high=hi,
                            t_max=5.0, eta=0.01, alpha_50=6.0, alpha_50_err=0.5,
                            t_hit=np.full((3, 10), np.inf), confidence=0.95,
                            success_threshold=0.9, width=1.0, deviance=0.0, separated=False,
                            seed=0)
    ax = plot_success([curve], threshold=thr).axes[0]
    assert len(ax.containers) == 1
