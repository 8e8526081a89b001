# Stage 2, plan and preprocess: nnU-Net's own plans (nnU-Net baseline), MedNeXt plans (1 mm, 128^3,
# batch 2, plus smaller-patch configurations), and the pinned 5-fold splits every model uses.


# Paths and worker counts come from the environment (common.smk): params hold only what changes the plans.
# A dataset planned again (its data changed) gets a new fingerprint: --clean, else nnU-Net keeps the old one.


rule plan_nnunet:
    input:
        rules.check_raw_dataset.output,
    output:
        plans=f"{PRE}/{{ds}}/nnUNetPlans.json",
    params:
        id=lambda wc: ds_cfg(KEY_OF_FOLDER[wc.ds])["id"],
    conda:
        ENV
    log:
        f"{LOGS}/plan_nnunet/{{ds}}.log",
    benchmark:
        f"{BENCH}/plan_nnunet/{{ds}}.tsv"
    resources:
        runtime=res("plan", "runtime"),
        mem_mb=res("plan", "mem_mb"),
        cpus_per_task=res("plan", "cpus_per_task"),
    shell:
        "nnUNetv2_plan_and_preprocess -d {params.id} -c 3d_fullres -np $nnUNet_def_n_proc "
        "--verify_dataset_integrity --clean > {log} 2>&1"


rule plan_mednext:
    input:
        rules.plan_nnunet.output.plans,
    output:
        f"{PRE}/{{ds}}/nnUNetPlans_MedNeXt.json",
    params:
        id=lambda wc: ds_cfg(KEY_OF_FOLDER[wc.ds])["id"],
        small=lambda wc: small_patches(wc.ds),
    conda:
        ENV
    log:
        f"{LOGS}/plan_mednext/{{ds}}.log",
    benchmark:
        f"{BENCH}/plan_mednext/{{ds}}.tsv"
    resources:
        runtime=res("plan", "runtime"),
        mem_mb=res("plan", "mem_mb"),
        cpus_per_task=res("plan", "cpus_per_task"),
    shell:
        "mednext-plan -d {params.id} -np $nnUNet_def_n_proc --small-patches {params.small} > {log} 2>&1"


rule splits:
    input:
        rules.plan_nnunet.output.plans,
    output:
        f"{PRE}/{{ds}}/splits_final.json",
    params:
        shipped=lambda wc: pinned_splits_file(wc.ds),
        record=lambda wc: wc.ds in DOWNLOADED,  # the paper's datasets: the first run writes the file
        # an edited pinned file reruns the splits and, through them, the dataset's trainings; the file a first
        # run records (nnU-Net's splits, which the runs trained on) reruns nothing
        pinned=lambda wc: pinned_identity(pinned_splits_file(wc.ds)),
    resources:
        **cpu_resources("splits"),
    conda:
        ENV
    log:
        f"{LOGS}/splits/{{ds}}.log",
    benchmark:
        f"{BENCH}/splits/{{ds}}.tsv"
    script:
        "../scripts/splits.py"
