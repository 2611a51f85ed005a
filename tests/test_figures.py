"""`dmft figures` and the notebooks: every figure family is produced end to end at small size."""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

from dmft.cli import main

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_cli_figures_quick_writes_all_families(tmp_path, capsys):
    assert main(["figures", "--quick", "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.glob("*.png")}
    assert names == {"a_phase_diagram.png", "b_densities.png", "c_dmft_vs_finite_n.png",
                     "d_success.png", "e_outlier_along.png"}
    assert all((tmp_path / n).stat().st_size > 10_000 for n in names)
    assert capsys.readouterr().out.count(".png") == 5


def test_one_notebook_per_figure_family():
    assert [p.name[0] for p in NOTEBOOKS] == list("abcde")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_at_small_size(path, monkeypatch):
    """The suite runs every notebook top to bottom with the small-size flag."""
    monkeypatch.setenv("DMFT_NOTEBOOK_SMALL", "1")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
