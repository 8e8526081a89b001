"""The workflow's data rules on a fake BTCV served on 127.0.0.1 as a Synapse mirror."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.data import fakes

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
RAW = "resources/raw/Dataset001_BTCV"


def _workdir(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "Snakefile", tmp_path)
    for folder in ("config", "workflow", "paper", "profiles"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    cfg = {"nnunet": {"raw": "resources/raw", "preprocessed": "resources/pre", "results": "resources/res",
                      "num_processes": 1, "num_processes_da": 1, "device": "cpu", "compile": False},
           "models": ["mednext_S_k3"], "checksums": "checksums",
           "datasets": {"btcv": {"id": 1, "name": "BTCV", "folds": [0], "patch": 32}}}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path


def _snakemake(wd: Path, mirror: str, target: str):
    env = {**os.environ, "MEDNEXT_SYNAPSE_MIRROR": mirror}
    return subprocess.run(["snakemake", target, "--configfile", "test.yaml", "--cores", "1"], cwd=wd, env=env,
                          capture_output=True, text=True)


def test_download_convert_check_through_snakemake(tmp_path):
    wd = _workdir(tmp_path)
    with fakes.LocalServer({"/syn3379050/RawData.zip": fakes.btcv_zip()}) as srv:
        proc = _snakemake(wd, srv.base, "resources/pre/Dataset001_BTCV/raw_dataset_check.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    check = json.loads((wd / "resources/pre/Dataset001_BTCV/raw_dataset_check.json").read_text())
    assert check["cases"] == 3 and check["labels"] == list(range(14))
    assert "RawData.zip" in json.loads((wd / "checksums" / "btcv.json").read_text())["files"]
    assert "recorded" in (wd / "logs/download/btcv.log").read_text()
    # where the file comes from is no param (before: a new mirror address downloaded, converted and trained again)
    cfg = yaml.safe_load((wd / "test.yaml").read_text())
    cfg["datasets"]["btcv"]["source"] = {"terms_url": "https://mirror.example/terms"}
    (wd / "test.yaml").write_text(yaml.safe_dump(cfg))
    dry = subprocess.run(["snakemake", "-n", "resources/pre/Dataset001_BTCV/raw_dataset_check.json", "--configfile",
                          "test.yaml"], cwd=wd, capture_output=True, text=True)
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout
    cfg["datasets"]["btcv"]["source"] = {"file": "RawData-v2.zip"}  # another file: downloaded and converted again
    (wd / "test.yaml").write_text(yaml.safe_dump(cfg))
    dry = subprocess.run(["snakemake", "resources/pre/Dataset001_BTCV/raw_dataset_check.json", "-n", "--configfile",
                          "test.yaml", "--quiet", "rules"], cwd=wd, capture_output=True, text=True)
    assert dry.returncode == 0 and "download" in dry.stdout and "convert_dataset" in dry.stdout, dry.stdout


def test_bad_case_stops_the_rule_and_nothing_counts_as_converted(tmp_path):
    wd = _workdir(tmp_path)
    with fakes.LocalServer({"/syn3379050/RawData.zip": fakes.btcv_zip(bad_label=17)}) as srv:
        proc = _snakemake(wd, srv.base, f"{RAW}/dataset.json")
    assert proc.returncode != 0
    assert "label0021.nii.gz: unknown label value(s) [17]" in proc.stderr
    assert not (wd / RAW / "dataset.json").exists()
    assert not list((wd / "resources" / "raw").glob(".*partial"))
    # the verified download is kept: after the source is fixed, only conversion would rerun
    assert (wd / "resources/downloads/btcv/download.json").is_file()
