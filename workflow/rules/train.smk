# Stage 3, train: one job per dataset x model x fold, through the real nnUNetv2_train, into the
# run's own folder (mednext.nnunet.runspec: a non-paper budget or learning rate has its own). UpKern
# and "trained twice" jobs wait for the k3 job of the same fold. An interrupted job resumes with
# --c; a checkpoint trained under other settings is refused.


rule train:
    input:
        plans=lambda wc: f"{PRE}/{RUN[wc.run].dataset_folder}/{RUN[wc.run].plans}.json",
        splits=lambda wc: f"{PRE}/{RUN[wc.run].dataset_folder}/splits_final.json",
        source=lambda wc: run_file(RUN[wc.run].source, "checkpoint_final.pth") if RUN[wc.run].source else [],
    output:
        checkpoint=f"{NNRES}/{{run}}/checkpoint_final.pth",
        record=f"{NNRES}/{{run}}/run_record.json",
        validation=directory(f"{NNRES}/{{run}}/validation"),  # out-of-fold predictions
    wildcard_constraints:
        run=_one_of(RUN),
    params:
        id=run_param("dataset_id"),
        configuration=run_param("configuration"),
        fold=run_param("fold"),
        trainer=run_param("trainer"),
        plans=run_param("plans"),
        settings=lambda wc: " ".join(f"{k}={v}" for k, v in RUN[wc.run].environment().items()),
        device=NN["device"],
    conda:
        ENV
    log:
        f"{LOGS}/train/{{run}}.log",
    benchmark:
        f"{BENCH}/train/{{run}}.tsv"
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
        env {params.settings} nnUNet_results="$(cd "$dir/../../.." && pwd)" MEDNEXT_SOURCE_CHECKPOINT="{input.source}" \
            nnUNet_n_proc_DA="$MEDNEXT_TRAIN_N_PROC_DA" \
            OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} nnUNetv2_train {params.id} {params.configuration} \
            {params.fold} -tr {params.trainer} -p {params.plans} -device {params.device} $resume >> {log} 2>&1
        python -m mednext.nnunet.run_record "$dir" {params.trainer} >> {log} 2>&1
        """


# The k3 runs that UpKern and "twice" runs start from go first: they are on the critical path.
use rule train as train_upkern_source with:
    wildcard_constraints:
        run=_one_of(SOURCES),
    priority: 10


ruleorder: train_upkern_source > train
