# Stage 3, train: one job per dataset x model x fold, through the real nnUNetv2_train, into the
# run's own folder (mednext.nnunet.runspec: a non-paper budget or learning rate has its own). UpKern
# and "trained twice" jobs wait for the k3 job of the same fold. An interrupted job resumes with
# --c; a checkpoint trained under other settings is refused, and one trained on other inputs (the data
# or the source run changed since: mednext.nnunet.inputs) is removed and the run trained afresh.
# A run trains again when its data or splits change (rule data_identity) or its source run trained
# again, not when a rule before it merely ran again (a newer rule script after a pull, deleted downloads).
#
# Runs longer than one job (MedNeXt-L k5: 28-37 h of steps alone on an H100) continue by self-requeue.
# The job asks for mednext.nnunet.requests' runtime (the run's estimate, capped at the cluster's
# limit). The trainer starts no epoch that would end within cluster.notice_s of the SLURM job's end,
# nor one after SIGTERM/SIGUSR1, nor the final validation without cluster.overhead_min left; it saves
# checkpoint_latest.pth and exits with mednext.nnunet.notice.CONTINUE_EXIT (75, EX_TEMPFAIL).
# This shell then runs `scontrol requeue $SLURM_JOB_ID`: the same SLURM job goes back to PENDING
# and, started again, re-runs this Snakemake job (the plugin's job command has --force
# --ignore-incomplete), which finds the checkpoint and resumes with --c. Why requeue and not
# Snakemake's retries with an attempt-dependent runtime: continuations never use up `retries`,
# which stay for real failures (a crash, bad input, a diverged run: any other exit status fails the job,
# retried `retries` times, then the workflow stops); and the plugin (v2.8) counts a job that is
# PENDING, REQUEUED or RUNNING as running, so the workflow simply waits. A requeued job waits for
# SLURM's BeginTime (credential lifetime, 120 s by default) before it starts again. Outside SLURM
# that exit fails the job with a message: the next invocation resumes with --c.


rule train:
    input:
        # ancient: rewritten by a rule that ran again, they retrain nothing; what they hold is data_identity's
        plans=lambda wc: ancient(f"{PRE}/{RUN[wc.run].dataset_folder}/{RUN[wc.run].plans}.json"),
        splits=lambda wc: ancient(of_dataset(rules.splits.output[0], RUN[wc.run].dataset_folder)),
        data=lambda wc: of_dataset(rules.data_identity.output[0], RUN[wc.run].dataset_folder),
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
    conda:
        ENV
    log:
        f"{LOGS}/train/{{run}}.log",
    benchmark:
        f"{BENCH}/train/{{run}}.tsv"
    threads: res("train", "cpus_per_task")
    resources:
        cpus_per_task=res("train", "cpus_per_task"),  # = threads; a profile's default would win over threads
        gpu=res("train", "gpu"),
        runtime=lambda wc: REQUEST[wc.run].runtime_min,
        gpu_mem_gb=lambda wc: REQUEST[wc.run].gpu_mem_gb or "unknown",
        mem_mb=res("train", "mem_mb"),
    shell:
        """
        dir=$(dirname {output.checkpoint})
        resume=""
        echo "== $(date -u +%FT%TZ) on $(hostname), SLURM job ${{SLURM_JOB_ID:-none}}" >> {log}
        if [ -f "$dir/checkpoint_latest.pth" ]; then
            if python -m mednext.nnunet.inputs "$dir/checkpoint_latest.pth" {input.plans} {input.source} >> {log} 2>&1; then
                resume="--c"
                echo "resuming from $dir/checkpoint_latest.pth" >> {log}
            else
                status=$?
                [ "$status" -eq "$(python -c 'from mednext.nnunet.inputs import STALE_EXIT as s; print(s)')" ] || exit "$status"
                echo "training afresh: removed the run trained on other inputs from $dir" >> {log}
                find "$dir" -mindepth 1 -delete
            fi
        fi
        status=0
        env {params.settings} nnUNet_results="$(cd "$dir/../../.." && pwd)" MEDNEXT_SOURCE_CHECKPOINT="{input.source}" \
            nnUNet_n_proc_DA="$MEDNEXT_TRAIN_N_PROC_DA" \
            OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} nnUNetv2_train {params.id} {params.configuration} \
            {params.fold} -tr {params.trainer} -p {params.plans} -device "$MEDNEXT_DEVICE" $resume >> {log} 2>&1 || status=$?
        stopped_on_notice=""  # the trainer's "continue me" status, asked of its one definition when training failed
        [ "$status" -eq 0 ] || stopped_on_notice=$(python -c 'from mednext.nnunet.notice import CONTINUE_EXIT as c; print(c)')
        if [ "$status" = "$stopped_on_notice" ]; then
            if [ -n "${{SLURM_JOB_ID:-}}" ] && scontrol requeue "$SLURM_JOB_ID" >> {log} 2>&1; then
                echo "stopped on notice: SLURM job $SLURM_JOB_ID requeued, it continues with --c" >> {log}
                sleep 600  # SLURM ends this job now and starts it again
            fi
            echo "stopped on notice before the end of its budget: run the workflow again to continue with --c" >> {log}
            exit "$status"
        fi
        [ "$status" -eq 0 ] || exit "$status"
        python -m mednext.nnunet.run_record "$dir" {params.trainer} >> {log} 2>&1
        """


# The k3 runs that UpKern and "twice" runs start from go first: they are on the critical path.
use rule train as train_upkern_source with:
    wildcard_constraints:
        run=_one_of(SOURCES),
    priority: 10


ruleorder: train_upkern_source > train
