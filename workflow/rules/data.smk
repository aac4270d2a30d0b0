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
            "dakd make-demo --config {EFFECTIVE_CONFIG:q} --dataset demo --out-dir {params.root:q} "
            "--seed {params.seed}" + TO_LOG


checkpoint index_dataset:
    input:
        require_dataset_root,
    wildcard_constraints:
        dataset="|".join(map(re.escape, VIDEO_DATASETS)) or "$^",
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
        "dakd index-dataset --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} "
        "--manifest {output.manifest:q} --annotations {output.annotations:q}" + TO_LOG


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
        dataset="|".join(map(re.escape, FEATURE_DATASETS)) or "$^",
    params:
        spec=lambda wc: dataset_source(wc.dataset),
    threads: 1
    resources:
        mem_mb=8000,
    shell:
        "dakd import-features --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} "
        "--out-dir {output.features:q} --annotations {output.annotations:q} --no-progress" + TO_LOG
