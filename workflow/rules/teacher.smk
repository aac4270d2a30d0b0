# Stage 1: the multi-backbone teacher, MIL ranking loss. {run} is empty for the dataset's own
# run (results/{dataset}/teacher.pt) and runs/t<digest>/ for a study's (reproduce.smk).


rule train_teacher:
    input:
        shards=feature_shards,
        annotations="results/{dataset}/annotations.parquet",
    output:
        "results/{dataset}/{run}teacher.pt",
    log:
        "results/{dataset}/{run}logs/train_teacher.log",
    benchmark:
        "results/{dataset}/{run}benchmarks/train_teacher.tsv"
    wildcard_constraints:
        run=RUN_PREFIX_PATTERNS["teacher"],
    params:
        cfg=run_params("teacher"),
        sets=lambda wc: STUDIES.set_options(run_changes(wc)),
    threads: 2
    resources:
        mem_mb=16000,
        gpu=gpus,
    shell:
        "dakd train-teacher --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} {params.sets} "
        "--features {input.shards:q} --annotations {input.annotations:q} --out {output:q} "
        "--no-progress" + THREADS + TO_LOG
