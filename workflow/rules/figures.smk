# Stage 8, figures: regenerated from the tables (PNG and PDF); synthetic data say so in the title.

FIGURES = ["scaling", "per_class", "ablation", "ranks", "learning"]


rule figures:
    input:
        table=rules.table.output.table,
        comparisons=rules.table.output.comparisons,
        ranks=rules.table.output.ranks,
        learning=rules.table.output.learning,
        per_case=lambda wc: per_case_csvs(wc.dataset),
    output:
        report(
            expand(f"{RESULTS}/figures/{{{{dataset}}}}_{{kind}}.png", kind=FIGURES),
            category="Figures",
            subcategory="{dataset}",
        ),
        expand(f"{RESULTS}/figures/{{{{dataset}}}}_{{kind}}.pdf", kind=FIGURES),
    params:
        synthetic=lambda wc: ds_cfg(wc.dataset)["synthetic"],
        name=lambda wc: ds_cfg(wc.dataset)["name"],
    resources:
        **cpu_resources("figures"),
    conda:
        ENV
    log:
        f"{LOGS}/figures/{{dataset}}.log",
    benchmark:
        f"{BENCH}/figures/{{dataset}}.tsv"
    script:
        "../scripts/figures.py"
