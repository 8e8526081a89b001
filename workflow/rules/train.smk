# Stage 3, train: one job per dataset x model x fold, through the real nnUNetv2_train. UpKern and
# "trained twice" jobs wait for the k3 job of the same fold. An interrupted job resumes with --c.


rule train:
    input:
        plans=f"{PRE}/{{ds}}/{{plans}}.json",
        splits=f"{PRE}/{{ds}}/splits_final.json",
        source=upstream_checkpoint,
    output:
        checkpoint=f"{NNRES}/{{ds}}/{{trainer}}__{{plans}}__{{configuration}}/fold_{{fold}}/checkpoint_final.pth",
        record=f"{NNRES}/{{ds}}/{{trainer}}__{{plans}}__{{configuration}}/fold_{{fold}}/run_record.json",
    wildcard_constraints:
        trainer=r"nnUNetTrainer[A-Za-z0-9_]*",
        plans=r"nnUNetPlans[A-Za-z0-9_]*",
        configuration=r"3d_fullres(_p\d+)?",
    params:
        env=train_env,
        id=lambda wc: ds_cfg(KEY_OF_FOLDER[wc.ds])["id"],
        device=NN.get("device", "cuda"),
    conda:
        ENV
    log:
        f"{LOGS}/train/{{ds}}/{{trainer}}__{{plans}}__{{configuration}}/fold_{{fold}}.log",
    benchmark:
        f"{BENCH}/train/{{ds}}/{{trainer}}__{{plans}}__{{configuration}}/fold_{{fold}}.tsv"
    threads: res("train", "cpus_per_task")
    resources:
        gpu=res("train", "gpu"),
        runtime=res("train", "runtime"),
        mem_mb=res("train", "mem_mb"),
    shell:
        """
        dir=$(dirname {output.checkpoint})
        resume=""
        : > {log}
        if [ -f "$dir/checkpoint_latest.pth" ]; then
            resume="--c"
            echo "resuming from $dir/checkpoint_latest.pth" >> {log}
        fi
        env {params.env} OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} nnUNetv2_train {params.id} {wildcards.configuration} {wildcards.fold} \
            -tr {wildcards.trainer} -p {wildcards.plans} -device {params.device} $resume >> {log} 2>&1
        python -m mednext.nnunet.budget ensure-record "$dir" {wildcards.trainer} >> {log} 2>&1
        """


# The k3 runs that UpKern and "twice" runs start from go first: they are on the critical path.
use rule train as train_upkern_source with:
    wildcard_constraints:
        trainer=r"nnUNetTrainerMedNeXt_[SBML]_k3",
    priority: 10


ruleorder: train_upkern_source > train
