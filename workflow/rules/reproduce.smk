# The paper's tables and figures: studies of config changes x seeds (config 'reproduce',
# dakd/reproduce.py, dakd/workflow/studies.py). A study row's runs go through the same stage rules
# as the dataset's own run (train_teacher, pseudo_labels, train_student, evaluate), under
# content-addressed directories, so rows that share a stage's settings share its job:
#   results/{dataset}/runs/t<digest>/teacher.pt                      (+ teacher_auc.json)
#   results/{dataset}/runs/t<digest>/p<digest>/pseudo_labels.parquet
#   results/{dataset}/runs/t<digest>/p<digest>/s<digest>/student.pt   (+ student_auc.json)
#   .../<model>_auc.e<digest>.json: the same checkpoint evaluated with a row's own evaluate.* settings
#   .../logs/, .../benchmarks/: each job's log and benchmark, as for the dataset's own run
# Targets: results/{dataset}/tables/<study>.md (.csv, _runs.csv, .png), figure5.md, all.md.


rule tabulate:
    input:
        results=lambda wc: STUDIES.results(wc.dataset, wc.study),
        probe="results/{dataset}/probe_auc.json",
    output:
        summary="results/{dataset}/tables/{study}.csv",
        runs="results/{dataset}/tables/{study}_runs.csv",
        markdown=report("results/{dataset}/tables/{study}.md", category="{dataset}", subcategory="paper tables"),
        plot=report("results/{dataset}/tables/{study}.png", category="{dataset}", subcategory="paper tables"),
    log:
        "results/{dataset}/logs/tabulate_{study}.log",
    benchmark:
        "results/{dataset}/benchmarks/tabulate_{study}.tsv"
    wildcard_constraints:
        study=one_of(STUDIES.names()),
    params:
        spec=lambda wc: STUDIES.spec(wc.dataset, wc.study),
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "dakd tabulate --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} --study {wildcards.study:q} "
        "--runs-root results/{wildcards.dataset:q}/runs --out-dir results/{wildcards.dataset:q}/tables "
        "--probe {input.probe:q}" + TO_LOG


rule study_group:
    input:
        lambda wc: STUDIES.group_members(wc.dataset, wc.group),
    output:
        "results/{dataset}/tables/{group}.md",
    log:
        "results/{dataset}/logs/study_group_{group}.log",
    benchmark:
        "results/{dataset}/benchmarks/study_group_{group}.tsv"
    wildcard_constraints:
        group=one_of(sorted(STUDIES.groups())),
    threads: 1
    shell:
        "cat {input:q} > {output:q} 2> {log:q}"
