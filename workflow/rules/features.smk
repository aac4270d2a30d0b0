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
        cfg=lambda wc: stage_params(wc.dataset, "extract", "seed", "device"),
        number=lambda wc: int(wc.shard),
    threads: 4
    resources:
        mem_mb=16000,
        gpu=lambda wc: uses_gpu(wc.dataset),
    shell:
        "dakd extract --config {CONFIG_FILE} --dataset {wildcards.dataset} --manifest {input.manifest} "
        "--out-dir results/{wildcards.dataset}/features --shard {params.number} --no-progress "
        "--tolerate-failures > {log} 2>&1"
