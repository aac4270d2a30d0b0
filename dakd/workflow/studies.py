"""The studies (config ``reproduce``, :mod:`dakd.reproduce`) as the workflow sees them: each
dataset's plan once, the ``--set`` options and params of a run's jobs, a study's result files,
and the groups of studies (``all``, ``figure5``) one table file collects."""

from __future__ import annotations

import functools
import json
import shlex
import sys
from typing import Any

from ..config import dataset_config
from ..reproduce import Plan, as_overrides, evaluation_jobs, plan_dataset, stage_jobs
from .inputs import run_dir, workflow_error
from .precedence import command_line_keys, dataset_command_line_keys, shadowed_by_rows


class StudyPlans:
    """The studies of every dataset of ``config`` (checked, as the workflow holds it), planned on
    first use and kept: the workflow asks for the same plan once per job."""

    def __init__(self, config: dict[str, Any], where: str, command_line: dict[str, Any] | None = None) -> None:
        self.config = config
        self.where = where
        self.command_line = command_line or {}  # what --config sets (precedence.command_line_values)

    @functools.cache  # noqa: B019 (one instance per parsed workflow)
    def plan(self, dataset: str) -> Plan:
        """The dataset's studies, planned; a row that sets a key --config sets, for every dataset
        or for this one, says so once."""
        plan = plan_dataset(self.config, dataset, self.where)
        keys = [*command_line_keys(self.command_line), *dataset_command_line_keys(self.command_line, dataset)]
        if keys:
            merged = dataset_config(self.config, dataset, self.where)
            for line in shadowed_by_rows(plan.studies, merged, list(dict.fromkeys(keys))):
                print(line, file=sys.stderr)
        return plan

    def _runs(self, dataset: str) -> list:
        return [run for runs in self.plan(dataset).runs.values() for run in runs]

    @functools.cache  # noqa: B019
    def stage_changes(self, dataset: str) -> dict[str, dict[str, Any]]:
        """{run directory: the dotted changes its stage runs with}."""
        return {d: changes for d, (_, changes) in stage_jobs(self._runs(dataset)).items()}

    @functools.cache  # noqa: B019
    def evaluation_changes(self, dataset: str) -> dict[str, dict[str, Any]]:
        """{result path: the dotted changes its evaluation runs with}."""
        return evaluation_jobs(self._runs(dataset))

    def _changes(self, dataset: str, path: str, planned: dict[str, dict[str, Any]], what: str) -> dict[str, Any]:
        if path not in planned:
            raise workflow_error(f"dakd: results/{dataset}/runs/{path} is not {what} of any study in {self.where} "
                                 "(the config changed since it was planned?)")
        return planned[path]

    def run_changes(self, dataset: str, run: str) -> dict[str, Any]:
        """The changes of the run whose output prefix is ``run`` ('' for the dataset's own: none)."""
        if not run:
            return {}
        return self._changes(dataset, run_dir(run), self.stage_changes(dataset), "a run")

    def result_changes(self, dataset: str, run: str, model: str, evaluation: str) -> dict[str, Any]:
        """The changes of the evaluation ``<run><model>_auc<evaluation>.json`` ('' run: none)."""
        if not run:
            if evaluation:
                raise workflow_error(f"dakd: results/{dataset}/{model}_auc{evaluation}.json: a tagged result "
                                     "belongs to a study run (results/<dataset>/runs/...)")
            return {}
        result = f"{run_dir(run)}/{model}_auc{evaluation}.json"
        return self._changes(dataset, result, self.evaluation_changes(dataset), "a result")

    @staticmethod
    def set_options(changes: dict[str, Any]) -> str:
        """The ``--set`` options (shell-quoted) of a run's changes; '' for none."""
        return " ".join(f"--set {shlex.quote(item)}" for item in as_overrides(changes))

    def results(self, dataset: str, study: str) -> list[str]:
        """Every result file ``study`` reports on ``dataset``."""
        plan = self.plan(dataset)
        if study not in plan.studies:
            raise workflow_error(f"dakd: no study {study!r} under reproduce.studies in {self.where}")
        return sorted({f"results/{dataset}/runs/{run.result(model)}"
                       for run in plan.runs[study] for model in run.row.models})

    def spec(self, dataset: str, study: str) -> str:
        """The tabulation's rerun trigger: the seeds and the study's rows."""
        plan = self.plan(dataset)
        return json.dumps({"seeds": plan.seeds, "rows": [repr(r) for r in plan.studies[study].rows]})

    def names(self) -> list[str]:
        """The study names of the config (before any dataset's overrides)."""
        return list((self.config.get("reproduce") or {}).get("studies") or {})

    def groups(self) -> set[str]:
        """'all' and each shared prefix of study names (figure5 for figure5_tau, figure5_alpha, ...)."""
        names = set(self.names())
        return {"all"} | {n.split("_")[0] for n in names if "_" in n} - names

    def group_members(self, dataset: str, group: str) -> list[str]:
        """The table files a group's file concatenates."""
        studies = self.plan(dataset).studies
        names = [n for n in studies if group == "all" or n.split("_")[0] == group]
        return [f"results/{dataset}/tables/{n}.md" for n in names]
