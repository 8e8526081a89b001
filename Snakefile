# mednext-bench: one DAG from raw data to tables and figures.
#   snakemake --cores 2 --configfile config/demo.yaml      # the synthetic phantom demo, on a laptop
#   snakemake --profile slurm all                         # the paper's benchmark on a SLURM cluster
#   snakemake --profile slurm extended                    # the rest of the full matrix (per-case metrics)
#   snakemake results/tables/btcv.csv                     # one table
#   snakemake paper/results.md                            # the text with every table and figure


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/oof_predictions.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/complexity.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/paper.smk"


# The paper's main table on every dataset (nnU-Net, UNETR, SwinUNETR, MedNeXt S/B/M/L k3 and k5 UpKern) and
# the ablation cells of MedNeXt-B on the configured ablation datasets: tables, figures, the text.
rule all:
    default_target: True
    input:
        expand(f"{RESULTS}/tables/{{dataset}}.csv", dataset=DATASETS),
        expand(f"{RESULTS}/figures/{{dataset}}_{{kind}}.png", dataset=DATASETS, kind=FIGURES),
        f"{RESULTS}/tables/ablations.csv",
        "paper/results.md",


# The rest of the full matrix (the configured `extended_models` on every dataset, the ablation cells on the
# datasets that are not ablation datasets): trained, predicted and evaluated per case. Their sources (k3 of
# the same fold) are runs of `all`.
rule extended:
    input:
        [csv for d in DATASETS for csv in per_case_csvs(d, extended_models(d))],
