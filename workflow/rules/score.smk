# Scoring footage: every video under a dataset's score.input_dir gets
# results/{dataset}/scored/{video}.json (+ .scores.parquet, .png) from the dataset's
# score.model checkpoint; results/{dataset}/scored.json summarises them all, so a day of
# footage is one target:  snakemake --cores 8 results/cams/scored.json

from dakd.errors import DakdError
from dakd.scoring.sources import expand_sources


@functools.cache
def scored_videos(dataset):
    """{output name: video path} under the dataset's score.input_dir; a missing setting or
    folder stops the plan with one line."""
    folder = dakd_config(dataset).score.input_dir
    if not folder:
        sys.exit(f"dakd: dataset {dataset!r}: set score.input_dir (the folder of videos to score) in {CONFIG_FILE} "
                 f"or its datasets.{dataset}.overrides")
    if not Path(folder).is_dir():
        sys.exit(f"dakd: dataset {dataset!r}: score.input_dir {folder} not found")
    try:
        sources, empty = expand_sources([folder])
    except DakdError as exc:
        sys.exit(f"dakd: dataset {dataset!r}: {' '.join(str(exc).split())}")
    if empty:
        sys.exit(f"dakd: dataset {dataset!r}: {empty[0]['reason']}")
    return {s.name: s.location for s in sources}


def scored_video_input(wildcards):
    videos = scored_videos(wildcards.dataset)
    if wildcards.video not in videos:
        sys.exit(f"dakd: no video named {wildcards.video!r} under score.input_dir "
                 f"{dakd_config(wildcards.dataset).score.input_dir}")
    return {"video": videos[wildcards.video],
            "model": f"results/{wildcards.dataset}/{dakd_config(wildcards.dataset).score.model}.pt"}


rule score_video:
    input:
        unpack(scored_video_input),
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
        cfg=lambda wc: stage_params(wc.dataset, "device", "seed", "extract", "score"),
        out=lambda wc: f"results/{wc.dataset}/scored",
    threads: 2
    resources:
        mem_mb=8000,
        gpu=lambda wc: uses_gpu(wc.dataset),
    shell:
        "dakd score --config {EFFECTIVE_CONFIG:q} --dataset {wildcards.dataset:q} --model {input.model:q} "
        "--out {params.out:q} {input.video:q}" + TO_LOG


rule score_folder:
    input:
        lambda wc: [f"results/{wc.dataset}/scored/{name}.json" for name in scored_videos(wc.dataset)],
    output:
        "results/{dataset}/scored.json",
    log:
        "results/{dataset}/logs/score_folder.log",
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "dakd score-summary --out {output:q} {input:q}" + TO_LOG
