# Stage 4, out-of-fold predictions: nnU-Net's final validation of each fold predicts that fold's
# held-out cases at their original spacing (fold_N/validation/, an output of rule train). This
# stage checks that every held-out case of every configured fold has its prediction and lists them.


rule oof_predictions:
    input:
        validation=lambda wc: [run_file(r, "validation") for r in runs(wc.dataset, wc.model)],
        splits=lambda wc: of_dataset(rules.splits.output[0], FOLDER[wc.dataset]),
        dataset_json=lambda wc: raw_dataset_json(wc.dataset),  # its file_ending: nnU-Net's predictions have it
    output:
        f"{RESULTS}/predictions/{{dataset}}/{{model}}.tsv",
    params:
        folds=lambda wc: [r.fold for r in runs(wc.dataset, wc.model)],
    resources:
        **cpu_resources("oof_predictions"),
    conda:
        ENV
    log:
        f"{LOGS}/oof_predictions/{{dataset}}/{{model}}.log",
    benchmark:
        f"{BENCH}/oof_predictions/{{dataset}}/{{model}}.tsv"
    script:
        "../scripts/oof_predictions.py"
