# Features: one job per shard, so a failed or killed shard reruns alone.


rule extract_shard:
    input:
        manifest="results/{dataset}/videos.csv",
    output:
        shard="results/{dataset}/features/shard-{shard}.parquet",
        failures="results/{dataset}/features/shard-{shard}.failures.json",
    log:
        "results/{dataset}/logs/extract/shard-{shard}.log",
    benchmark:
        "results/{dataset}/benchmarks/extract/shard-{shard}.tsv"
    params:
        cfg=lambda wc: stage_params(DATASETS.merged[wc.dataset], "extract"),
        number=lambda wc: int(wc.shard),
    threads: 4
    resources:
        mem_mb=16000,
        gpu=gpus,
    shell:
        "dakd extract --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} --manifest {input.manifest:q} "
        "--out-dir results/{wildcards.dataset:q}/features --shard {params.number} --no-progress "
        "--tolerate-failures" + THREADS + TO_LOG
