# Data: the demo videos (generated) and every dataset's manifest + frame annotations.


if "demo" in config["datasets"]:

    rule make_demo:
        output:
            str(DATASETS.root("demo") / "demo.json"),
        log:
            "results/demo/logs/make_demo.log",
        benchmark:
            "results/demo/benchmarks/make_demo.tsv"
        params:
            seed=lambda wc: DATASETS.merged["demo"].get("seed", 0),
            spec=lambda wc: dataset_source(config, "demo"),
            root=lambda wc: DATASETS.root("demo"),
        threads: 1
        resources:
            mem_mb=2000,
        shell:
            "dakd make-demo --config {EFFECTIVE_CONFIG:q} --dataset demo --out-dir {params.root:q} "
            "--seed {params.seed}" + THREADS + TO_LOG


checkpoint index_dataset:
    input:
        # the files the index reads (an edit reruns it); a real dataset that is not where
        # config.yaml says stops the plan here, with one line
        lambda wc: dataset_root_inputs(config, wc.dataset, CONFIG_FILE),
    wildcard_constraints:
        dataset=one_of(VIDEO_DATASETS),
    output:
        manifest="results/{dataset}/videos.csv",
        annotations="results/{dataset}/annotations.parquet",
    log:
        "results/{dataset}/logs/index_dataset.log",
    benchmark:
        "results/{dataset}/benchmarks/index_dataset.tsv"
    params:
        spec=lambda wc: dataset_source(config, wc.dataset),
        # the videos its folders hold and the files it reads: a video added or removed reruns it
        sources=lambda wc: dataset_sources_digest(config, wc.dataset),
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "dakd index-dataset --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} "
        "--manifest {output.manifest:q} --annotations {output.annotations:q}" + TO_LOG


rule import_features:
    input:
        lambda wc: imported_sources(config, wc.dataset),
    output:
        features=directory("results/{dataset}/imported"),
        annotations="results/{dataset}/annotations.parquet",
    log:
        "results/{dataset}/logs/import_features.log",
    benchmark:
        "results/{dataset}/benchmarks/import_features.tsv"
    wildcard_constraints:
        dataset=one_of(FEATURE_DATASETS),
    params:
        spec=lambda wc: dataset_source(config, wc.dataset),
    threads: 1
    resources:
        mem_mb=8000,
    shell:
        "dakd import-features --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} "
        "--out-dir {output.features:q} --annotations {output.annotations:q} --no-progress" + THREADS + TO_LOG
