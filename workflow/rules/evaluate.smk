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
        "dakd evaluate --config {CONFIG_FILE} --dataset {wildcards.dataset} --features {input.shards} "
        "--model {input.model} --annotations {input.annotations} --out {output.result} "
        "--scores-out {output.scores} > {log} 2>&1"
