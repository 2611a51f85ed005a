"""``dmft`` as a hostile user drives it (issue 14): every bad input gets one line and exit 2
before any work, Ctrl-C keeps the partial result, output is strict JSON, pipes may close."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dmft import cli
from dmft._io import save_npz
from dmft.solver import Solution, solve

ROOT = Path(__file__).resolve().parents[1]
SOLVE = ["solve", "--alpha", "3", "--m0", "0.2", "--t-max", "0.2", "--dt", "0.05",
         "--n-samples", "400", "--no-progress"]


def _refuse_constant(name):
    raise ValueError(f"non-strict JSON constant {name}")


def strict_loads(text: str):
    return json.loads(text, parse_constant=_refuse_constant)


def one_error_line(capsys, command: str) -> str:
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert lines[0].startswith(f"dmft {command}: error: ") and "Traceback" not in cap.err
    return lines[0]


def _run_parser(argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    return exc.value.code


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    return solve(5.0, 0.3, 0.2, dt=0.05, n_samples=400, seed=0,
                 sample_times=[0.0, 0.1, 0.2]).save(tmp_path_factory.mktemp("s") / "sol")


# --- row 2: output paths are checked before any work -------------------------------------


@pytest.mark.parametrize("make_out", [
    lambda d: d / "good.npz" / "x.npz",  # the parent is a file
    lambda d: d / "good.npz" / "deeper" / "x.npz",
    lambda d: d / "folder",  # a folder given as the file
    lambda d: Path("/proc/x.npz"),
])
def test_unwritable_out_refused_before_computing(capsys, monkeypatch, tmp_path, make_out):
    (tmp_path / "good.npz").write_bytes(b"x")
    (tmp_path / "folder.npz").mkdir()
    monkeypatch.setattr("dmft.solver.solve", _must_not_run)
    assert cli.main([*SOLVE, "--out", str(make_out(tmp_path))]) == 2
    one_error_line(capsys, "solve")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in read-only folders")
def test_read_only_folder_refused(capsys, monkeypatch, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    monkeypatch.setattr("dmft.solver.solve", _must_not_run)
    assert cli.main([*SOLVE, "--out", str(ro / "x.npz")]) == 2
    assert "cannot write" in one_error_line(capsys, "solve")


@pytest.mark.parametrize("command, target", [
    (["simulate", "--alpha", "6", "--N", "100", "--out"], "dmft.simulate.simulate"),
    (["validate", "--alpha", "4", "--N", "100", "--out"], "dmft.validate.validate"),
    (["demo", "--out"], "dmft.demo.run_demo"),
    (["figures", "--out"], "dmft.figures.make_figures"),
    (["spectrum", "--alpha", "6", "--plot"], "dmft.spectrum.WeightLaw.gaussian"),
])
def test_every_out_option_checked_first(capsys, monkeypatch, tmp_path, command, target):
    (tmp_path / "file").write_bytes(b"x")
    monkeypatch.setattr(target, _must_not_run)
    assert cli.main([*command, str(tmp_path / "file" / "sub")]) == 2
    assert "is a file, not a folder" in one_error_line(capsys, command[0])


def _must_not_run(*args, **kwargs):
    raise AssertionError("the computation started before the output path was checked")


# --- row 3: Ctrl-C ----------------------------------------------------------------------------


def test_ctrl_c_during_solve_saves_partial_result(tmp_path):
    """A real SIGINT into `dmft solve --out`: one line, exit 130, the partial result saved
    with status 'interrupted' and the times done so far."""
    out, err = tmp_path / "part.npz", tmp_path / "err.txt"
    argv = ["solve", "--alpha", "6", "--m0", "0.3", "--t-max", "8", "--dt", "0.01",
            "--n-samples", "2000", "--out", str(out)]
    code = f"import sys; from dmft.cli import main; sys.exit(main({argv!r}))"
    with open(err, "w") as fh:
        # SIG_DFL in the child: a suite started in the background of a non-interactive
        # shell inherits SIGINT ignored, and Python then installs no KeyboardInterrupt
        proc = subprocess.Popen([sys.executable, "-c", code], stderr=fh,
                                stdout=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(ROOT)},
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while "DMFT alpha=6" not in err.read_text() or "| 5" not in err.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    text = err.read_text()
    assert "Traceback" not in text
    last = text.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("dmft solve: interrupted at t=") and str(out) in last
    with pytest.warns(RuntimeWarning, match="interrupted"):
        sol = Solution.load(out)
    assert sol.status == "interrupted" and 5 <= sol.t.size < 801
    assert np.all(np.isfinite(sol.m))


def test_ctrl_c_anywhere_else_is_one_line(capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("dmft.demo.run_demo", interrupt)
    assert cli.main(["demo", "--out", "unused-dir", "--no-progress"]) == 130
    assert capsys.readouterr().err.strip() == "dmft demo: interrupted"


def test_simulate_interrupted_result_saved(capsys, monkeypatch, tmp_path):
    """Ctrl-C inside simulate(): the CLI saves the partial result it carries, one line, 130."""
    from dmft import simulate as sim_module
    from dmft.simulation_result import SimulationInterrupted, SimulationStatus

    real_march = sim_module._march
    calls = []

    def march_then_ctrl_c(*args, **kwargs):
        if calls:  # the second dataset is interrupted, the first one is complete
            raise KeyboardInterrupt
        calls.append(1)
        return real_march(*args, **kwargs)

    monkeypatch.setattr(sim_module, "_march", march_then_ctrl_c)
    out = tmp_path / "sim.npz"
    rc = cli.main(["simulate", "--alpha", "6", "--N", "50", "--m0", "0.2", "--t-max", "0.05",
                   "--eta", "0.01", "--seeds", "2", "--out", str(out), "--no-progress"])
    assert rc == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("dmft simulate: interrupted at t=") and str(out) in err
    res = sim_module.SimulationResult.load(out)
    assert res.status == SimulationStatus.INTERRUPTED
    assert np.all(np.isfinite(res.m[0])) and np.all(np.isnan(res.m[1]))
    assert issubclass(SimulationInterrupted, KeyboardInterrupt)


# --- row 4: memory ---------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [["--n-samples", "1000000000"],
                                   ["--t-max", "10", "--dt", "0.001"]])
def test_solve_memory_refused_at_once(capsys, extra):
    t0 = time.perf_counter()
    argv = ["solve", "--alpha", "6", "--m0", "0.3", "--no-progress", *extra]
    assert cli.main(argv) == 2
    assert "GiB of memory, more than" in one_error_line(capsys, "solve")
    assert time.perf_counter() - t0 < 5


# --- row 5, 13: --solution files -------------------------------------------------------------


def _rewrite(src: Path, dst: Path, drop_array=None, drop_meta=None, **meta_over) -> Path:
    with np.load(src) as data:
        arrays = {k: data[k] for k in data.files if k != "__metadata__"}
        meta = json.loads(str(data["__metadata__"]))
    arrays.pop(drop_array, None)
    meta.pop(drop_meta, None)
    meta.update(meta_over)
    kind = meta.pop("kind")
    return save_npz(dst, kind, arrays, meta)


@pytest.mark.parametrize("make, why", [
    (lambda s, d: (d / "e.npz").write_bytes(b"") or d / "e.npz", "empty"),
    (lambda s, d: _truncated(s, d / "t.npz"), "truncated"),
    (lambda s, d: _flipped(s, d / "f.npz"), "corrupted"),
    (lambda s, d: _rewrite(s, d / "a.npz", drop_array="C"), "lacks C"),
    (lambda s, d: _rewrite(s, d / "m.npz", drop_meta="alpha"), "lacks metadata 'alpha'"),
    (lambda s, d: _rewrite(s, d / "k.npz", kind="simulation"), "expected 'solution'"),
    (lambda s, d: _rewrite(s, d / "l.npz", loss="nope"), "unknown loss"),
    (lambda s, d: d, "is a folder"),
])
def test_bad_solution_file_one_line(capsys, tmp_path, saved, make, why):
    path = make(saved, tmp_path)
    assert cli.main(["spectrum", "--solution", str(path)]) == 2
    line = one_error_line(capsys, "spectrum")
    assert str(path) in line and why in line


def _truncated(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes()[:2000])
    return dst


def _flipped(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("over, why", [({"dmft_version": "99.0.0"}, "newer"),
                                       ({"status": -1, "message": "diverged"}, "did not reach"),
                                       ({"status": "interrupted"}, "did not reach")])
def test_suspicious_solution_accepted_with_warning(capsys, tmp_path, saved, over, why):
    path = _rewrite(saved, tmp_path / "w.npz", **over)
    assert cli.main(["spectrum", "--solution", str(path), "--times", "0"]) == 0
    err = capsys.readouterr().err
    assert f"dmft spectrum: warning: {path}" in err and why in err


# --- rows 7, 8: spectrum options honoured or refused ----------------------------------------


@pytest.mark.parametrize("extra, why", [(["--alpha", "6"], "alpha is the solution's own"),
                                        (["--t", "0.1"], "--times"),
                                        (["--m", "0.5"], "solution's own")])
def test_spectrum_solution_refuses_options_it_cannot_use(capsys, saved, extra, why):
    assert cli.main(["spectrum", "--solution", str(saved), *extra]) == 2
    assert why in one_error_line(capsys, "spectrum")


def test_spectrum_solution_plot_written(capsys, tmp_path, saved):
    png = tmp_path / "along.png"
    assert cli.main(["spectrum", "--solution", str(saved), "--plot", str(png), "--json"]) == 0
    assert strict_loads(capsys.readouterr().out)["plot"] == str(png)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_spectrum_N_printed_in_text_mode(capsys, monkeypatch):
    """--N used to be computed and then dropped in text mode (the H8 picture itself is
    tested in test_spectrum; a stand-in with known numbers keeps this test fast)."""
    from types import SimpleNamespace

    from dmft.spectrum import WeightLaw

    seen = []

    def finite_n(self, N):
        seen.append(N)
        return SimpleNamespace(lam_low=np.array([-21.5, -9.25]), p_outlier_lowest=0.625,
                               overlap2_lowest=0.375, tail_start=-18.5,
                               lowest_quantiles=np.array([-21.5, -21.4, -21.4]))

    monkeypatch.setattr(WeightLaw, "finite_n", finite_n)
    assert cli.main(["spectrum", "--alpha", "6", "--N", "500"]) == 0
    out = capsys.readouterr().out
    assert seen == [500] and "N=500 (H8)" in out and "-21.5" in out and "-9.25" in out
    assert "P(lowest is the outlier) = 0.625" in out and "lowest = 0.375" in out


def test_solve_sample_times_reach_spectrum(capsys, tmp_path):
    out = tmp_path / "s.npz"
    assert cli.main([*SOLVE, "--sample-times", "0.05", "0.15", "--out", str(out)]) == 0
    np.testing.assert_allclose(Solution.load(out).sample_times, [0.05, 0.15])
    capsys.readouterr()
    assert cli.main(["spectrum", "--solution", str(out), "--times", "0.15", "--json"]) == 0
    assert strict_loads(capsys.readouterr().out)["t"] == pytest.approx([0.15])


# --- rows 10, 11, 14: JSON ----------------------------------------------------------------


def test_solve_json_strict_and_complete(capsys):
    from dmft import __version__

    assert cli.main([*SOLVE, "--noise", "0.1", "--seed", "3", "--json"]) == 0
    meta = strict_loads(capsys.readouterr().out)["metadata"]
    expected = {"alpha": 3.0, "m0": 0.2, "dt": 0.05, "t_max": 0.2, "loss": "phase_retrieval",
                "noise": 0.1, "n_samples": 400, "seed": 3, "dmft_version": __version__}
    for key, value in expected.items():
        assert meta[key] == (pytest.approx(value) if isinstance(value, float) else value), key


def test_validate_json_strict(capsys, tmp_path):
    """The report has NaN where a z is undefined (e.g. m at t = 0, zero errors)."""
    argv = ["validate", "--alpha", "4", "--N", "100", "--t-max", "0.1", "--eta", "0.02",
            "--seeds", "2", "--n-samples", "400", "--hessian-points", "0", "--json",
            "--out", str(tmp_path), "--no-progress"]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text and strict_loads(text)["params"]["N"] == 100
    strict_loads((tmp_path / "validation.json").read_text())


def test_demo_summary_is_strict_json(monkeypatch, tmp_path, capsys):
    """run_demo writes summary.json strictly even when a number is NaN; the phase bar
    names each phase on stderr."""
    from dmft import demo

    def phase(value):
        def run(out, size, summary):
            summary[f"x{len(summary)}"] = value
        return run

    monkeypatch.setattr(demo, "_PHASES", tuple(phase(v) for v in
                                               (math.nan, math.inf, 1.0, np.float32(2), [1])))
    demo.run_demo(tmp_path, quick=True, progress=True, a=None)
    data = strict_loads((tmp_path / "summary.json").read_text())
    assert data["x3"] is None and data["x4"] is None and data["x5"] == 1.0
    err = capsys.readouterr().err
    for name in demo._PHASE_SECONDS:
        assert name in err


def test_closed_pipe_is_quiet():
    """`dmft solve --json | head -c 600`: the reader leaves; no traceback."""
    code = ("import sys; from dmft.cli import main; "
            f"sys.exit(main({[*SOLVE, '--json']!r}))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert err == "", err


# --- row 18 and issue 10 item 5: flags -------------------------------------------------------


def test_no_abbreviations(capsys):
    """A prefix of an option is not that option (`--a 0.01 --alpha 6` was once read as
    --alpha 0.01 then --alpha 6, before --a existed)."""
    assert _run_parser(["spectrum", "--alph", "0.01", "--alpha", "6", "--t", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unrecognized arguments: --alph" in err


@pytest.mark.parametrize("argv, new", [
    (["simulate", "--alpha", "6", "--n", "100"], "--N"),
    (["solve", "--alpha", "6", "--m0", "0.1", "--samples", "100"], "--n-samples"),
    (["solve", "--alpha", "6", "--m0", "0.1", "--groups", "2"], "--n-groups"),
    (["solve", "--alpha", "6", "--m0", "0.1", "--response-samples", "9"], "--n-response"),
    (["validate", "--alpha", "6", "--n", "100"], "--N"),
    (["validate", "--alpha", "6", "--N", "100", "--samples", "100"], "--n-samples"),
])
def test_old_spellings_refused_with_hint(capsys, argv, new):
    assert _run_parser(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"use {new}" in err


def test_flags_mirror_python_keywords():
    """Every option of solve/simulate/validate is a keyword of the function it calls."""
    import inspect

    from dmft.simulate import simulate
    from dmft.validate import validate

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    cli_only = {"a", "help", "out", "json", "no_progress", "float32", "alpha", "m0"}
    for name, fn in (("solve", solve), ("simulate", simulate), ("validate", validate)):
        keywords = set(inspect.signature(fn).parameters)
        for action in sub[name]._actions:
            if action.help == "==SUPPRESS==" or action.dest in cli_only:
                continue
            assert action.dest in keywords, (name, action.dest)
            assert action.option_strings[0] == "--" + action.dest.replace("_", "-")


def test_solve_bad_worker_count_one_line(capsys):
    assert cli.main([*SOLVE, "--n-workers", "0"]) == 2
    assert "n_workers must be >= 1" in one_error_line(capsys, "solve")
    assert _run_parser([*SOLVE, "--n-workers", "two"]) == 2
    assert "expected an integer or 'auto'" in capsys.readouterr().err


def test_solve_worker_count_is_used(capsys, monkeypatch):
    """--n-workers reaches solve (not silently ignored); the JSON is the same for 1 and 2."""
    from dmft import solver

    seen = []
    real = solver._march_all
    monkeypatch.setattr(solver, "_march_all",
                        lambda *a: seen.append(a[-1]) or real(*a))
    docs = []
    for value in ("1", "2"):
        assert cli.main([*SOLVE, "--n-workers", value, "--json"]) == 0
        docs.append(json.loads(capsys.readouterr().out))
    assert seen == [1, 2] and docs[0] == docs[1]
