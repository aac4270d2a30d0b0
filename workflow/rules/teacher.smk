# Stage 1: the multi-backbone teacher, MIL ranking loss.


rule train_teacher:
    input:
        shards=feature_shards,
    output:
        "results/{dataset}/teacher.pt",
    log:
        "results/{dataset}/logs/train_teacher.log",
    benchmark:
        "results/{dataset}/benchmarks/train_teacher.tsv"
    params:
        cfg=lambda wc: stage_params(wc.dataset, "seed", "device", "features", "teacher"),
    threads: 2
    resources:
        mem_mb=16000,
        gpu=lambda wc: uses_gpu(wc.dataset),
    shell:
        "dakd train-teacher --config {CONFIG_FILE} --dataset {wildcards.dataset} "
        "--features {input.shards} --out {output} --no-progress > {log} 2>&1"
