# Stage 6, complexity: params and fvcore GFLOPs at 1 x 1 x N^3 of every configured network; nnU-Net's own
# network is planned per dataset, so it is counted per dataset from that dataset's plans.


rule complexity:
    output:
        f"{RESULTS}/tables/complexity.csv",
    params:
        models=sorted({m for d in DATASETS for m in models(d) if m != REFERENCE_MODEL}),
        size=config.get("complexity_input_size", 128),
    conda:
        ENV
    log:
        f"{LOGS}/complexity.log",
    benchmark:
        f"{BENCH}/complexity.tsv"
    resources:
        runtime=res("complexity", "runtime"),
        mem_mb=max(16000, res("complexity", "mem_mb")),
    script:
        "../scripts/complexity.py"


rule complexity_nnunet:
    input:
        plans=lambda wc: f"{PRE}/{FOLDER[wc.dataset]}/nnUNetPlans.json",
        dataset_json=lambda wc: raw_dataset_json(wc.dataset),
    output:
        f"{RESULTS}/tables/complexity_nnunet_{{dataset}}.csv",
    params:
        size=config.get("complexity_input_size", 128),
    conda:
        ENV
    log:
        f"{LOGS}/complexity_nnunet/{{dataset}}.log",
    benchmark:
        f"{BENCH}/complexity_nnunet/{{dataset}}.tsv"
    resources:
        runtime=res("complexity", "runtime"),
        mem_mb=max(16000, res("complexity", "mem_mb")),
    script:
        "../scripts/complexity_nnunet.py"
