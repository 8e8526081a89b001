"""The workflow's data rules on a fake BTCV served on 127.0.0.1 as a Synapse mirror."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
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
    check = "resources/pre/Dataset001_BTCV/raw_dataset_check.json"
    with fakes.LocalServer({"/syn3379050/RawData.zip": fakes.btcv_zip(),
                            "/syn3379050/RawData-v2.zip": fakes.btcv_zip(numbers=(1, 2, 3, 21))}) as srv:
        proc = _snakemake(wd, srv.base, check)
        assert proc.returncode == 0, proc.stderr[-3000:]
        first = json.loads((wd / check).read_text())
        assert first["cases"] == 3 and first["labels"] == list(range(14))
        assert "RawData.zip" in json.loads((wd / "checksums" / "btcv.json").read_text())["files"]
        assert "recorded" in (wd / "logs/download/btcv.log").read_text()
        # where the file comes from is no param (before: a new mirror address downloaded, converted and trained again)
        cfg = yaml.safe_load((wd / "test.yaml").read_text())
        cfg["datasets"]["btcv"]["source"] = {"terms_url": "https://mirror.example/terms"}
        (wd / "test.yaml").write_text(yaml.safe_dump(cfg))
        dry = subprocess.run(["snakemake", "-n", check, "--configfile", "test.yaml"], cwd=wd, capture_output=True,
                             text=True)
        assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout
        cfg["datasets"]["btcv"]["source"] = {"file": "RawData-v2.zip"}  # another file: downloaded and converted again
        (wd / "test.yaml").write_text(yaml.safe_dump(cfg))
        dry = subprocess.run(["snakemake", check, "-n", "--configfile", "test.yaml", "--quiet", "rules"], cwd=wd,
                             capture_output=True, text=True)
        assert dry.returncode == 0 and "download" in dry.stdout and "convert_dataset" in dry.stdout, dry.stdout
        # and run: the new release replaces the earlier conversion (whose dataset.json Snakemake deleted first)
        proc = _snakemake(wd, srv.base, check)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RawData-v2.zip" in (wd / "logs/convert_dataset/Dataset001_BTCV.log").read_text()
    assert json.loads((wd / check).read_text())["cases"] == 4


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


def test_a_variant_converts_the_one_download_beside_its_paper_dataset(tmp_path):
    """brats21 (here region-based) and brats21_plain (of: brats21, the official plain labels): one download, two raw
    datasets, converted side by side (two cores: both conversions at once, each extracting into its own folder)."""
    wd = _workdir(tmp_path)
    cfg = yaml.safe_load((wd / "test.yaml").read_text())
    cfg["datasets"] = {"brats21": {"id": 4, "name": "BraTS21", "region_based": True, "folds": [0], "patch": 32},
                       "brats21_plain": {"id": 5, "name": "BraTS21Plain", "of": "brats21", "folds": [0], "patch": 32}}
    (wd / "test.yaml").write_text(yaml.safe_dump(cfg))
    checks = ["resources/pre/Dataset004_BraTS21/raw_dataset_check.json",
              "resources/pre/Dataset005_BraTS21Plain/raw_dataset_check.json"]
    tar = "/syn25829067/BraTS2021_Training_Data.tar"
    with fakes.LocalServer({tar: fakes.brats_tar()}) as srv:
        proc = subprocess.run(["snakemake", *checks, "--configfile", "test.yaml", "--cores", "2"], cwd=wd,
                              env={**os.environ, "MEDNEXT_SYNAPSE_MIRROR": srv.base}, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert [path for path, _ in srv.requests] == [tar]  # downloaded once
    regions = json.loads((wd / "resources/raw/Dataset004_BraTS21/dataset.json").read_text())
    plain = json.loads((wd / "resources/raw/Dataset005_BraTS21Plain/dataset.json").read_text())
    assert plain["labels"] == {"background": 0, "edema": 1, "non-enhancing tumor": 2, "enhancing tumor": 3}
    assert regions["labels"]["whole tumor"] == [1, 2, 3] and regions["regions_class_order"] == [1, 2, 3]
    for check in checks:
        assert json.loads((wd / check).read_text())["cases"] == 2
    assert sorted(p.name for p in (wd / "resources/downloads/brats21").iterdir()) == \
        ["BraTS2021_Training_Data.tar", "download.json"]  # both extractions cleaned up
    # the variant is evaluated on BraTS21's regions (as its paper dataset), not on its dataset.json's labels (edema,
    # non-enhancing tumor, enhancing tumor): predictions equal to the references score 1 on exactly these regions
    labels = sorted((wd / "resources/raw/Dataset005_BraTS21Plain/labelsTr").iterdir())
    listing = wd / "results/predictions/brats21_plain/mednext_S_k3.tsv"
    listing.parent.mkdir(parents=True)
    listing.write_text("case\tfold\tpath\n" + "".join(f"{p.name[:-7]}\t0\t{p}\n" for p in labels))
    proc = subprocess.run(["snakemake", "results/per_case/brats21_plain/mednext_S_k3.csv", "--configfile",
                           "test.yaml", "--cores", "1", "--allowed-rules", "evaluate"], cwd=wd, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    per_case = pd.read_csv(wd / "results/per_case/brats21_plain/mednext_S_k3.csv")
    assert sorted(set(per_case["region"])) == ["enhancing tumor", "tumor core", "whole tumor"]
    assert len(per_case) == 2 * 3 and (per_case[["paper_dice", "physical_dice"]] == 1).all().all()
