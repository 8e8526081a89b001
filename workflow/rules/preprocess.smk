# Stage 2, plan and preprocess: nnU-Net's own plans (nnU-Net baseline), MedNeXt plans (1 mm, 128^3,
# batch 2, plus smaller-patch configurations), and the pinned 5-fold splits every model uses.


rule plan_nnunet:
    input:
        f"{PRE}/{{ds}}/raw_dataset_check.json",
    output:
        plans=f"{PRE}/{{ds}}/nnUNetPlans.json",
    params:
        env=lambda wc: nnunet_env(KEY_OF_FOLDER[wc.ds]),
        id=lambda wc: ds_cfg(KEY_OF_FOLDER[wc.ds])["id"],
        np=NN.get("num_processes", 8),
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
        "env {params.env} nnUNetv2_plan_and_preprocess -d {params.id} -c 3d_fullres -np {params.np} "
        "--verify_dataset_integrity > {log} 2>&1"


rule plan_mednext:
    input:
        f"{PRE}/{{ds}}/nnUNetPlans.json",
    output:
        f"{PRE}/{{ds}}/nnUNetPlans_MedNeXt.json",
    params:
        env=lambda wc: nnunet_env(KEY_OF_FOLDER[wc.ds]),
        id=lambda wc: ds_cfg(KEY_OF_FOLDER[wc.ds])["id"],
        np=NN.get("num_processes", 8),
        small=lambda wc: " ".join(
            str(p)
            for p in sorted(
                {ds_cfg(KEY_OF_FOLDER[wc.ds])["patch"], ds_cfg(KEY_OF_FOLDER[wc.ds])["patch_swinunetr"]} - {128}
            )
        ),
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
        "env {params.env} mednext-plan -d {params.id} -np {params.np} --small-patches {params.small} > {log} 2>&1"


rule splits:
    input:
        f"{PRE}/{{ds}}/nnUNetPlans.json",
    output:
        f"{PRE}/{{ds}}/splits_final.json",
    params:
        shipped=lambda wc: f"config/splits/{KEY_OF_FOLDER[wc.ds]}.json",
        raw=lambda wc: f"{RAW}/{wc.ds}",
        record=lambda wc: wc.ds in DOWNLOADED,  # the paper's datasets: the first run writes the file
    conda:
        ENV
    log:
        f"{LOGS}/splits/{{ds}}.log",
    benchmark:
        f"{BENCH}/splits/{{ds}}.tsv"
    script:
        "../scripts/splits.py"
