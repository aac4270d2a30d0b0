# Data: the demo videos (generated) and every dataset's manifest + frame annotations.


if "demo" in config["datasets"]:

    rule make_demo:
        output:
            str(dataset_root("demo") / "demo.json"),
        log:
            "results/demo/logs/make_demo.log",
        benchmark:
            "results/demo/benchmarks/make_demo.tsv"
        params:
            seed=lambda wc: merged("demo").get("seed", 0),
            spec=lambda wc: dataset_source("demo"),
            root=lambda wc: dataset_root("demo"),
        threads: 1
        resources:
            mem_mb=2000,
        shell:
            "dakd make-demo --config {CONFIG_FILE} --dataset demo --out-dir {params.root} "
            "--seed {params.seed} > {log} 2>&1"


checkpoint index_dataset:
    input:
        require_dataset_root,
    wildcard_constraints:
        dataset="|".join(VIDEO_DATASETS) or "$^",
    output:
        manifest="results/{dataset}/videos.csv",
        annotations="results/{dataset}/annotations.parquet",
    log:
        "results/{dataset}/logs/index_dataset.log",
    params:
        spec=lambda wc: dataset_source(wc.dataset),
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "dakd index-dataset --config {CONFIG_FILE} --dataset {wildcards.dataset} "
        "--manifest {output.manifest} --annotations {output.annotations} > {log} 2>&1"


rule import_features:
    input:
        imported_sources,
    output:
        features=directory("results/{dataset}/imported"),
        annotations="results/{dataset}/annotations.parquet",
    log:
        "results/{dataset}/logs/import_features.log",
    benchmark:
        "results/{dataset}/benchmarks/import_features.tsv"
    wildcard_constraints:
        dataset="|".join(FEATURE_DATASETS) or "$^",
    params:
        spec=lambda wc: dataset_source(wc.dataset),
    threads: 1
    resources:
        mem_mb=8000,
    shell:
        "dakd import-features --config {CONFIG_FILE} --dataset {wildcards.dataset} --out-dir {output.features} "
        "--annotations {output.annotations} --no-progress > {log} 2>&1"
