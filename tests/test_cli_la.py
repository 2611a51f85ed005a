"""``--a`` (normalised loss l_a, E4a) on the t = 0 commands, through dmft.cli.main."""

from __future__ import annotations

import json

import pytest

from dmft.cli import main
from dmft.spectrum import WeightLaw

A = 0.01


def run_json(capsys, argv):
    rc = main(argv)
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


def test_thresholds_a_json_brackets_the_outlier_flip(capsys):
    """The CLI's alpha_BBP_init(0.01) (constrained minimum, thresholds) against the outlier
    scan of the exact law (WeightLaw.outlier) on both sides, +-0.1%."""
    out = run_json(capsys, ["thresholds", "--a", str(A), "--json"])
    assert out["loss"] == f"normalised_phase_retrieval(a={A!r})" and out["a"] == A
    assert out["alpha_bbp_init_kind"] == "edge"
    assert 0 <= out["alpha_bbp_init_error"] < 1e-9
    alpha = out["alpha_bbp_init"]
    assert WeightLaw.normalised(alpha * 0.999, A).outlier().status == "absent"
    assert WeightLaw.normalised(alpha * 1.001, A).outlier().status == "exists"


def test_spectrum_a_t0_json_outlier_below_hard_edge(capsys):
    out = run_json(capsys, ["spectrum", "--a", str(A), "--alpha", "6", "--t", "0", "--json"])
    assert out["a"] == A and out["status"] == "exists" and out["hard_edge_kind"] == "hard"
    assert out["lam_out"] < out["hard_edge"]
    # the plain loss at the same alpha has no hard edge (H4: tail): --a was not ignored
    plain = run_json(capsys, ["spectrum", "--alpha", "6", "--json"])
    assert plain["hard_edge_kind"] == "tail" and plain["hard_edge"] is None
    assert plain["status"] != "exists"


@pytest.mark.parametrize("argv", [
    ["thresholds", "--a", "0"], ["thresholds", "--a", "nan"],
    ["spectrum", "--alpha", "6", "--a", "-1"],
    ["validate", "--alpha", "4", "--N", "50", "--a", "0.01", "--hessian-points", "2"],
    ["demo", "--a", "0"], ["figures", "--a", "0.01"],
    ["spectrum", "--alpha", "6", "--a", "0.01", "--N", "500"],
    ["spectrum", "--solution", "x.npz", "--a", "0.01"],
])
def test_bad_or_unsupported_a_is_one_line_exit_2(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and ("--a" in err or " a " in err)


def test_simulate_without_eta_says_which_step(capsys):
    """--eta omitted: the chosen step is said on stderr and recorded; with l_a it is set by
    lambda_max (far below the plain default 0.01) and the run completes."""
    argv = ["simulate", "--alpha", "4", "--N", "80", "--t-max", "0.05", "--seeds", "1",
            "--loss", f"normalised_phase_retrieval(a={A!r})", "--json", "--no-progress"]
    rc = main(argv)
    out = capsys.readouterr()
    meta = json.loads(out.out)["metadata"]
    assert rc == 0 and meta["eta_chosen_from"] == "lambda_max"
    assert meta["eta"] * meta["lambda_max_start"] == pytest.approx(0.5)
    assert "--eta not given" in out.err and f"{meta['eta']:.3g}" in out.err


def test_validate_on_l_a_with_the_prox_step(capsys, tmp_path):
    """`dmft validate --a`: both sides on l_a with the prox step (E5p), Hessian rows off by
    default; the DMFT and gradient descent agree within a Bonferroni allowance on the 33
    standardised differences (|z| < 4.5; a loss or step mismatch between the sides gives
    |z| of tens)."""
    out = tmp_path / "rep"
    rc = main(["validate", "--alpha", "6", "--N", "400", "--a", str(A), "--scheme", "prox",
               "--eta", "0.01", "--t-max", "0.1", "--seeds", "6", "--n-samples", "4000",
               "--out", str(out), "--json", "--no-progress"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert report["params"]["a"] == A and report["params"]["scheme"] == "prox"
    assert report["hessian_worst_z"] == {}
    assert max(report["worst_z"].values()) < 4.5
