# Stage 2: distil the teacher into the single-backbone student.


rule train_student:
    input:
        shards=feature_shards,
        annotations="results/{dataset}/annotations.parquet",
        teacher="results/{dataset}/teacher.pt",
        pseudo_labels="results/{dataset}/pseudo_labels.parquet",
    output:
        "results/{dataset}/student.pt",
    log:
        "results/{dataset}/logs/train_student.log",
    benchmark:
        "results/{dataset}/benchmarks/train_student.tsv"
    params:
        cfg=lambda wc: training_params(wc.dataset, "student"),
    threads: 2
    resources:
        mem_mb=16000,
        gpu=lambda wc: uses_gpu(wc.dataset),
    shell:
        "dakd train-student --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} "
        "--features {input.shards:q} --annotations {input.annotations:q} --teacher {input.teacher:q} "
        "--pseudo-labels {input.pseudo_labels:q} --out {output:q} --no-progress" + TO_LOG
