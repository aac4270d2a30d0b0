# Stage 1: the multi-backbone teacher, MIL ranking loss.


rule train_teacher:
    input:
        shards=feature_shards,
        annotations="results/{dataset}/annotations.parquet",
    output:
        "results/{dataset}/teacher.pt",
    log:
        "results/{dataset}/logs/train_teacher.log",
    benchmark:
        "results/{dataset}/benchmarks/train_teacher.tsv"
    params:
        cfg=lambda wc: training_params(wc.dataset, "teacher"),
    threads: 2
    resources:
        mem_mb=16000,
        gpu=lambda wc: uses_gpu(wc.dataset),
    shell:
        "dakd train-teacher --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} "
        "--features {input.shards:q} --annotations {input.annotations:q} --out {output:q} --no-progress" + TO_LOG
