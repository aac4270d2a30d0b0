# Between the stages: teacher scores on training videos -> refined pseudo-labels.


rule pseudo_labels:
    input:
        shards=feature_shards,
        teacher="results/{dataset}/teacher.pt",
    output:
        "results/{dataset}/pseudo_labels.parquet",
    log:
        "results/{dataset}/logs/pseudo_labels.log",
    benchmark:
        "results/{dataset}/benchmarks/pseudo_labels.tsv"
    params:
        cfg=lambda wc: stage_params(wc.dataset, "device", "features", "pseudo_labels"),
    threads: 2
    resources:
        mem_mb=8000,
    shell:
        "dakd pseudo-labels --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} "
        "--features {input.shards:q} --teacher {input.teacher:q} --out {output:q}" + TO_LOG
