# Configuration validation, names and paths shared by every stage.
import os
from pathlib import Path

from snakemake.utils import min_version, validate

from mednext.nnunet.registry import DEFAULT_BUDGET, REFERENCE_MODEL, model_spec

min_version("9.0")


# `--configfile` replaces the paper configuration instead of merging into it.
if not config:

    configfile: "config/config.yaml"



validate(config, schema="../schemas/config.schema.yaml")

NN = config["nnunet"]
RAW, PRE, NNRES = NN["raw"], NN["preprocessed"], NN["results"]
RESULTS = config.get("results", "results")
DOWNLOADS = config.get("downloads", "resources/downloads")
CHECKSUMS = config.get("checksums", "config/checksums")
LOGS = "logs"
ENV = "../envs/mednext.yaml"
BENCH = "benchmarks/snakemake"


def ds_cfg(dataset):
    """One dataset's settings with the schema's defaults filled in."""
    cfg = dict(config["datasets"][dataset])
    cfg.setdefault("folds", [0, 1, 2, 3, 4])
    cfg.setdefault("patch", 128)
    cfg.setdefault("patch_swinunetr", 128)
    cfg.setdefault("nsd_tolerance_mm", 1.0)
    cfg.setdefault("synthetic", False)
    cfg["budget"] = {**DEFAULT_BUDGET, **cfg.get("budget", {})}
    return cfg


DATASETS = list(config["datasets"])
FOLDER = {d: f"Dataset{ds_cfg(d)['id']:03d}_{ds_cfg(d)['name']}" for d in DATASETS}
KEY_OF_FOLDER = {v: k for k, v in FOLDER.items()}


wildcard_constraints:
    dataset="|".join(DATASETS),
    ds="|".join(FOLDER.values()),
    fold=r"[0-4]",
    model=r"[A-Za-z0-9_]+",


def models(dataset):
    return ds_cfg(dataset).get("models", config["models"])


def default_budget(dataset):
    """Whether the dataset trains for nnU-Net's own length (then nnU-Net runs with its stock trainer)."""
    return all(ds_cfg(dataset)["budget"][k] == v for k, v in DEFAULT_BUDGET.items())


def spec(dataset, model):
    cfg = ds_cfg(dataset)
    return model_spec(model, cfg["patch"], cfg["patch_swinunetr"], default_budget(dataset))


def fold_dir(dataset, model, fold):
    s = spec(dataset, model)
    return f"{NNRES}/{FOLDER[dataset]}/{s.trainer}__{s.plans}__{s.configuration}/fold_{fold}"


def checkpoint(dataset, model, fold):
    return f"{fold_dir(dataset, model, fold)}/checkpoint_final.pth"


def raw_dataset_json(dataset):
    return f"{RAW}/{FOLDER[dataset]}/dataset.json"


def nnunet_env(dataset):
    """Environment for nnU-Net commands: paths, trainer folders, workers, budget."""
    from mednext.nnunet.env import ext_trainer_value

    b = ds_cfg(dataset)["budget"]
    env = {
        "nnUNet_raw": os.path.abspath(RAW),
        "nnUNet_preprocessed": os.path.abspath(PRE),
        "nnUNet_results": os.path.abspath(NNRES),
        "nnUNet_extTrainer": ext_trainer_value(),
        "nnUNet_def_n_proc": NN.get("num_processes", 8),
        "nnUNet_n_proc_DA": NN.get("num_processes_da", 12),
        "nnUNet_compile": "t" if NN.get("compile", True) else "f",
        "MEDNEXT_NUM_EPOCHS": b["epochs"],
        "MEDNEXT_ITERS_PER_EPOCH": b["iterations"],
        "MEDNEXT_VAL_ITERS": b["val_iterations"],
        "MEDNEXT_SAVE_EVERY": b.get("save_every", 50),
    }
    return " ".join(f"{k}={v}" for k, v in env.items())


def train_env(wc):
    """nnunet_env plus the dataset's kernel-5 learning rate (lr_k5) for MedNeXt k5 trainers."""
    dataset = KEY_OF_FOLDER[wc.ds]
    lr = ds_cfg(dataset).get("lr_k5")
    k5 = wc.trainer.startswith("nnUNetTrainerMedNeXt_") and "_k5" in wc.trainer
    return nnunet_env(dataset) + (f" MEDNEXT_LR={lr}" if lr is not None and k5 else "")


def res(rule_kind, key):
    table = config.get("resources", {})
    value = table.get(rule_kind, {}).get(key, table.get("default", {}).get(key))
    return value if value is not None else {"runtime": 60, "mem_mb": 4000, "cpus_per_task": 1, "gpu": 0}[key]


def per_case_csvs(dataset):
    return [f"{RESULTS}/per_case/{dataset}/{m}.csv" for m in models(dataset)]


def run_records(dataset):
    return [f"{fold_dir(dataset, m, f)}/run_record.json" for m in models(dataset) for f in ds_cfg(dataset)["folds"]]


def upstream_checkpoint(wc):
    """The k3 checkpoint an UpKern or Twice run starts from (same dataset, plans, configuration, fold)."""
    if wc.trainer.endswith("_k5_UpKern"):
        source = wc.trainer.replace("_k5_UpKern", "_k3")
    elif wc.trainer.endswith("_Twice"):
        source = wc.trainer[: -len("_Twice")]
    else:
        return []
    return f"{NNRES}/{wc.ds}/{source}__{wc.plans}__{wc.configuration}/fold_{wc.fold}/checkpoint_final.pth"
