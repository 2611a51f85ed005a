"""`dmft figures` and the notebooks: every figure family is produced end to end at small size,
and the numbers the notebooks print agree with independent computations."""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbclient
import nbformat
import numpy as np
import pytest

from dmft._data import data_dir
from dmft.bbp import reference_bbp
from dmft.cli import main
from dmft.spectrum import WeightLaw

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_cli_figures_quick_writes_all_families(tmp_path, capsys):
    assert main(["figures", "--quick", "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.glob("*.png")}
    expected = {"a_phase_diagram.png", "b_densities.png", "c_dmft_vs_finite_n.png",
                "d_success.png", "e_outlier_along.png", "b_densities_la0.01.png",
                "phase_diagram_alpha_a.png"}
    shipped_la = (data_dir() / "bbp_times_la0.01.json").is_file()
    assert names == expected | ({"a_phase_diagram_la0.01.png"} if shipped_la else set())
    assert all((tmp_path / n).stat().st_size > 10_000 for n in names)
    out = capsys.readouterr()
    assert out.out.count(".png") == len(names)
    assert shipped_la or "a_phase_diagram_la0.01 left out" in out.err


def test_figures_refuse_a(tmp_path, capsys):
    assert main(["figures", "--a", "0.1", "--out", str(tmp_path)]) == 2
    assert "a = 0.01 only" in capsys.readouterr().err


def test_la_figure_a_and_phase_diagram(tmp_path, capsys, monkeypatch):
    """figure_a_la draws any file of the bbp_times format (here the plain loss's, until the
    l_a one is shipped); figure_phase_diagram draws alpha_BBP_init(a) through the disk cache
    and names the a without a shipped alpha_BBP_TS. The curve's points are checked against
    an independent route: the BBP margin of the exact t = 0 law (H6) changes sign there."""
    import matplotlib

    matplotlib.use("Agg")
    from dmft.figures import TS_AS, figure_a_la, figure_phase_diagram
    from dmft.thresholds import outlier_at

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fig = figure_a_la(0.01, bbp=reference_bbp())
    fig.savefig(tmp_path / "a.png")
    assert len(fig.axes) == 2 and (tmp_path / "a.png").stat().st_size > 10_000
    fig = figure_phase_diagram(quick=True)
    fig.savefig(tmp_path / "pd.png")
    assert (tmp_path / "pd.png").stat().st_size > 10_000
    missing = [a for a in TS_AS if not (data_dir() / f"bbp_times_la{a:g}.json").is_file()]
    err = capsys.readouterr().err
    assert all(f"{a:g}" in err for a in missing) and (not missing or "left out" in err)
    assert len(list((tmp_path / "cache" / "dmft").glob("*.npz"))) == 13
    a_grid, init = fig.axes[0].lines[0].get_data()
    for target in (0.01, 10.0):  # the outlier leaves the hard edge; leaves the support
        k = int(np.argmin(abs(np.log10(a_grid) - np.log10(target))))
        a = float(a_grid[k])
        assert a == pytest.approx(target)
        assert outlier_at(init[k] - 0.01, a=a).margin < 0 < outlier_at(init[k] + 0.01, a=a).margin


def test_one_notebook_per_figure_family():
    assert [p.name[0] for p in NOTEBOOKS] == list("abcde")


def _check_a(text: str) -> None:
    """alpha_BBP_init (tangency solve) vs the sign change of the BBP margin max S_PV on a
    grid (H6): the margin must be negative 0.01 below and positive 0.01 above (the grid
    maximum is off by O(1e-3)); the recomputed t_BBP(8) vs the shipped one."""
    a0 = float(re.search(r"alpha_BBP_init = ([0-9.]+)", text).group(1))
    margin = lambda a: WeightLaw.gaussian(a, m=0.0, n_quad=256).outlier().margin  # noqa: E731
    assert margin(a0 - 0.01) < 0 < margin(a0 + 0.01), a0
    r, r_err, s, s_err = map(float, re.search(
        r"recomputed t_BBP\(8\) = ([0-9.]+) \+- ([0-9.]+); shipped ([0-9.]+) \+- ([0-9.]+)",
        text).groups())
    assert abs(r - s) < 3 * math.hypot(r_err, s_err) + 0.05  # + one spectrum-grid step


def _check_c(text: str) -> None:
    """DMFT vs finite-N gradient descent: the worst standardised difference over a few
    dozen comparisons stays below 5 (about 1e-5 per comparison if both agree)."""
    line = re.search(r"worst \|z\|: (.*)", text).group(1)  # {'m': ..., 'e': ..., 'mu': ...}
    z = [float(x) for x in re.findall(r"\d+\.\d+(?:e[-+]?\d+)?", line)]
    assert len(z) >= 3 and max(z) < 5.0, line


def _check_e(text: str) -> None:
    """t_BBP(6) read off the small DMFT trajectory vs the shipped reference run (S = 8000,
    refinements in dt, seed and S): within 3 of the shipped error plus one grid step."""
    t = float(re.search(r"t_BBP = ([0-9.]+)", text).group(1))
    ref = reference_bbp()["t_bbp"][6.0]
    assert abs(t - ref["t"]) < 3 * ref["error"] + 0.05, (t, ref)


CHECKS = {"a": _check_a, "c": _check_c, "e": _check_e}  # b and d: figures only


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_at_small_size(path, monkeypatch):
    """The suite runs every notebook top to bottom with the small-size flag, and checks
    the numbers it prints against an independent computation where it prints one."""
    monkeypatch.setenv("DMFT_NOTEBOOK_SMALL", "1")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    if path.name[0] in CHECKS:
        CHECKS[path.name[0]](text)
