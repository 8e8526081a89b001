# Stage 1, data: every dataset ends as an nnU-Net raw dataset ($nnUNet_raw/DatasetXXX_Name).
# The paper's datasets: download (resumable, verified against config/checksums/) -> convert (safe
# extraction, case-by-case checks); the phantom is generated; a user dataset is linked.
# What may need the user (a token, accepted terms, an archive placed by hand) comes first: the
# DAG build says for each targeted download whether it is ready (dry runs too), a real run stops
# before its first job if one is not (unless --keep-going), and the data rules run before any
# other job, so a download that fails anyway fails within seconds.
from snakemake.logging import logger

from mednext.data.acquire import AccessReport

PHANTOMS = [FOLDER[d] for d in DATASETS if "phantom" in ds_cfg(d)]
USER = [FOLDER[d] for d in DATASETS if "path" in ds_cfg(d)]
DOWNLOADED = [FOLDER[d] for d in DATASETS if FOLDER[d] not in PHANTOMS + USER]
# One download per paper dataset, also where variants of it (`of`) convert it into raw datasets of their own.
DOWNLOADS_OF = sorted({paper_dataset(KEY_OF_FOLDER[f]) for f in DOWNLOADED})
NONE = "(?!x)x"  # a constraint that matches nothing, for empty groups
ACQUIRE_FIRST = 100  # priority of the data rules: above training (10) and everything else (0)
ACCESS = AccessReport(DOWNLOADS, {p: download_source(p, config["datasets"]) for p in DOWNLOADS_OF},
                      logger if workflow.is_main_process else None)


onstart:
    if not workflow.execution_settings.keep_going:
        ACCESS.check()


rule phantom_dataset:
    output:
        f"{RAW}/{{ds}}/dataset.json",
    wildcard_constraints:
        ds="|".join(PHANTOMS) or NONE,
    params:
        cfg=lambda wc: phantom_settings(wc.ds),
    priority: ACQUIRE_FIRST
    resources:
        **cpu_resources("phantom_dataset"),
    conda:
        ENV
    log:
        f"{LOGS}/data/{{ds}}.log",
    benchmark:
        f"{BENCH}/data/{{ds}}.tsv"
    script:
        "../scripts/phantom_dataset.py"


# Earlier versions linked a user dataset's whole folder, so that the rule's output was the user's own
# dataset.json, which Snakemake deletes before it reruns the rule: such a link goes before any job runs.
for _folder in USER:
    if os.path.islink(f"{RAW}/{_folder}"):
        os.unlink(f"{RAW}/{_folder}")


rule link_user_dataset:
    input:
        lambda wc: user_dataset_json(wc.ds),  # edited: linked again
    output:
        f"{RAW}/{{ds}}/dataset.json",  # a copy: Snakemake deletes a job's outputs before it reruns it
    wildcard_constraints:
        ds="|".join(USER) or NONE,
    params:
        path=lambda wc: ds_cfg(KEY_OF_FOLDER[wc.ds])["path"],  # as configured (relative to the checkout)
        files=lambda wc: user_dataset_files(wc.ds),  # images or labels replaced in place: linked and planned again
        subfolders=list(USER_SUBFOLDERS),
    priority: ACQUIRE_FIRST
    resources:
        **cpu_resources("link_user_dataset"),
    conda:
        ENV
    log:
        f"{LOGS}/data/{{ds}}.log",
    benchmark:
        f"{BENCH}/data/{{ds}}.tsv"
    shell:
        """
        src=$(cd {params.path:q} && pwd)
        d=$(dirname {output})
        mkdir -p "$d"
        for sub in {params.subfolders}; do  # the user's files stay where they are, linked
            if [ -e "$d/$sub" ] && [ ! -L "$d/$sub" ]; then  # not a link of this rule: a phantom's, a conversion's
                echo "error: $d/$sub is a folder of its own, not a link to your dataset (written by a phantom or" \
                    "a conversion with this dataset's id and name?): move $d away (or delete it) and run again" > {log}
                exit 1
            fi
            rm -f "$d/$sub"
            if [ -e "$src/$sub" ]; then ln -s "$src/$sub" "$d/$sub"; fi
        done
        cp "$src/dataset.json" {output}
        echo "linked $src" > {log}
        """


rule download:
    input:
        ACCESS.input,  # adds nothing; says whether this download needs the user's action
    output:
        f"{DOWNLOADS}/{{dataset}}/download.json",
    wildcard_constraints:
        dataset="|".join(DOWNLOADS_OF) or NONE,
    priority: ACQUIRE_FIRST
    params:
        file=lambda wc: source_file(wc.dataset),
    resources:
        **cpu_resources("download"),
    conda:
        ENV
    log:
        f"{LOGS}/download/{{dataset}}.log",
    benchmark:
        f"{BENCH}/download/{{dataset}}.tsv"
    script:
        "../scripts/download_dataset.py"


rule convert_dataset:
    input:
        lambda wc: expand(rules.download.output[0], dataset=paper_dataset(KEY_OF_FOLDER[wc.ds])),
    output:
        f"{RAW}/{{ds}}/dataset.json",
    wildcard_constraints:
        ds="|".join(DOWNLOADED) or NONE,
    params:
        dataset=lambda wc: paper_dataset(KEY_OF_FOLDER[wc.ds]),
        settings=lambda wc: conversion_settings(wc.ds),
    priority: ACQUIRE_FIRST
    resources:
        **cpu_resources("convert_dataset"),
    conda:
        ENV
    log:
        f"{LOGS}/convert_dataset/{{ds}}.log",
    benchmark:
        f"{BENCH}/convert_dataset/{{ds}}.tsv"
    script:
        "../scripts/convert_dataset.py"


rule check_raw_dataset:
    input:
        f"{RAW}/{{ds}}/dataset.json",
    output:
        f"{PRE}/{{ds}}/raw_dataset_check.json",
    priority: ACQUIRE_FIRST
    resources:
        **cpu_resources("check_raw_dataset"),
    conda:
        ENV
    log:
        f"{LOGS}/check_raw_dataset/{{ds}}.log",
    benchmark:
        f"{BENCH}/check_raw_dataset/{{ds}}.tsv"
    shell:
        "python -m mednext.data.validate $(dirname {input}) {output} > {log} 2>&1"


# The one input of rule train that says whether its data changed. Its plans and splits are ancient inputs: a rule
# before training that runs again without a change of the data (a newer rule script after a pull, a new planning
# configuration, deleted downloads) writes them again but retrains nothing. This file has no inputs: it is written
# again, and so retrains every run on the dataset (mednext.nnunet.inputs then refuses to resume their checkpoints),
# only when its param changes. (A param of rule train would not do: Snakemake checks no job after one that runs
# again, and skips them along ancient inputs.)
rule data_identity:
    output:
        f"{PRE}/{{ds}}/data_identity.json",
    params:
        identity=lambda wc: json.dumps(data_identity(wc.ds), sort_keys=True),
    localrule: True
    conda:
        ENV
    log:
        f"{LOGS}/data_identity/{{ds}}.log",
    shell:
        "printf '%s\\n' {params.identity:q} > {output} && echo 'wrote {output}' > {log}"
