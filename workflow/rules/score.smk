# Scoring footage: every video under a dataset's score.input_dir gets
# results/{dataset}/scored/{video}.json (+ .scores.parquet, .png) from the dataset's
# score.model checkpoint; results/{dataset}/scored.json summarises them all, so a day of
# footage is one target:  snakemake --cores 8 results/cams/scored.json

import functools


@functools.cache
def videos_to_score(dataset):
    """{output name: video path} under the dataset's score.input_dir (dakd.workflow.inputs.scored_videos)."""
    return scored_videos(DATASETS.typed[dataset], dataset, CONFIG_FILE)


rule score_video:
    input:
        unpack(lambda wc: scored_video_input(DATASETS.typed[wc.dataset], wc.dataset, wc.video,
                                             videos_to_score(wc.dataset))),
    output:
        result="results/{dataset}/scored/{video}.json",
        scores="results/{dataset}/scored/{video}.scores.parquet",
        timeline="results/{dataset}/scored/{video}.png",
    wildcard_constraints:
        video=r"[^/]+",
    log:
        "results/{dataset}/logs/score/{video}.log",
    benchmark:
        "results/{dataset}/benchmarks/score/{video}.tsv"
    params:
        cfg=lambda wc: stage_params(DATASETS.merged[wc.dataset], "score"),
        out=lambda wc: f"results/{wc.dataset}/scored",
    threads: 2
    resources:
        mem_mb=8000,
        gpu=gpus,
    shell:
        "dakd score --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} --model {input.model:q} "
        "--out {params.out:q} {input.video:q}" + THREADS + TO_LOG


rule score_folder:
    input:
        lambda wc: [f"results/{wc.dataset}/scored/{name}.json" for name in videos_to_score(wc.dataset)],
    output:
        "results/{dataset}/scored.json",
    log:
        "results/{dataset}/logs/score_folder.log",
    benchmark:
        "results/{dataset}/benchmarks/score_folder.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "dakd score-summary --out {output:q} {input:q}" + TO_LOG
