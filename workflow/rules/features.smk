# Features: one job per shard, so a failed or killed shard reruns alone, and a replaced video
# re-extracts its own shard only.


rule extract_shard:
    input:
        # after the index (the checkpoint), but not because the index ran again: what a shard
        # depends on is its rows of the manifest and its video files (params.videos)
        manifest=lambda wc: ancient(checkpoints.index_dataset.get(dataset=wc.dataset).output.manifest),
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
        videos=lambda wc: shard_videos(f"results/{wc.dataset}/videos.csv", int(wc.shard),
                                       DATASETS.typed[wc.dataset].extract.shard_size),
    threads: 4
    resources:
        mem_mb=16000,
        gpu=gpus,
    shell:
        "dakd extract --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} --manifest {input.manifest:q} "
        "--out-dir results/{wildcards.dataset:q}/features --shard {params.number} --no-progress "
        "--tolerate-failures" + THREADS + TO_LOG
