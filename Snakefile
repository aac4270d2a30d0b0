# dakd: raw videos -> features -> teacher -> pseudo-labels -> student -> evaluation.
#
#   snakemake --cores 2                                   # the embedded demo (target 'all'), CPU only
#   snakemake --cores 8 results/ucf/student_auc.json      # UCF-Crime where config.yaml says
#   snakemake --cores 8 results/ucf/tables/table4.md      # a paper table, mean ± std over seeds
#   snakemake --cores 8 results/ucf/scored.json           # score every video under score.input_dir
#
# Stages live in workflow/rules/, one file each; config.yaml is validated on load, and every job
# runs with the config Snakemake holds, command-line overrides included (workflow/rules/common.smk).
# The Python behind the rules is in dakd/workflow/.

from snakemake.utils import min_version

min_version("8.0")


configfile: "config.yaml"


# Validates the config (with --config / --configfile overrides) and writes the file every job runs with.
include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/teacher.smk"
include: "workflow/rules/pseudo_labels.smk"
include: "workflow/rules/student.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/reproduce.smk"
include: "workflow/rules/score.smk"


# The demo: the student's metrics and its plots (`snakemake --report report.html` then shows them all).
rule all:
    default_target: True
    input:
        "results/demo/student_auc.json",
        "results/demo/plots/student_roc.png",
        "results/demo/plots/student_timelines.png",
