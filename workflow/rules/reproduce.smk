# The paper's tables and figures: studies of config changes x seeds (config 'reproduce',
# dakd/reproduce.py). Runs are content-addressed directories, so rows that share a stage's
# settings share its job:
#   results/{dataset}/runs/t<digest>/teacher.pt                      (+ teacher_auc.json)
#   results/{dataset}/runs/t<digest>/p<digest>/pseudo_labels.parquet
#   results/{dataset}/runs/t<digest>/p<digest>/s<digest>/student.pt   (+ student_auc.json)
#   .../<model>_auc.e<digest>.json: the same checkpoint evaluated with a row's own evaluate.* settings
# Targets: results/{dataset}/tables/<study>.md (.csv, _runs.csv, .png), figure5.md, all.md.

import functools
import shlex

from dakd.reproduce import (EVALUATION_PATTERN, RUN_DIR_PATTERN, as_overrides, evaluation_jobs, plan_dataset,
                            stage_jobs)


@functools.cache
def study_plan(dataset):
    return plan_dataset(config, dataset, CONFIG_FILE)


@functools.cache
def planned_jobs(dataset):
    plan = study_plan(dataset)
    return stage_jobs([run for runs in plan.runs.values() for run in runs])


def set_options(dataset, path, planned, what):
    """The --set options (shell-quoted) of ``path`` under results/<dataset>/runs, from ``planned``."""
    if path not in planned:
        sys.exit(f"dakd: results/{dataset}/runs/{path} is not {what} of any study in {CONFIG_FILE} "
                 "(the config changed since it was planned?)")
    return " ".join(f"--set {shlex.quote(item)}" for item in as_overrides(planned[path]))


def run_overrides(dataset, run_dir):
    return set_options(dataset, run_dir, {d: changes for d, (_, changes) in planned_jobs(dataset).items()}, "a run")


@functools.cache
def planned_evaluations(dataset):
    plan = study_plan(dataset)
    return evaluation_jobs([run for runs in plan.runs.values() for run in runs])


def result_overrides(dataset, result):
    return set_options(dataset, result, planned_evaluations(dataset), "a result")


def study_results(wildcards):
    plan = study_plan(wildcards.dataset)
    if wildcards.study not in plan.studies:
        sys.exit(f"dakd: no study {wildcards.study!r} under reproduce.studies in {CONFIG_FILE}")
    return sorted({f"results/{wildcards.dataset}/runs/{run.result(model)}"
                   for run in plan.runs[wildcards.study] for model in run.row.models})


def study_spec(dataset, study):
    plan = study_plan(dataset)
    return json.dumps({"seeds": plan.seeds, "rows": [repr(r) for r in plan.studies[study].rows]})


def study_groups():
    """'all' and each shared prefix of study names (figure5 for figure5_tau, figure5_alpha, ...)."""
    names = set(config.get("reproduce", {}).get("studies", {}))
    return {"all"} | {n.split("_")[0] for n in names if "_" in n} - names


def group_members(wildcards):
    studies = study_plan(wildcards.dataset).studies
    names = [n for n in studies if wildcards.group == "all" or n.split("_")[0] == wildcards.group]
    return [f"results/{wildcards.dataset}/tables/{n}.md" for n in names]


rule study_teacher:
    input:
        shards=feature_shards,
        annotations="results/{dataset}/annotations.parquet",
    output:
        "results/{dataset}/runs/{teacher_run}/teacher.pt",
    log:
        "results/{dataset}/runs/{teacher_run}/train_teacher.log",
    benchmark:
        "results/{dataset}/runs/{teacher_run}/train_teacher.tsv"
    wildcard_constraints:
        teacher_run=r"t[0-9a-f]{10}",
    params:
        sets=lambda wc: run_overrides(wc.dataset, wc.teacher_run),
    threads: 2
    resources:
        mem_mb=16000,
        gpu=lambda wc: uses_gpu(wc.dataset),
    shell:
        "dakd train-teacher --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} {params.sets} "
        "--features {input.shards:q} --annotations {input.annotations:q} --out {output:q} --no-progress" + TO_LOG


