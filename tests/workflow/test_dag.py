"""The Snakemake DAG: validated config, full paper plan without data, lint."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of the workflow, so that these checks never touch (or wait for) a run in the checkout."""
    return _copy_workflow(tmp_path_factory.mktemp("workflow"))


def _copy_workflow(wd: Path) -> Path:
    wd.mkdir(exist_ok=True)
    shutil.copy(ROOT / "Snakefile", wd)
    for folder in ("config", "workflow", "paper", "profiles", "slurm"):
        shutil.copytree(ROOT / folder, wd / folder)
    return wd


def _snakemake(cwd, *args):
    return subprocess.run(["snakemake", *args], cwd=cwd, capture_output=True, text=True)


def _job_counts(output: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", output, re.M)}


def _train_jobs(cwd, *targets) -> dict[str, dict]:
    """The training jobs a fresh dry run of ``targets`` plans, by run folder: their rule and inputs."""
    proc = _snakemake(cwd, *targets, "-n")
    assert proc.returncode == 0, proc.stderr
    jobs = {}
    for block in re.split(r"^(?=rule \w+:$)", proc.stdout, flags=re.M):
        rule = re.match(r"rule (train\w*):$", block, re.M)
        if rule:
            run = re.search(r"^\s+wildcards: run=(\S+)$", block, re.M).group(1)
            inputs = re.search(r"^\s+input: (.*)$", block, re.M).group(1).split(", ")
            assert run not in jobs, run
            jobs[run] = {"rule": rule.group(1), "input": inputs}
    return jobs


def _trainings(cwd, *targets) -> set[tuple[str, str]]:
    """The training jobs a fresh dry run of ``targets`` plans, as (run folder, rule)."""
    return {(run, job["rule"]) for run, job in _train_jobs(cwd, *targets).items()}


def test_paper_dag_plans_without_data(workdir):
    proc = _snakemake(workdir, "all", "-n", "--quiet", "rules")
    assert proc.returncode == 0, proc.stderr
    counts = _job_counts(proc.stdout + proc.stderr)
    # the main table, 4 datasets x 11 models x 5 folds, + MedNeXt-B's ablation-only cells (k3 without residual
    # resampling, k5 from scratch, k3 trained twice) on BTCV and AMOS22 x 5 folds
    assert counts["train"] + counts["train_upkern_source"] == 4 * 11 * 5 + 2 * 3 * 5 == 250
    assert counts["train_upkern_source"] == 4 * 4 * 5  # S/B/M/L k3 of every dataset and fold go first
    assert counts["evaluate"] == counts["oof_predictions"] == 4 * 11 + 2 * 3
    assert counts["table"] == counts["figures"] == 4
    assert counts["download"] == counts["convert_dataset"] == 4 and counts["plan_mednext"] == 4


def test_config_on_the_command_line_changes_one_key_of_the_paper_config(workdir):
    """`--config KEY=VALUE` alone changes that key; the paper configuration stays (only --configfile replaces it)."""
    proc = _snakemake(workdir, "all", "-n", "--quiet", "rules", "--config", "results=elsewhere")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _job_counts(proc.stdout + proc.stderr)["train"] > 0
    proc = _snakemake(workdir, "elsewhere/tables/btcv.csv", "-n", "--quiet", "rules", "--config", "results=elsewhere")
    assert proc.returncode == 0 and _job_counts(proc.stdout + proc.stderr)["table"] == 1, proc.stderr[-3000:]


def test_training_jobs_ask_slurm_for_their_cpus(workdir):
    """The SLURM profile's default cpus_per_task (1) would win over a rule's threads: train names its own."""
    proc = _snakemake(workdir, "results/tables/btcv.csv", "-n", "--profile", "slurm")
    assert proc.returncode == 0, proc.stderr[-3000:]
    train = [b for b in re.split(r"^(?=rule \w+:$)", proc.stdout, flags=re.M) if b.startswith("rule train")]
    cpus = yaml.safe_load((workdir / "config/config.yaml").read_text())["resources"]["train"]["cpus_per_task"]
    assert train and all(f"cpus_per_task={cpus}" in b for b in train)


def test_every_rule_asks_for_its_row_of_the_config_and_the_partition_comes_from_the_command_line(workdir):
    """Runtime, memory and CPUs: a rule's own row of `resources:` (by rule name), else `default`; the profile's
    or the command line's default-resources add the partition and account (the README's command)."""
    cfg = yaml.safe_load((workdir / "config/config.yaml").read_text())
    cfg["resources"]["default"] = {"runtime": 600, "mem_mb": 32000, "cpus_per_task": 4}
    cfg["resources"]["convert_dataset"] = {"runtime": 900, "mem_mb": 64000}
    (workdir / "resources.yaml").write_text(yaml.safe_dump(cfg))
    proc = _snakemake(workdir, "results/tables/btcv.csv", "-n", "--profile", "slurm", "--configfile", "resources.yaml",
                      "--default-resources", "slurm_partition=gpu", "slurm_account=myproj")
    assert proc.returncode == 0, proc.stderr[-3000:]
    asked = {}
    for block in re.split(r"^(?=rule \w+:$)", proc.stdout, flags=re.M):
        if (rule := re.match(r"rule (\w+):$", block, re.M)) and (line := re.search(r"^\s+resources: (.*)$", block, re.M)):
            asked[rule.group(1)] = dict(kv.split("=", 1) for kv in line.group(1).split(", "))
    for rule in ("download", "check_raw_dataset", "splits", "oof_predictions", "table"):
        assert {k: asked[rule][k] for k in ("runtime", "mem_mb", "cpus_per_task")} == \
            {"runtime": "600", "mem_mb": "32000", "cpus_per_task": "4"}, rule
    assert {k: asked["convert_dataset"][k] for k in ("runtime", "mem_mb", "cpus_per_task")} == \
        {"runtime": "900", "mem_mb": "64000", "cpus_per_task": "4"}
    assert all(r["slurm_partition"] == "gpu" and r["slurm_account"] == "myproj" for r in asked.values())


def test_all_and_extended_split_the_full_matrix(workdir):
    main, extended = _trainings(workdir, "all"), _trainings(workdir, "extended")
    assert len(main) == 250 and len({run for run, _ in main}) == 250
    k5_scratch = re.compile(r"MedNeXt_[SML]_k5__")
    assert not any(k5_scratch.search(run) for run, _ in main)  # the main table's k5 is UpKern
    ablation_only = ("MedNeXt_B_k5__", "MedNeXt_B_k3_NoResResample__", "MedNeXt_B_k3_Twice__")
    for cell in ablation_only:
        assert {run.split("/")[0] for run, _ in main if cell in run} == {"Dataset001_BTCV", "Dataset002_AMOS22"}
    # extended: S/M/L k5 from scratch on 4 datasets + the three ablation-only cells on KiTS19 and BraTS21 = 90
    # trainings beyond `all`; on its own it also plans the B k3 runs of KiTS19/BraTS21 its "twice" runs start from
    beyond = extended - main
    assert len(beyond) == 4 * 3 * 5 + 2 * 3 * 5 == 90
    assert {run for run, _ in extended - beyond} == {run for run, _ in main if re.search(
        r"Dataset00[34]_\w+/nnUNetTrainerMedNeXt_B_k3__", run)}
    assert len({run for run, _ in main | extended}) == 4 * 17 * 5  # the old full matrix, every run once
    assert all(rule == "train_upkern_source" for run, rule in main | extended if re.search(r"MedNeXt_\w_k3__", run))


def test_training_jobs_ask_for_their_models_runtime_within_the_cap(workdir):
    proc = _snakemake(workdir, "all", "-n")
    assert proc.returncode == 0, proc.stderr
    runtime = {}
    for block in re.split(r"^(?=rule \w+:$)", proc.stdout, flags=re.M):
        if re.match(r"rule train\w*:$", block, re.M):
            run = re.search(r"^\s+wildcards: run=(\S+)$", block, re.M).group(1)
            runtime[run] = int(re.search(r"^\s+resources: .*\bruntime=(\d+)", block, re.M).group(1))
            assert re.search(r"\bgpu_mem_gb=\d+", block), block
    cap = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["cluster"]["max_runtime_min"]
    assert len(runtime) == 250 and max(runtime.values()) <= cap
    by_trainer = {re.search(r"/(\w+?)__", run).group(1): m for run, m in runtime.items()}
    assert by_trainer["nnUNetTrainerMedNeXt_L_k5_UpKern"] > by_trainer["nnUNetTrainerBudget"]
    assert by_trainer["nnUNetTrainerMedNeXt_L_k5_UpKern"] > by_trainer["nnUNetTrainerMedNeXt_S_k3"]


def test_one_table_plans_the_btcv_chain(workdir):
    proc = _snakemake(workdir, "results/tables/btcv.csv", "-n", "--quiet", "rules")
    assert proc.returncode == 0, proc.stderr
    counts = _job_counts(proc.stdout + proc.stderr)
    assert counts["download"] == counts["convert_dataset"] == counts["check_raw_dataset"] == 1
    assert counts["train"] + counts["train_upkern_source"] == (11 + 3) * 5  # main table + B ablation cells
    assert counts["table"] == 1
    dag = _snakemake(workdir, "results/tables/btcv.csv", "-n", "--dag")
    edges = {(a, b) for a, b in re.findall(r'(\d+) -> (\d+)', dag.stdout)}
    names = dict(re.findall(r'(\d+)\[label = "(\w+)', dag.stdout))
    chain = [("download", "convert_dataset"), ("convert_dataset", "check_raw_dataset"),
             ("check_raw_dataset", "plan_nnunet")]
    for parent, child in chain:
        assert any(names[a] == parent and names[b] == child for a, b in edges), (parent, child)


@pytest.mark.parametrize("target", ["all", "extended"])
def test_upkern_and_twice_jobs_depend_on_k3_of_the_same_fold(workdir, target):
    jobs = _train_jobs(workdir, target)
    children = [run for run in jobs if re.search(r"_(UpKern|Twice)__", run)]
    # all: S/B/M/L k5 UpKern on 4 datasets, B k3 twice on 2; extended: B k3 twice on KiTS19 and BraTS21
    assert len(children) == ((4 * 4 + 2) * 5 if target == "all" else 2 * 5)
    for child in children:
        k3 = re.sub(r"_k5_UpKern__|_k3_Twice__", "_k3__", child).replace("lr0.0001/", "")  # k3: the recipe's lr
        assert re.search(r"/fold_\d$", k3) and k3 in jobs and jobs[k3]["rule"] == "train_upkern_source", child
        sources = [f for f in jobs[child]["input"] if f.endswith("checkpoint_final.pth")]
        assert sources == [f"resources/nnUNet_results/{k3}/checkpoint_final.pth"], (child, sources)


def test_demo_plans_every_model_family_and_six_evaluated_cases(workdir):
    proc = _snakemake(workdir, "-n", "--quiet", "rules", "--configfile", "config/demo.yaml")
    assert proc.returncode == 0, proc.stderr
    counts = _job_counts(proc.stdout + proc.stderr)
    assert counts["train"] + counts["train_upkern_source"] == 5 and "download" not in counts
    assert counts["evaluate"] == 5 and counts["figures"] == 1
    jobs = _train_jobs(workdir, "--configfile", "config/demo.yaml")
    trainers = {re.search(r"/(\w+?)__", run).group(1) for run in jobs}
    assert trainers == {"nnUNetTrainerBudget", "nnUNetTrainerUNETR",
                        "nnUNetTrainerMedNeXt_B_k3", "nnUNetTrainerMedNeXt_B_k5", "nnUNetTrainerMedNeXt_B_k5_UpKern"}
    upkern = next(run for run in jobs if "_UpKern__" in run)  # starts from the k3 run of its fold, same budget
    assert jobs[upkern]["input"][-1].endswith(upkern.replace("_k5_UpKern__", "_k3__") + "/checkpoint_final.pth")
    # the evaluated cases are fold 0's validation cases: at least 6 of the phantom's
    from mednext.data.splits import make_splits
    phantom = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())["datasets"]["phantom"]
    cases = [f"phantom_{i:03d}" for i in range(phantom["phantom"]["cases"])]
    assert phantom["folds"] == [0] and len(make_splits(cases)[0]["val"]) >= 6


