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
    shipped_long = (data_dir() / "growth_factor_t100.npz").is_file()
    assert names == (expected | ({"a_phase_diagram_la0.01.png"} if shipped_la else set())
                     | ({"g_growth_t100.png"} if shipped_long else set()))
    assert all((tmp_path / n).stat().st_size > 10_000 for n in names)
    out = capsys.readouterr()
    assert out.out.count(".png") == len(names)
    assert shipped_la or "a_phase_diagram_la0.01 left out" in out.err


def test_figures_refuse_a(tmp_path, capsys):
    assert main(["figures", "--a", "0.1", "--out", str(tmp_path)]) == 2
    assert "a = 0.01 only" in capsys.readouterr().err


def _series(ax, prefix: str):
    """The data (x, y) of the legend entry of ``ax`` whose label starts with ``prefix``."""
    handles, labels = ax.get_legend_handles_labels()
    hits = [h for h, lab in zip(handles, labels, strict=True) if lab.startswith(prefix)]
    assert len(hits) == 1, (prefix, labels)
    line = hits[0].lines[0] if hasattr(hits[0], "lines") else hits[0]  # errorbar container
    return (np.asarray(x, float) for x in line.get_data())


def test_la_figure_a(tmp_path):
    """Figure (a) for l_a against routes that bypass dmft.growth's inversion and the logistic
    fit: on the left, log max_{t <= 10} G taken straight from the shipped G(t) and the
    levels log(sqrt(N) m_escape / c) of the N named by the shipped success files; on the
    right, the predicted alpha_alg(N) must sit where the piecewise-linear log G_max crosses
    those levels, and each measured alpha_50(N) between the alphas where the raw success
    rate at t = 10 first crosses 1/2."""
    import matplotlib

    matplotlib.use("Agg")
    from dmft.figures import M_ESCAPE_LA, figure_a_la
    from dmft.growth import C_MEDIAN, reference_growth
    from dmft.success import SuccessCurve

    fig = figure_a_la(0.01)
    fig.savefig(tmp_path / "a.png")
    assert (tmp_path / "a.png").stat().st_size > 10_000 and "a = 0.01" in fig.texts[0].get_text()
    ax = next(x for x in fig.axes if x.get_ylabel().startswith("log max"))
    bx = next(x for x in fig.axes if x.get_ylabel() == "log10 N")
    files = sorted(data_dir().glob("success_la0.01_N*.npz"))
    Ns = np.array(sorted(int(re.search(r"_N(\d+)\.npz", p.name).group(1)) for p in files))
    growths = reference_growth(a=0.01)
    alphas = np.array([g.alpha for g in growths])
    lg = np.array([np.log(g.G[g.t <= 10 + 1e-9].max()) for g in growths])
    x, y = _series(ax, "log max_(t <= 10) G(t)")
    np.testing.assert_allclose(x, alphas)
    np.testing.assert_allclose(y, lg, rtol=1e-12)
    levels = np.log(np.sqrt(Ns) * M_ESCAPE_LA / C_MEDIAN)
    drawn = sorted(ln.get_ydata()[0] for ln in ax.lines if list(ln.get_xdata()) == [0, 1])
    np.testing.assert_allclose(drawn, levels, rtol=1e-12)

    a_pred, logn = _series(bx, "predicted alpha_alg(N)")
    np.testing.assert_allclose(10 ** logn, Ns, rtol=1e-12)
    np.testing.assert_allclose(np.interp(a_pred, alphas, lg), levels, rtol=1e-9)
    assert any(f"m_escape = {M_ESCAPE_LA:g}" in lab for lab in bx.get_legend_handles_labels()[1])
    a_meas, logn = _series(bx, "measured alpha_50(N) at t = 10")
    np.testing.assert_allclose(10 ** logn, Ns, rtol=1e-12)
    bars = next(c for c in bx.containers if c.get_label().startswith("measured"))
    half = [abs(s[1][0] - s[0][0]) / 2 for s in bars.lines[2][0].get_segments()]
    curves = sorted((SuccessCurve.load(p) for p in files), key=lambda c: c.N)
    for c, a50, e in zip(curves, a_meas, half, strict=True):
        r = np.mean(c.t_hit <= 10, axis=1)  # raw success rate of runs stopped at t = 10
        k = np.flatnonzero((r[:-1] < 0.5) & (r[1:] >= 0.5))
        assert k.size and c.alphas[k[0]] - 2 * e <= a50 <= c.alphas[k[0] + 1] + 2 * e, (c.N, r)


def test_la_phase_diagram(tmp_path, capsys, monkeypatch):
    """figure_phase_diagram draws alpha_BBP_init(a) through the disk cache and names the a
    without a shipped alpha_BBP_TS. The curve's points are checked against an independent
    route: the BBP margin of the exact t = 0 law (H6) changes sign there."""
    import matplotlib

    matplotlib.use("Agg")
    from dmft.figures import TS_AS, figure_phase_diagram
    from dmft.thresholds import outlier_at

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
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
    """t_BBP(6) read off the notebook's DMFT trajectory (S = 8000, seed 0, dt = 0.02,
    spectra every 0.05, to t = 0.6) against the shipped base run of data/bbp_times.json
    (same population, to t = 3): a recomputation, equal up to one spectrum step (the
    majority window at t ~ 0.3 is +- 0.1, far from either horizon). Not against the pooled
    value: the plain loss's t_BBP moves with S (the 4x population merges first, THEORY T2),
    so a run of another size is not an estimate of it."""
    t = float(re.search(r"t_BBP = ([0-9.]+)", text).group(1))
    ref = reference_bbp()["t_bbp"][6.0]
    assert abs(t - ref["variants"]["base"]) < 0.05, (t, ref)


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


def test_growth_long_figure_draws_both_laws(tmp_path, monkeypatch):
    """Figure (g) from a growth file: exponential growth is a straight line on the
    log-linear panel, algebraic growth on the log-log panel (slopes read off the lines)."""
    from dmft import _data, figures
    from dmft._io import save_npz

    t = np.linspace(0.2, 100.0, 500)
    G = np.array([np.exp(0.3 * t), t ** 2.5])
    save_npz(tmp_path / _data.GROWTH_LONG, "reference-growth",
             {"alphas": np.array([14.0, 10.0]), "t": t, "G": G, "G_sem": 0.05 * G},
             {"a": None, "scheme": "explicit"})
    monkeypatch.setattr(_data, "data_dir", lambda: tmp_path)
    fig = figures.figure_growth_long()
    lin, log = fig.axes
    assert (lin.get_xscale(), log.get_xscale()) == ("linear", "log")
    x, y = lin.get_lines()[0].get_data()
    assert np.polyfit(x, np.log(y), 1)[0] == pytest.approx(0.3)
    x, y = log.get_lines()[1].get_data()
    assert np.polyfit(np.log(x), np.log(y), 1)[0] == pytest.approx(2.5)
