"""The Snakemake workflow's Python (the rules in ``workflow/rules/*.smk`` keep only thin glue):

- :mod:`.sections`: which config sections each stage reads (rerun triggers, run directories) and
  the run-directory patterns;
- :mod:`.configuration`: the config the workflow holds, checked, written for the jobs, per dataset;
- :mod:`.inputs`: what the rules' input functions return;
- :mod:`.studies`: the paper's studies as jobs.

Nothing here needs Snakemake except where its error types are raised (imported there).
"""
