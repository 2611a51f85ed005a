"""Tests of ``dmft simulate`` (in process, through dmft.cli.main)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dmft.cli import main
from dmft.simulate import SimulationResult

SMALL = [
    "--alpha",
    "6",
    "--N",
    "100",
    "--m0",
    "0.2",
    "--t-max",
    "0.2",
    "--eta",
    "0.01",
    "--seeds",
    "3",
]


def test_required_command_json(capsys):
    rc = main(
        [
            "simulate",
            "--alpha",
            "8",
            "--N",
            "1000",
            "--m0",
            "0.1",
            "--t-max",
            "5",
            "--eta",
            "0.01",
            "--seeds",
            "4",
            "--json",
        ]
    )
    assert rc == 0
    cap = capsys.readouterr()
    data = json.loads(cap.out)
    for key in ("t", "m_mean", "m_sem", "e_mean", "e_sem", "mu_mean", "mu_sem", "success_rate"):
        assert key in data
    T = len(data["t"])
    assert T >= 2 and data["t"][0] == 0
    assert all(len(data[k]) == T for k in ("m_mean", "m_sem", "e_mean", "mu_mean"))
    assert math.isclose(data["m_mean"][0], 0.1, abs_tol=1e-12)
    assert 0.0 <= data["success_rate"] <= 1.0
    assert "hessian_t" not in data
    assert "step" in cap.err  # the progress bar went to stderr


def test_json_with_hessian_and_out(capsys, tmp_path):
    out = tmp_path / "run.npz"
    rc = main(
        ["simulate", *SMALL, "--hessian-every", "0.1", "--out", str(out), "--json", "--no-progress"]
    )
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hessian_t"] == pytest.approx([0.0, 0.1, 0.2])
    for key in ("hess_low_mean", "hess_low_sem", "hess_low_overlap2_mean", "hess_high_mean"):
        assert key in data
    assert np.asarray(data["hess_low_mean"]).shape == (3, 3)
    res = SimulationResult.load(out)
    np.testing.assert_allclose(res.m_mean, data["m_mean"])
    assert res.metadata["N"] == 100 and res.n_runs == 3


def test_summary_line(capsys):
    assert main(["simulate", *SMALL]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "m=" in lines[0] and "success_rate=" in lines[0]


@pytest.mark.parametrize(
    "bad",
    [
        ["--alpha", "-1"],
        ["--alpha", "0"],
        ["--N", "1"],
        ["--eta", "0"],
        ["--eta", "5"],
        ["--m0", "1.5"],
        ["--t-max", "-1"],
        ["--seeds", "0"],
        ["--hessian-every", "0"],
    ],
)
def test_bad_input_exit_2(capsys, bad):
    argv = ["simulate", *SMALL, *bad, "--json"]
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert "dmft simulate: error:" in cap.err
    assert cap.out == ""


def test_unparsable_value_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--alpha", "eight", "--N", "100"])
    assert exc.value.code == 2


@pytest.mark.parametrize("old, new", [("--n", "--N")])
def test_old_spelling_refused_with_hint(capsys, old, new):
    argv = ["simulate", "--alpha", "6", old, "100"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"use {new}" in err


def test_memory_refused_before_allocating(capsys):
    """alpha = 6, N = 1e9: X alone is 6e18 numbers; refused at once with the estimate."""
    assert main(["simulate", "--alpha", "6", "--N", "1000000000", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "dmft simulate: error:" in err and "GiB" in err and "available" in err