def test_bad_config_is_refused_with_the_key_named(workdir, tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["datasets"]["phantom"]["patch"] = 40
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = _snakemake(workdir, "-n", "--configfile", str(bad))
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"invalid configuration ({bad}), at datasets.phantom.patch: 40 is not a multiple of 16" in out
    assert len(out.splitlines()) < 10  # the key, the problem and the file; not the whole schema
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["models"].append("mednext_X_k9")
    bad.write_text(yaml.safe_dump(cfg))
    proc = _snakemake(workdir, "-n", "--configfile", str(bad))
    assert proc.returncode != 0 and "'mednext_X_k9' does not match" in proc.stdout + proc.stderr
    del cfg["models"][-1]
    cfg["result"] = cfg.pop("results")  # a misspelt top-level key
    bad.write_text(yaml.safe_dump(cfg))
    proc = _snakemake(workdir, "-n", "--configfile", str(bad))
    assert proc.returncode != 0 and "at the top level: Additional properties are not allowed ('result' was " \
        "unexpected)" in proc.stdout + proc.stderr and len((proc.stdout + proc.stderr).splitlines()) < 10
    proc = _snakemake(workdir, "-n", "--config", "nnunet=3")
    assert "invalid configuration (config/config.yaml with --config nnunet), at nnunet: 3 is not of type 'object'" \
        in proc.stdout + proc.stderr


def test_values_inside_config_braces_are_typed_as_top_level_ones(workdir):
    # Snakemake reads --config KEY={...} with YAML's BaseLoader: every leaf arrived as text, and
    # nnunet={num_processes: 2} failed the schema with "'2' is not of type 'integer'"
    proc = _snakemake(workdir, "-n", "--quiet", "rules", "--configfile", "config/demo.yaml",
                      "--config", "nnunet={num_processes: 2, num_processes_da: 0, compile: false}",
                      "datasets={phantom: {folds: [0], lr_k5: 1e-4}}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _job_counts(proc.stdout)["train"] > 0
    proc = _snakemake(workdir, "-n", "--configfile", "config/demo.yaml", "--config", "nnunet={num_processes: two}")
    assert proc.returncode != 0
    assert "at nnunet.num_processes: 'two' is not of type 'integer'" in proc.stdout + proc.stderr


def test_the_order_config_keys_are_written_in_reruns_nothing(tmp_path):
    # Snakemake compares params by repr: before, {seed, cases} after {cases, seed} made the phantom again, and
    # through its files every plan, preprocessing and training after it
    from .small_run import snakemake as run, workdir as small_workdir, write_config

    phantom = {"cases": 5, "seed": 2, "shape": [24, 24, 16], "spacing": [1.0, 1.0, 1.5]}
    datasets = {"phantom": {"id": 902, "name": "Phantom", "synthetic": True, "phantom": phantom, "folds": [0],
                            "patch": 32}}
    wd = small_workdir(tmp_path, datasets)
    target = "resources/raw/Dataset902_Phantom/dataset.json"
    assert run(wd, target).returncode == 0
    cfg = yaml.safe_load((wd / "test.yaml").read_text())
    cfg["datasets"]["phantom"]["phantom"] = dict(reversed(list(phantom.items())))
    (wd / "test.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run(wd, target, "-n")
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout
    cfg["datasets"]["phantom"]["phantom"]["seed"] = 3  # a value, not an order: made again
    write_config(wd, cfg)
    proc = run(wd, target, "-n", "--quiet", "rules")
    assert proc.returncode == 0 and "phantom_dataset" in proc.stdout, proc.stdout


def test_mednext_plans_have_only_the_patches_that_runs_train(workdir):
    # before: patch_swinunetr was planned where SwinUNETR is not trained, so changing it rewrote the plans that
    # every run's inputs include, and retrained them all
    def small(*config):
        proc = _snakemake(workdir, "-n", "-p", "--configfile", "config/demo.yaml", *config)
        assert proc.returncode == 0, proc.stderr
        return re.search(r"--small-patches ([\d ]*?) >", proc.stdout).group(1).split()

    assert small() == ["32"]  # the demo trains no SwinUNETR
    assert small("--config", "datasets={phantom: {patch_swinunetr: 96}}") == ["32"]
    assert small("--config", "models=[nnunet, unetr, swinunetr]") == ["32", "64"]  # its ablation cells use 32


def test_model_keys_and_budgets_the_registry_refuses_name_the_key_and_the_file(workdir, tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["datasets"]["phantom"]["models"] = ["nnunet", "mednext_B_k3_upkern"]  # the schema's pattern admits it
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = _snakemake(workdir, "-n", "--configfile", str(bad))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert f"invalid configuration ({bad}): model mednext_B_k3_upkern of dataset phantom" in out
    assert "UpKern initialises a k5 model from k3; use mednext_B_k5_upkern" in out
    # an UpKern model trained without its k3 listed: its source's budget can be given, as the message says
    cfg["datasets"]["phantom"]["models"] = ["mednext_S_k5_upkern"]
    cfg["datasets"]["phantom"]["model_budgets"] = {"mednext_S_k5_upkern": {"epochs": 2}}
    bad.write_text(yaml.safe_dump(cfg))
    proc = _snakemake(workdir, "-n", "--configfile", str(bad))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "give both the same model_budgets entry" in out and "Traceback" not in out
    cfg["datasets"]["phantom"]["model_budgets"]["mednext_S_k3"] = {"epochs": 2}
    bad.write_text(yaml.safe_dump(cfg))
    proc = _snakemake(workdir, "-n", "--configfile", str(bad))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_two_datasets_with_one_id_are_refused(workdir, tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["datasets"]["mine"] = {**cfg["datasets"]["phantom"], "name": "Mine"}  # id 900 too
    bad = tmp_path / "dup.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = _snakemake(workdir, "-n", "--configfile", str(bad))  # before: planned; then nnU-Net failed every job
    assert proc.returncode != 0
    # safe_dump sorts the keys: 'mine' comes first in this config
    assert "datasets mine and phantom both have id 900" in proc.stdout + proc.stderr


def test_a_folder_left_with_a_datasets_id_under_another_name_is_refused(tmp_path):
    """A dataset renamed (or its id given to another) leaves folders that nnU-Net takes for the same id: every nnU-Net
    command of it would stop ('More than one dataset name found'). The DAG names them first; its own are fine."""
    wd = _copy_workflow(tmp_path / "wd")
    demo = wd / "resources" / "demo"
    for own in ("nnUNet_raw/Dataset900_Phantom", "nnUNet_results/e4_it24_val2/Dataset900_Phantom"):
        (demo / own).mkdir(parents=True)
    proc = _snakemake(wd, "-n", "--configfile", "config/demo.yaml")
    assert proc.returncode == 0, proc.stderr[-2000:]
    left = [demo / "nnUNet_preprocessed" / "Dataset900_OldPhantom",
            demo / "nnUNet_results" / "e4_it24_val2" / "Dataset900_OldPhantom"]
    for folder in left:
        folder.mkdir(parents=True)
    proc = _snakemake(wd, "-n", "--configfile", "config/demo.yaml")
    assert proc.returncode != 0
    named = ", ".join(str(f.relative_to(wd)) for f in sorted(left))
    assert f"{named}: nnU-Net would take these for dataset phantom (id 900) beside Dataset900_Phantom" in proc.stdout + proc.stderr


def test_a_variant_shares_its_paper_datasets_download_and_trains_its_own_runs(workdir, tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg.update(models=["mednext_S_k3"], ablation_datasets=[], datasets={
        "brats21": {"id": 4, "name": "BraTS21", "folds": [0]},
        "brats21_regions": {"id": 5, "name": "BraTS21Regions", "of": "brats21", "region_based": True, "folds": [0]}})
    variant = tmp_path / "variant.yaml"
    variant.write_text(yaml.safe_dump(cfg))
    proc = _snakemake(workdir, "all", "-n", "--configfile", str(variant))
    assert proc.returncode == 0, proc.stderr
    counts = _job_counts(proc.stdout)
    assert counts["download"] == 1 and counts["convert_dataset"] == 2
    converts = [b for b in re.split(r"^(?=rule \w+:$)", proc.stdout, flags=re.M) if b.startswith("rule convert_dataset:")]
    assert all(re.search(r"^\s+input: resources/downloads/brats21/download.json$", b, re.M) for b in converts)
    assert set(_train_jobs(workdir, "all", "--configfile", str(variant))) == {
        f"{d}/nnUNetTrainerMedNeXt_S_k3__nnUNetPlans_MedNeXt__3d_fullres/fold_0"
        for d in ("Dataset004_BraTS21", "Dataset005_BraTS21Regions")}


@pytest.mark.parametrize("entry, problem", [
    ({"id": 6, "name": "Mine"}, "datasets.mine is no paper dataset: give it `of: <paper dataset>`"),
    ({"id": 6, "name": "Mine", "of": "brats21", "phantom": {"cases": 5}}, "datasets.mine gives phantom and of: one way"),
    ({"id": 6, "name": "Mine", "of": "kits19", "source": {"file": "other.zip"}},
     "datasets kits19, mine are all kits19, downloaded once, but give different `source` settings"),
])
def test_how_a_dataset_comes_about_is_checked_with_the_key_named(workdir, tmp_path, entry, problem):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["datasets"]["kits19"]["source"] = {"file": "kits19-labels-v2.zip"}
    cfg["datasets"]["mine"] = entry
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = _snakemake(workdir, "-n", "--configfile", str(bad))
    assert proc.returncode != 0 and f"invalid configuration ({bad}): {problem}" in proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("snakemake") is None, reason="snakemake not installed")
def test_lint_is_clean(workdir):
    proc = _snakemake(workdir, "--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


def test_kits19_kernel5_runs_get_the_papers_learning_rate(workdir):
    # lr 1e-4 is not the recipe's 1e-3: those runs have their own folder, their k3 source does not
    target = ("resources/nnUNet_results/lr0.0001/Dataset003_KiTS19/nnUNetTrainerMedNeXt_L_k5_UpKern__"
              "nnUNetPlans_MedNeXt__3d_fullres/fold_1/checkpoint_final.pth")
    proc = _snakemake(workdir, target, "-n", "-p", "--forceall")
    assert proc.returncode == 0, proc.stderr
    commands = [c for c in re.split(r"\n\s*\n", proc.stdout) if "nnUNetv2_train" in c]
    lr = {re.search(r"-tr (\w+)", c).group(1): re.search(r"MEDNEXT_LR=(\S+)", c) for c in commands}
    assert lr["nnUNetTrainerMedNeXt_L_k3"] is None  # k3 keeps the recipe's 1e-3
    assert float(lr["nnUNetTrainerMedNeXt_L_k5_UpKern"].group(1)) == 1e-4
    assert "MEDNEXT_SOURCE_CHECKPOINT=\"resources/nnUNet_results/Dataset003_KiTS19/nnUNetTrainerMedNeXt_L_k3__" in proc.stdout
    btcv = _snakemake(workdir, target.replace("lr0.0001/Dataset003_KiTS19", "Dataset001_BTCV"), "-n", "-p", "--forceall")
    assert btcv.returncode == 0, btcv.stderr
    assert "MEDNEXT_LR" not in btcv.stdout
