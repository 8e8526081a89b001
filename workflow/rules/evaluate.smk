# Stage 5, evaluate: per case x class, both protocols (paper: Dice + SDC at unit spacing, tolerance 1 voxel;
# physical: Dice + NSD at the original spacing, tolerance in mm), one tidy CSV per model.


rule evaluate:
    input:
        predictions=rules.oof_predictions.output[0],
        dataset_json=lambda wc: raw_dataset_json(wc.dataset),
    output:
        f"{RESULTS}/per_case/{{dataset}}/{{model}}.csv",
    params:
        tolerance=lambda wc: ds_cfg(wc.dataset)["nsd_tolerance_mm"],
        classes_of=lambda wc: paper_dataset(wc.dataset),  # a variant's classes are its paper dataset's (BraTS regions)
    conda:
        ENV
    log:
        f"{LOGS}/evaluate/{{dataset}}/{{model}}.log",
    benchmark:
        f"{BENCH}/evaluate/{{dataset}}/{{model}}.tsv"
    resources:
        runtime=res("evaluate", "runtime"),
        mem_mb=res("evaluate", "mem_mb"),
        cpus_per_task=res("evaluate", "cpus_per_task"),
    script:
        "../scripts/evaluate.py"