rule study_pseudo_labels:
    input:
        shards=feature_shards,
        teacher="results/{dataset}/runs/{teacher_run}/teacher.pt",
    output:
        "results/{dataset}/runs/{teacher_run}/{pseudo_run}/pseudo_labels.parquet",
    log:
        "results/{dataset}/runs/{teacher_run}/{pseudo_run}/pseudo_labels.log",
    benchmark:
        "results/{dataset}/runs/{teacher_run}/{pseudo_run}/pseudo_labels.tsv"
    wildcard_constraints:
        teacher_run=r"t[0-9a-f]{10}",
        pseudo_run=r"p[0-9a-f]{10}",
    params:
        sets=lambda wc: run_overrides(wc.dataset, f"{wc.teacher_run}/{wc.pseudo_run}"),
    threads: 2
    resources:
        mem_mb=8000,
    shell:
        "dakd pseudo-labels --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} {params.sets} "
        "--features {input.shards:q} --teacher {input.teacher:q} --out {output:q}" + TO_LOG


rule study_student:
    input:
        shards=feature_shards,
        annotations="results/{dataset}/annotations.parquet",
        teacher="results/{dataset}/runs/{teacher_run}/teacher.pt",
        pseudo_labels="results/{dataset}/runs/{teacher_run}/{pseudo_run}/pseudo_labels.parquet",
    output:
        "results/{dataset}/runs/{teacher_run}/{pseudo_run}/{student_run}/student.pt",
    log:
        "results/{dataset}/runs/{teacher_run}/{pseudo_run}/{student_run}/train_student.log",
    benchmark:
        "results/{dataset}/runs/{teacher_run}/{pseudo_run}/{student_run}/train_student.tsv"
    wildcard_constraints:
        teacher_run=r"t[0-9a-f]{10}",
        pseudo_run=r"p[0-9a-f]{10}",
        student_run=r"s[0-9a-f]{10}",
    params:
        sets=lambda wc: run_overrides(wc.dataset, f"{wc.teacher_run}/{wc.pseudo_run}/{wc.student_run}"),
    threads: 2
    resources:
        mem_mb=16000,
        gpu=lambda wc: uses_gpu(wc.dataset),
    shell:
        "dakd train-student --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} {params.sets} "
        "--features {input.shards:q} --annotations {input.annotations:q} --teacher {input.teacher:q} "
        "--pseudo-labels {input.pseudo_labels:q} --out {output:q} --no-progress" + TO_LOG


rule study_evaluate:
    input:
        shards=feature_shards,
        model="results/{dataset}/runs/{run}/{model}.pt",
        annotations="results/{dataset}/annotations.parquet",
    output:
        "results/{dataset}/runs/{run}/{model}_auc{evaluation}.json",
    log:
        "results/{dataset}/runs/{run}/evaluate_{model}{evaluation}.log",
    benchmark:
        "results/{dataset}/runs/{run}/evaluate_{model}{evaluation}.tsv"
    wildcard_constraints:
        run=RUN_DIR_PATTERN,
        # empty for the dataset's own evaluation settings; .e<digest> for a row that changes them
        evaluation=rf"(\.{EVALUATION_PATTERN})?",
    params:
        sets=lambda wc: result_overrides(wc.dataset, f"{wc.run}/{wc.model}_auc{wc.evaluation}.json"),
    threads: 2
    resources:
        mem_mb=8000,
    shell:
        "dakd evaluate --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} {params.sets} "
        "--features {input.shards:q} --model {input.model:q} --annotations {input.annotations:q} "
        "--out {output:q}" + TO_LOG


rule tabulate:
    input:
        study_results,
    output:
        summary="results/{dataset}/tables/{study}.csv",
        runs="results/{dataset}/tables/{study}_runs.csv",
        markdown=report("results/{dataset}/tables/{study}.md", category="{dataset}", subcategory="paper tables"),
        plot=report("results/{dataset}/tables/{study}.png", category="{dataset}", subcategory="paper tables"),
    log:
        "results/{dataset}/logs/tabulate_{study}.log",
    wildcard_constraints:
        study="|".join(map(re.escape, config.get("reproduce", {}).get("studies", {}))) or "$^",
    params:
        spec=lambda wc: study_spec(wc.dataset, wc.study),
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "dakd tabulate --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} --study {wildcards.study:q} "
        "--runs-root results/{wildcards.dataset:q}/runs --out-dir results/{wildcards.dataset:q}/tables" + TO_LOG


rule study_group:
    input:
        group_members,
    output:
        "results/{dataset}/tables/{group}.md",
    wildcard_constraints:
        group="|".join(map(re.escape, sorted(study_groups()))),
    shell:
        "cat {input:q} > {output:q}"
