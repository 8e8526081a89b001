# Stage 9, paper: the Markdown text a reader opens (paper/results.md), written from the tables and
# figures: what was run, every table inlined, the figures embedded, how to regenerate.


rule paper:
    input:
        tables=expand(f"{RESULTS}/tables/{{dataset}}.csv", dataset=DATASETS),
        per_class=expand(f"{RESULTS}/tables/{{dataset}}_per_class.csv", dataset=DATASETS),
        figures=expand(f"{RESULTS}/figures/{{dataset}}_{{kind}}.png", dataset=DATASETS, kind=FIGURES),
        ablations=f"{RESULTS}/tables/ablations.csv",
        published=f"{RESULTS}/tables/published_comparison.csv",
        complexity=f"{RESULTS}/tables/complexity.csv",
    output:
        report("paper/results.md", category="Paper"),
    params:
        results=lambda wc, input: os.path.dirname(os.path.dirname(input.ablations)),
        datasets=" ".join(DATASETS),
        names=" ".join(ds_cfg(d)["name"] for d in DATASETS),
    resources:
        **cpu_resources("paper"),
    conda:
        ENV
    log:
        f"{LOGS}/paper.log",
    benchmark:
        f"{BENCH}/paper.tsv"
    shell:
        "python -m mednext.evaluation.report --results {params.results} --datasets {params.datasets} "
        "--names {params.names} --out {output} > {log} 2>&1"


# At the end of a successful run, the terminal shows what came out: each model's headline Dice and UpKern's head
# start (from the tables written so far; paper/results.md has everything).
onsuccess:
    from mednext.evaluation.report import console_summary

    summary = console_summary(RESULTS, {d: ds_cfg(d)["name"] for d in DATASETS})
    if summary:
        print(f"\n{summary}\nEverything, with CIs, statistics and figures: paper/results.md\n")
