"""A new user's first real-data run: what needs the user's action is found first and said on the console."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def fresh_checkout(tmp_path):
    """A copy of the tracked workflow, and an environment without any Synapse token or mirror."""
    wd = tmp_path / "checkout"
    wd.mkdir()
    for item in ("Snakefile", "config", "workflow", "paper", "profiles"):
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, wd / item)
    (tmp_path / "home").mkdir()  # no ~/.synapseConfig
    env = {k: v for k, v in os.environ.items() if k not in ("SYNAPSE_AUTH_TOKEN", "MEDNEXT_SYNAPSE_MIRROR")}
    return wd, {**env, "HOME": str(tmp_path / "home")}


def test_without_a_token_the_run_stops_in_seconds_saying_what_to_do(fresh_checkout):
    wd, env = fresh_checkout
    start = time.monotonic()
    proc = subprocess.run(["snakemake", "results/tables/btcv.csv", "--cores", "1"], cwd=wd, env=env,
                          capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - start
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert elapsed < 120, f"took {elapsed:.0f} s"  # 8-16 s on this project's shared 2 cores; loose on purpose
    assert "SYNAPSE_AUTH_TOKEN" in out and "resources/downloads/btcv" in out  # what to set, where to put it
    assert "stopped before the first job" in out and "localrule" not in out  # no job ran, long or short
    assert not (wd / "results").exists() or not [p for p in (wd / "results").rglob("*") if p.is_file()]


def test_dry_run_says_which_datasets_need_the_user_before_the_job_list(fresh_checkout):
    wd, env = fresh_checkout
    proc = subprocess.run(["snakemake", "-n", "results/tables/btcv.csv"], cwd=wd, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    line = "data access: btcv: NEEDS a Synapse token or the archive"
    assert line in out and "place RawData.zip in resources/downloads/btcv/" in out
    assert out.index(line) < out.index("Job stats")
    assert "amos22" not in out  # only the targeted datasets

    (wd / "resources/downloads/btcv").mkdir(parents=True)
    (wd / "resources/downloads/btcv/RawData.zip").write_bytes(b"placed by hand")
    placed = subprocess.run(["snakemake", "-n", "results/tables/btcv.csv"], cwd=wd, env=env, capture_output=True,
                            text=True)
    assert "data access: btcv: RawData.zip placed in resources/downloads/btcv/" in placed.stdout + placed.stderr


def test_the_phantom_demo_says_nothing_about_data_access(fresh_checkout):
    wd, env = fresh_checkout
    proc = subprocess.run(["snakemake", "-n", "--configfile", "config/demo.yaml"], cwd=wd, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "data access" not in proc.stdout + proc.stderr
