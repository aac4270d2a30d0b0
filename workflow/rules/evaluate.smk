# Frame-level AUC / AP of the teacher and the student on the test split. {run}: empty, or a
# study's run directory (runs/t<..>/ or runs/t<..>/p<..>/s<..>/); {evaluation}: empty for the
# dataset's own evaluation settings, .e<digest> for a study row that changes them.


rule evaluate:
    input:
        shards=feature_shards,
        model="results/{dataset}/{run}{model}.pt",
        annotations="results/{dataset}/annotations.parquet",
    output:
        result=report("results/{dataset}/{run}{model}_auc{evaluation}.json", category="{dataset}",
                      subcategory="metrics"),
        scores="results/{dataset}/{run}{model}_scores{evaluation}.parquet",
    log:
        "results/{dataset}/{run}logs/evaluate_{model}{evaluation}.log",
    benchmark:
        "results/{dataset}/{run}benchmarks/evaluate_{model}{evaluation}.tsv"
    wildcard_constraints:
        run=RUN_PREFIX_PATTERNS["evaluate"],
        evaluation=rf"(\.{EVALUATION_PATTERN})?",
    params:
        cfg=lambda wc: stage_params(DATASETS.merged[wc.dataset], "evaluate", evaluation_changes(wc)),
        sets=lambda wc: STUDIES.set_options(evaluation_changes(wc)),
    threads: 2
    resources:
        mem_mb=8000,
    shell:
        "dakd evaluate --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} {params.sets} "
        "--features {input.shards:q} --model {input.model:q} --annotations {input.annotations:q} "
        "--out {output.result:q} --scores-out {output.scores:q}" + THREADS + TO_LOG


# The linear probe: a logistic regression on single snippets (dakd probe), the reference the
# tables set every model beside.
rule probe:
    input:
        shards=feature_shards,
        annotations="results/{dataset}/annotations.parquet",
    output:
        result=report("results/{dataset}/probe_auc.json", category="{dataset}", subcategory="metrics"),
        scores="results/{dataset}/probe_scores.parquet",
    log:
        "results/{dataset}/logs/probe.log",
    benchmark:
        "results/{dataset}/benchmarks/probe.tsv"
    params:
        cfg=lambda wc: stage_params(DATASETS.merged[wc.dataset], "probe"),
    threads: 2
    resources:
        mem_mb=8000,
    shell:
        "dakd probe --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} --features {input.shards:q} "
        "--annotations {input.annotations:q} --out {output.result:q} --scores-out {output.scores:q}"
        + THREADS + TO_LOG
