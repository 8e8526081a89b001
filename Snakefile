# mednext-bench: one DAG from raw data to tables and figures.
#   snakemake --cores 2 --configfile config/demo.yaml      # the synthetic phantom demo, on a laptop
#   snakemake --profile slurm all                         # the paper's benchmark on a SLURM cluster
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


rule all:
    default_target: True
    input:
        expand(f"{RESULTS}/tables/{{dataset}}.csv", dataset=DATASETS),
        expand(f"{RESULTS}/figures/{{dataset}}_{{kind}}.png", dataset=DATASETS, kind=FIGURES),
        f"{RESULTS}/tables/ablations.csv",
        "paper/results.md",
