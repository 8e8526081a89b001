# Configuration validation, names and paths shared by every stage. A run's identity (trainer,
# plans, configuration, folder, source run, budget, learning rate) comes from mednext.nnunet.runspec.
import hashlib
import json
import os
import re

import jsonschema
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, update_config, validate

from mednext.data.acquire import SOURCES, download_source, paper_dataset as _paper_dataset
from mednext.data.download import sha256_of
from mednext.data.splits import pinned_identity
from mednext.data.validate import DatasetError
from mednext.nnunet.env import ext_trainer_value
from mednext.nnunet.notice import FINAL_VARIABLE, NOTICE_VARIABLE
from mednext.nnunet.registry import (ABLATION_MODELS, MEDNEXT_PLANS, REFERENCE_MODEL, model_spec,
                                     patch_of_configuration)
from mednext.nnunet.requests import train_request
from mednext.nnunet.runspec import CHECKPOINTING_VARIABLE, LR_VARIABLE, dataset_folder, run_spec

min_version("9.0")


# `--configfile` replaces the paper configuration instead of merging into it; `--config KEY=VALUE` alone
# changes a key of it.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"



def as_top_level(value):
    """A value given inside ``--config KEY={...}`` read as Snakemake reads a top-level ``--config`` value: an
    int, float or boolean where the text is one (Snakemake parses the braces with YAML's BaseLoader, which
    leaves every leaf text, so ``nnunet={num_processes: 2}`` failed the schema with '2' is not an integer)."""
    if isinstance(value, dict):
        return {k: as_top_level(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_top_level(v) for v in value]
    if not isinstance(value, str):
        return value
    if value in ("True", "true", "False", "false"):
        return value in ("True", "true")
    for parse in (int, float):
        try:
            return parse(value)
        except ValueError:
            pass
    return value


update_config(config, {k: as_top_level(v) for k, v in workflow.config_settings.config.items()
                       if isinstance(v, (dict, list))})


def config_files():
    """Where this invocation's configuration comes from, for its error messages."""
    files = ", ".join(str(f) for f in workflow.configfiles) or "config/config.yaml"
    if workflow.config_settings.config:
        files += f" with --config {' '.join(workflow.config_settings.config)}"
    return files


def canonical(value):
    """A config value as a param: dicts with sorted keys, so that the order keys are written in (or the
    schema fills defaults in) reruns nothing (Snakemake compares params by their repr)."""
    return json.loads(json.dumps(value, sort_keys=True))


try:
    validate(config, schema="../schemas/config.schema.yaml")  # fills in the schema's defaults
except WorkflowError as err:  # its text carries the whole schema: say the key, the problem and the file only
    problem = err.__context__  # snakemake raises it while handling jsonschema's error
    if not isinstance(problem, jsonschema.ValidationError):
        raise
    where = ".".join(str(p) for p in problem.absolute_path) or "the top level"
    raise WorkflowError(f"invalid configuration ({config_files()}), at {where}: {problem.message}. "
                        "workflow/schemas/config.schema.yaml describes every key.") from None

NN = config["nnunet"]
RAW, PRE, NNRES = NN["raw"], NN["preprocessed"], NN["results"]
RESULTS, DOWNLOADS, CHECKSUMS = config["results"], config["downloads"], config["checksums"]
LOGS = "logs"
ENV = "../envs/mednext.yaml"
BENCH = "benchmarks/snakemake"

# What changes no result (absolute paths, worker counts, device, compile, checkpointing, checkpoint interval,
# notice) reaches nnU-Net through the environment of every job, never through a rule's params: changing it,
# or moving the checkout, reruns nothing.
os.environ.update(
    nnUNet_raw=os.path.abspath(RAW),
    nnUNet_preprocessed=os.path.abspath(PRE),
    nnUNet_results=os.path.abspath(NNRES),
    nnUNet_extTrainer=ext_trainer_value(),
    nnUNet_def_n_proc=str(NN["num_processes"]),
    # nnU-Net's planner calls torch.set_num_threads(nnUNet_n_proc_DA): 0 (augmentation in the training process)
    # is for training jobs only, which take it from MEDNEXT_TRAIN_N_PROC_DA (rule train)
    nnUNet_n_proc_DA=str(max(1, NN["num_processes_da"])),
    MEDNEXT_TRAIN_N_PROC_DA=str(NN["num_processes_da"]),
    nnUNet_compile="t" if NN["compile"] else "f",
    MEDNEXT_DEVICE=NN["device"],  # nnUNetv2_train -device (rule train)
    MEDNEXT_CHECKSUMS=os.path.abspath(CHECKSUMS),  # the checksum records (rule download)
    **({"MEDNEXT_SAVE_EVERY": str(NN["save_every"])} if "save_every" in NN else {}),
    **({CHECKPOINTING_VARIABLE: NN["checkpointing"]} if "checkpointing" in NN else {}),
    **{NOTICE_VARIABLE: str(config["cluster"]["notice_s"]), FINAL_VARIABLE: str(60 * config["cluster"]["overhead_min"])},
)
if "checkpointing" not in NN:  # unset means the trainers' default, also when the calling shell exports one
    os.environ.pop(CHECKPOINTING_VARIABLE, None)
# A run's learning rate is its spec's (RunSpec.environment, in its folder's name), never one the calling shell
# exports for plain nnUNetv2_train: that would train a run at another rate than its folder says.
os.environ.pop(LR_VARIABLE, None)


def ds_cfg(dataset):
    return config["datasets"][dataset]


def paper_dataset(dataset):
    """Which paper dataset (btcv, amos22, kits19, brats21) a configured one is downloaded, converted and evaluated
    as: its ``of`` (a variant, with its own id, name, settings and runs), else its key."""
    return _paper_dataset(dataset, ds_cfg(dataset))


DATASETS = list(config["datasets"])
FOLDER = {d: dataset_folder(d, config) for d in DATASETS}
for _i, _d in enumerate(DATASETS):  # nnU-Net finds a dataset by its id: two with one id fail every nnU-Net command
    _same = [e for e in DATASETS[_i + 1:] if ds_cfg(e)["id"] == ds_cfg(_d)["id"]]
    if _same:
        raise WorkflowError(f"datasets {_d} and {_same[0]} both have id {ds_cfg(_d)['id']}: give each dataset its own "
                            "nnU-Net id (the paper's datasets have 1-4)")
KEY_OF_FOLDER = {v: k for k, v in FOLDER.items()}


def _subfolders(root):
    return [e for e in os.scandir(root) if e.is_dir()] if os.path.isdir(root) else []


def other_folders_of_id(dataset):
    """Folders that nnU-Net takes for this dataset's id beside its own (left by a renamed dataset, or by another
    dataset that had the id): nnU-Net finds a dataset by the prefix DatasetNNN in the raw, preprocessed and results
    folders (a run's results root: NNRES or a settings folder in it) and stops on two names."""
    prefix = f"Dataset{ds_cfg(dataset)['id']:03d}"  # nnU-Net's own match (dataset_name_id_conversion)
    settings = [e.path for e in _subfolders(NNRES) if not e.name.startswith("Dataset")]
    return sorted(e.path for root in (RAW, PRE, NNRES, *settings) for e in _subfolders(root)
                  if e.name.startswith(prefix) and e.name != FOLDER[dataset])


for _d in DATASETS:
    if _others := other_folders_of_id(_d):
        raise WorkflowError(
            f"{', '.join(_others)}: nnU-Net would take {'these' if len(_others) > 1 else 'this'} for dataset {_d} "
            f"(id {ds_cfg(_d)['id']}) beside {FOLDER[_d]} and stop ('More than one dataset name found'). Left by a "
            f"renamed dataset or one that had this id before? Move {'them' if len(_others) > 1 else 'it'} away (or "
            f"delete {'them' if len(_others) > 1 else 'it'}), or give {_d} another id.")


def how_made_problem(dataset):
    """What is wrong with how a dataset comes about (a phantom, your own folder, or a paper dataset's download,
    maybe as a variant), or None."""
    made = [k for k in ("phantom", "path", "of") if k in ds_cfg(dataset)]
    if len(made) > 1:
        return f"gives {' and '.join(made)}: one way to make a dataset only"
    if dataset in SOURCES and paper_dataset(dataset) != dataset:
        return f"is {dataset} itself and cannot be a variant of {paper_dataset(dataset)} (give the variant a key of its own)"
    if not made and dataset not in SOURCES:
        return ("is no paper dataset: give it `of: <paper dataset>` (a variant of one), `phantom:` (a synthetic one) "
                "or `path:` (your own nnU-Net raw folder)")
    return None


for _d in DATASETS:
    _problem = how_made_problem(_d)
    if _problem:
        raise WorkflowError(f"invalid configuration ({config_files()}): datasets.{_d} {_problem}. The paper datasets: "
                            f"{', '.join(SOURCES)}")
    try:  # the variants of a paper dataset share its download
        download_source(paper_dataset(_d), config["datasets"])
    except DatasetError as err:
        raise WorkflowError(f"invalid configuration ({config_files()}): {err}") from None


# The ablation cells (mednext.nnunet.registry.ABLATION_MODELS) are part of `all` on these datasets; an
# ablation dataset that is not configured is skipped (the demo has neither BTCV nor AMOS22).
ABLATION_DATASETS = [d for d in config["ablation_datasets"] if d in DATASETS]


def models(dataset, extended=False):
    """The models of a dataset in `all` (its table): the configured ones, plus the ablation cells on an ablation
    dataset. ``extended``: every model of the full matrix, i.e. also the ablation cells on every dataset and the
    configured ``extended_models``."""
    keys = list(ds_cfg(dataset).get("models", config["models"]))
    if extended or dataset in ABLATION_DATASETS:
        keys += ABLATION_MODELS
    if extended:
        keys += config["extended_models"]
    return list(dict.fromkeys(keys))


def extended_models(dataset):
    """The models of a dataset that only `extended` trains (the full matrix less `all`)."""
    return [m for m in models(dataset, extended=True) if m not in models(dataset)]


def runs(dataset, model=None):
    """The runs of a dataset in `all` (of one model, which may be an extended one), fold by fold."""
    keys = [model] if model else models(dataset)
    return [run_spec(dataset, m, f, config) for m in keys for f in ds_cfg(dataset)["folds"]]


for _d in DATASETS:
    _specs = []
    for _m in models(_d, extended=True):  # the schema's pattern admits keys the registry has no model for
        try:
            _specs.append(model_spec(_m))
        except ValueError as err:
            raise WorkflowError(f"invalid configuration ({config_files()}): model {_m} of dataset {_d} "
                                f"(models, extended_models or datasets.{_d}.models): {err}") from None
    _trained = [s.key for s in _specs] + [s.depends_on for s in _specs if s.depends_on]  # sources train too
    _unknown = sorted(set(ds_cfg(_d).get("model_budgets", {})) - set(_trained))
    if _unknown:
        raise WorkflowError(f"invalid configuration ({config_files()}): datasets.{_d}.model_budgets names models "
                            f"this dataset does not train: {_unknown} (its models: {list(dict.fromkeys(_trained))})")


# Every run a target may need (those of `all` and `extended`, and their sources), by folder under nnUNet_results.
try:
    RUN = {r.folder: r for d in DATASETS for m in models(d, extended=True) for run in runs(d, m)
           for r in filter(None, (run.source, run))}
except ValueError as err:  # runspec's: an UpKern/twice run whose budget differs from its source's
    raise WorkflowError(f"invalid configuration ({config_files()}): {err}") from None
SOURCES = sorted({r.source.folder for r in RUN.values() if r.source})
# What each training job asks the cluster for (runtime, GPU memory): resources, never params.
REQUEST = {folder: train_request(run, config) for folder, run in RUN.items()}


def _one_of(names):
    return "|".join(map(re.escape, names)) or "(?!x)x"


wildcard_constraints:
    dataset="|".join(DATASETS),
    ds="|".join(FOLDER.values()),
    model=r"[A-Za-z0-9_]+",


def of_dataset(pattern, folder):
    """A per-dataset output pattern (``rules.X.output``, wildcard ``ds``) for one dataset folder."""
    return expand(pattern, ds=folder)[0]


def run_file(run, name):
    return f"{NNRES}/{run.folder}/{name}"


def run_param(name):
    """A param of the train rule: one attribute of the run its wildcard names."""
    return lambda wc: getattr(RUN[wc.run], name)


def res(rule_kind, key):
    table = config.get("resources", {})
    value = table.get(rule_kind, {}).get(key, table.get("default", {}).get(key))
    return value if value is not None else {"runtime": 60, "mem_mb": 4000, "cpus_per_task": 1, "gpu": 0}[key]


def cpu_resources(rule_name):
    """A CPU rule's request: its own row of the config's `resources:` (by rule name), else the `default` row.
    The executor's default-resources (the profile's, `--default-resources`) only add what neither names
    (partition, account)."""
    return {key: res(rule_name, key) for key in ("runtime", "mem_mb", "cpus_per_task")}


def pinned_splits_file(folder):
    """The shipped (or first-run recorded) 5-fold splits of a dataset folder's dataset (mednext.data.splits)."""
    return f"config/splits/{KEY_OF_FOLDER[folder]}.json"


def phantom_settings(folder):
    return canonical(ds_cfg(KEY_OF_FOLDER[folder])["phantom"])


def source_file(paper):
    """Which file of a paper dataset's source, not where from: a mirror's address changes no byte
    (config/checksums pins them); the download script takes the rest of the source from the config."""
    return {k: v for k, v in download_source(paper, config["datasets"]).items() if k == "file"}


def conversion_settings(folder):
    """What makes a paper dataset's raw folder of its download: which paper dataset a variant is (``of``), and
    the converter's options."""
    return canonical({k: v for k, v in ds_cfg(KEY_OF_FOLDER[folder]).items() if k in ("of", "cases", "region_based")})


def user_dataset_json(folder):
    return os.path.join(ds_cfg(KEY_OF_FOLDER[folder])["path"], "dataset.json")


USER_SUBFOLDERS = ("imagesTr", "labelsTr", "imagesTs", "labelsTs")  # those rule link_user_dataset links


def user_dataset_files(folder):
    """The name and size of every file in a user dataset's linked folders (its sha256 over them): images or labels
    replaced under an unchanged dataset.json change it, a copy of the dataset elsewhere (new modification
    times, another ``path``) does not. A stat per file, not a read: cheap for any dataset."""
    root = ds_cfg(KEY_OF_FOLDER[folder])["path"]
    listing = sorted((sub, entry.name, entry.stat().st_size) for sub in USER_SUBFOLDERS
                     if os.path.isdir(os.path.join(root, sub))
                     for entry in os.scandir(os.path.join(root, sub)) if entry.is_file())
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def data_identity(folder):
    """What the runs on a dataset folder train on, from the config and the files it names: the data (the
    phantom's settings; the source file and conversion settings; the sha256 of a user dataset's dataset.json and
    :func:`user_dataset_files`) and the pinned splits (rule data_identity, whose param is it as sorted-keys JSON)."""
    if folder in PHANTOMS:
        data = phantom_settings(folder)
    elif folder in USER:
        data = {"dataset.json": sha256_of(user_dataset_json(folder)) if os.path.isfile(user_dataset_json(folder))
                else None, "files": user_dataset_files(folder)}
    else:
        data = {"source": source_file(paper_dataset(KEY_OF_FOLDER[folder])), "conversion": conversion_settings(folder)}
    return {"data": data, "splits": pinned_identity(pinned_splits_file(folder))}


def per_case_csvs(dataset, keys=None):
    return [f"{RESULTS}/per_case/{dataset}/{m}.csv" for m in (models(dataset) if keys is None else keys)]


def small_patches(folder):
    """The smaller patch edges (``--small-patches``) of the MedNeXt-plans configurations that runs on this dataset
    train: a patch no run uses (patch_swinunetr where SwinUNETR is not trained) would rewrite the plans, which every
    run's inputs include, and so retrain them all."""
    edges = {patch_of_configuration(r.configuration) for r in RUN.values()
             if r.dataset_folder == folder and r.plans == MEDNEXT_PLANS}
    return " ".join(str(p) for p in sorted(edges - {128}))


def raw_dataset_json(dataset):
    return f"{RAW}/{FOLDER[dataset]}/dataset.json"
