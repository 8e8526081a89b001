# Stage 7, aggregate: per-dataset tables with statistics, from per-case metrics, complexity and run records.


rule table:
    input:
        per_case=lambda wc: per_case_csvs(wc.dataset),
        complexity=lambda wc: [f"{RESULTS}/tables/complexity.csv"]
        + ([f"{RESULTS}/tables/complexity_nnunet_{wc.dataset}.csv"] if REFERENCE_MODEL in models(wc.dataset) else []),
        records=lambda wc: [run_file(r, "run_record.json") for r in runs(wc.dataset)],
    output:
        table=f"{RESULTS}/tables/{{dataset}}.csv",
        per_class=f"{RESULTS}/tables/{{dataset}}_per_class.csv",
        comparisons=f"{RESULTS}/tables/{{dataset}}_comparisons.csv",
        ranks=f"{RESULTS}/tables/{{dataset}}_ranks.csv",
        learning=f"{RESULTS}/tables/{{dataset}}_learning.csv",  # per epoch: losses and pseudo Dice of each run
    params:
        labels=lambda wc: {m: model_spec(m).label for m in models(wc.dataset)},
        record_models=lambda wc: [r.model.key for r in runs(wc.dataset)],  # the model of each record
        synthetic=lambda wc: ds_cfg(wc.dataset)["synthetic"],
    resources:
        **cpu_resources("table"),
    conda:
        ENV
    log:
        f"{LOGS}/table/{{dataset}}.log",
    benchmark:
        f"{BENCH}/table/{{dataset}}.tsv"
    script:
        "../scripts/table.py"


rule ablations:
    input:
        comparisons=expand(f"{RESULTS}/tables/{{dataset}}_comparisons.csv", dataset=DATASETS),
        tables=expand(f"{RESULTS}/tables/{{dataset}}.csv", dataset=DATASETS),
        published=os.path.relpath(f"{workflow.basedir}/paper/published.csv"),
    output:
        ablations=f"{RESULTS}/tables/ablations.csv",
        published=f"{RESULTS}/tables/published_comparison.csv",
    params:
        datasets=DATASETS,
    resources:
        **cpu_resources("ablations"),
    conda:
        ENV
    log:
        f"{LOGS}/ablations.log",
    benchmark:
        f"{BENCH}/ablations.tsv"
    script:
        "../scripts/ablations.py"
