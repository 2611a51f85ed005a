"""Packaging: the wheel carries the reference data, and an installed (non-editable) package
reads the same arrays as the source tree from any working directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_FILES = sorted(p.name for p in (ROOT / "data").iterdir()
                    if p.suffix in (".npz", ".json"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a clean copy of the sources (no stale build/ folder)."""
    pytest.importorskip("setuptools", minversion="77")  # pyproject's build requirement
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    for name in ("dmft", "data"):
        shutil.copytree(ROOT / name, src / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(out)], check=True, timeout=300)
    (whl,) = out.glob("dmft-*.whl")
    return whl


def test_wheel_contains_every_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert DATA_FILES, "no data files in data/"
    missing = [f for f in DATA_FILES if f"dmft/_refdata/{f}" not in names]
    assert not missing, missing
    with zipfile.ZipFile(wheel) as z:  # byte for byte the source-tree files
        for f in DATA_FILES:
            assert z.read(f"dmft/_refdata/{f}") == (ROOT / "data" / f).read_bytes()
    assert "dmft/growth.py" in names and "dmft/_data.py" in names


_PROBE = """
import json, sys
import numpy as np
import dmft, dmft._data
from dmft.bbp import reference_bbp
from dmft.growth import reference_growth
from dmft.success import reference_success
g = reference_growth()
np.savez(sys.argv[1], alphas=[x.alpha for x in g], G=np.array([x.G for x in g]),
         G_sem=np.array([x.G_sem for x in g]), t=g[0].t)
print(json.dumps({"package": dmft.__file__, "data": str(dmft._data.data_dir()),
                  "bbp": reference_bbp()["alpha_bbp_ts"],
                  "success_N": [c.N for c in reference_success()]}))
"""


def test_installed_package_reads_the_source_tree_data(wheel, tmp_path):
    """pip install --target, then from another folder with only that target on the path:
    reference_growth() and reference_bbp() equal the source tree's files."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                    "--target", str(target), str(wheel)], check=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(target)
    res = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path / "g.npz")], cwd=elsewhere,
                         env=env, capture_output=True, text=True, timeout=300, check=True)
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert Path(info["package"]).is_relative_to(target)
    assert Path(info["data"]).is_relative_to(target)  # the installed copy, not data/
    from dmft.bbp import reference_bbp
    from dmft.growth import reference_growth

    src = reference_growth(ROOT / "data" / "growth_factor.npz")
    with np.load(tmp_path / "g.npz") as got:
        np.testing.assert_array_equal(got["alphas"], [g.alpha for g in src])
        np.testing.assert_array_equal(got["G"], np.array([g.G for g in src]))
        np.testing.assert_array_equal(got["G_sem"], np.array([g.G_sem for g in src]))
        np.testing.assert_array_equal(got["t"], src[0].t)
    ref = reference_bbp(ROOT / "data" / "bbp_times.json")
    assert info["bbp"] == json.loads(json.dumps(ref["alpha_bbp_ts"]))
    assert info["success_N"] == sorted(int(f[9:-4]) for f in DATA_FILES
                                       if f.startswith("success_N"))
