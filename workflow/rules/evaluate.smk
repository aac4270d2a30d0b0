# Frame-level AUC / AP of the teacher and the student on the test split.


rule evaluate:
    input:
        shards=feature_shards,
        model="results/{dataset}/{model}.pt",
        annotations="results/{dataset}/annotations.parquet",
    output:
        result=report("results/{dataset}/{model}_auc.json", category="{dataset}", subcategory="metrics"),
        scores="results/{dataset}/{model}_scores.parquet",
    log:
        "results/{dataset}/logs/evaluate_{model}.log",
    benchmark:
        "results/{dataset}/benchmarks/evaluate_{model}.tsv"
    params:
        cfg=lambda wc: stage_params(wc.dataset, "device", "features", "evaluate"),
    threads: 2
    resources:
        mem_mb=8000,
    shell:
        "dakd evaluate --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} --features {input.shards:q} "
        "--model {input.model:q} --annotations {input.annotations:q} --out {output.result:q} "
        "--scores-out {output.scores:q}" + TO_LOG
