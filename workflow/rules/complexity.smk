# Stage 6, complexity: params and fvcore GFLOPs of every configured network at 1 x 1 x N^3.


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
        runtime=res("default", "runtime"),
        mem_mb=max(16000, res("default", "mem_mb")),
    script:
        "../scripts/complexity.py"
