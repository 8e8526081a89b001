"""A copy of the workflow with a small config in a temporary folder, and snakemake run there."""

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def config(datasets: dict, models=("mednext_S_k3",), **nnunet) -> dict:
    return {"nnunet": {"raw": "resources/raw", "preprocessed": "resources/pre", "results": "resources/res",
                       "num_processes": 1, "num_processes_da": 1, "device": "cpu", "compile": False, **nnunet},
            "results": "results", "complexity_input_size": 32, "models": list(models), "datasets": datasets}


def workdir(tmp_path: Path, datasets: dict, models=("mednext_S_k3",), **nnunet) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "config", "workflow", "paper", "profiles"):
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / item)
    write_config(tmp_path, config(datasets, models, **nnunet))
    return tmp_path


def write_config(wd: Path, cfg: dict, name: str = "test.yaml") -> None:
    (wd / name).write_text(yaml.safe_dump(cfg))


def snakemake(wd, *args, configfile="test.yaml", **kw):
    return subprocess.run(["snakemake", "--configfile", configfile, "--cores", "2", *args], cwd=wd,
                          capture_output=True, text=True, **kw)
