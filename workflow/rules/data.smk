# Data: the demo videos (generated) and every dataset's manifest + frame annotations.


rule make_demo:
    output:
        "results/demo/data/demo.json",
    log:
        "results/demo/logs/make_demo.log",
    benchmark:
        "results/demo/benchmarks/make_demo.tsv"
    params:
        seed=lambda wc: merged("demo").get("seed", 0),
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "dakd make-demo --out-dir results/demo/data --seed {params.seed} > {log} 2>&1"


checkpoint index_dataset:
    input:
        require_dataset_root,
    output:
        manifest="results/{dataset}/videos.csv",
        annotations="results/{dataset}/annotations.parquet",
    log:
        "results/{dataset}/logs/index_dataset.log",
    params:
        spec=lambda wc: json.dumps(config["datasets"][wc.dataset], sort_keys=True),
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "dakd index-dataset --config {CONFIG_FILE} --dataset {wildcards.dataset} "
        "--manifest {output.manifest} --annotations {output.annotations} > {log} 2>&1"
