# Stage 4, out-of-fold predictions: nnU-Net's final validation of each fold predicts that fold's
# held-out cases at their original spacing (fold_N/validation/). This stage checks that every
# held-out case of every configured fold has its prediction and lists them.


rule oof_predictions:
    input:
        checkpoints=lambda wc: [checkpoint(wc.dataset, wc.model, f) for f in ds_cfg(wc.dataset)["folds"]],
        splits=lambda wc: f"{PRE}/{FOLDER[wc.dataset]}/splits_final.json",
    output:
        f"{RESULTS}/predictions/{{dataset}}/{{model}}.tsv",
    params:
        fold_dirs=lambda wc: {f: fold_dir(wc.dataset, wc.model, f) for f in ds_cfg(wc.dataset)["folds"]},
        file_ending=".nii.gz",
    conda:
        ENV
    log:
        f"{LOGS}/oof_predictions/{{dataset}}/{{model}}.log",
    benchmark:
        f"{BENCH}/oof_predictions/{{dataset}}/{{model}}.tsv"
    script:
        "../scripts/oof_predictions.py"
