# Stage 2: distil the teacher into the single-backbone student. {run}: empty, or a study's
# runs/t<digest>/p<digest>/s<digest>/.


rule train_student:
    input:
        shards=feature_shards,
        annotations="results/{dataset}/annotations.parquet",
        teacher=earlier("teacher", "teacher.pt"),
        pseudo_labels=earlier("pseudo_labels", "pseudo_labels.parquet"),
    output:
        "results/{dataset}/{run}student.pt",
    log:
        "results/{dataset}/{run}logs/train_student.log",
    benchmark:
        "results/{dataset}/{run}benchmarks/train_student.tsv"
    wildcard_constraints:
        run=RUN_PREFIX_PATTERNS["student"],
    params:
        cfg=run_params("student"),
        sets=lambda wc: STUDIES.set_options(run_changes(wc)),
    threads: 2
    resources:
        mem_mb=16000,
        gpu=gpus,
    shell:
        "dakd train-student --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} {params.sets} "
        "--features {input.shards:q} --annotations {input.annotations:q} --teacher {input.teacher:q} "
        "--pseudo-labels {input.pseudo_labels:q} --out {output:q} --no-progress" + THREADS + TO_LOG
