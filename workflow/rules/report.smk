# Plots of each evaluation; `snakemake --report report.html` collects them with the metrics.


rule plots:
    input:
        result="results/{dataset}/{model}_auc.json",
        scores="results/{dataset}/{model}_scores.parquet",
    output:
        roc=report("results/{dataset}/plots/{model}_roc.png", category="{dataset}", subcategory="ROC"),
        timeline=report("results/{dataset}/plots/{model}_timelines.png", category="{dataset}",
                        subcategory="score timelines"),
    log:
        "results/{dataset}/logs/plots_{model}.log",
    benchmark:
        "results/{dataset}/benchmarks/plots_{model}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "dakd plot --scores {input.scores:q} --result {input.result:q} --roc-out {output.roc:q} "
        "--timeline-out {output.timeline:q}" + TO_LOG
