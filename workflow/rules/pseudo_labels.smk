# Between the stages: teacher scores on training videos -> refined pseudo-labels. {run}: empty,
# or a study's runs/t<digest>/p<digest>/.


rule pseudo_labels:
    input:
        shards=feature_shards,
        teacher=earlier("teacher", "teacher.pt"),
    output:
        "results/{dataset}/{run}pseudo_labels.parquet",
    log:
        "results/{dataset}/{run}logs/pseudo_labels.log",
    benchmark:
        "results/{dataset}/{run}benchmarks/pseudo_labels.tsv"
    wildcard_constraints:
        run=RUN_PREFIX_PATTERNS["pseudo_labels"],
    params:
        cfg=run_params("pseudo_labels"),
        sets=lambda wc: STUDIES.set_options(run_changes(wc)),
    threads: 2
    resources:
        mem_mb=8000,
    shell:
        "dakd pseudo-labels --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} {params.sets} "
        "--features {input.shards:q} --teacher {input.teacher:q} --out {output:q}" + THREADS + TO_LOG
