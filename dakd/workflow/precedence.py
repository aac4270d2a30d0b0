"""Which value wins when ``--config`` and a dataset's ``overrides`` set the same key: the command line.

What a user types last is what they expect to run: ``snakemake --config 'teacher={optim: {epochs:
50}}'`` trains 50 epochs on every dataset, the demo too, although its ``overrides`` set 30. The
config files are read first (``config.yaml``, then each ``--configfile``; a dataset's overrides
merge into the sections for that dataset), ``--config`` values come last, and a study row's
``set`` applies on top of all (a row is its experiment). ``--config 'datasets={demo: {overrides:
{...}}}'`` sets a value for one dataset only, and beats a top-level ``--config`` value there.

Snakemake's own parser refuses a dotted key (``--config teacher.optim.epochs=50`` stops with its
traceback before dakd runs), so the dotted form, the one ``dakd --set`` and a study row's ``set``
take, goes through the key ``set``: ``--config set=teacher.optim.epochs=50`` or
``--config 'set=[teacher.optim.epochs=50, datasets.demo.overrides.seed=3]'``; each item is read
and checked as ``--set`` reads it, and applies after the nested values.

Each value a ``--config`` value replaces is said in one line naming both values, and so is a
``--config`` value that cannot apply (a dataset's overrides replace the mapping it is in, or a
study row sets the key): nothing on the command line is ignored without a word.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from ..config import ConfigError, dataset_config, set_dotted
from ..config.messages import show
from ..config.root import expand_dotted, parse_override
from .configuration import command_line_overrides

SET_KEY = "set"

MISSING = object()


def dotted_leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of nested mappings by its dotted key: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``
    (a list or a scalar is a leaf; an empty mapping has none)."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    leaves: dict[str, Any] = {}
    for key, value in data.items():
        leaves.update(dotted_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return leaves


def get_dotted(data: Any, key: str) -> Any:
    """The value at a dotted key, or :data:`MISSING`."""
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return MISSING
        data = data[part]
    return data


def command_line_values(settings: dict[str, Any] | None) -> dict[str, Any]:
    """What ``--config`` sets (Snakemake's ``workflow.config_settings.config``), nested and typed:
    its values (nested ones read as YAML), then each dotted ``set`` item; a malformed item is a
    one-line ConfigError naming it."""
    settings = dict(settings or {})
    items = settings.pop(SET_KEY, None)
    values = {k: v for k, v in settings.items() if not isinstance(v, (dict, list))}
    values.update(command_line_overrides(settings))
    for item in items if isinstance(items, list) else [] if items is None else [items]:
        key, value = parse_override(item, flag=f"--config {SET_KEY}=")
        try:
            values = set_dotted(values, {key: value})
        except ConfigError as exc:
            raise ConfigError(f"--config {SET_KEY}={item}: {exc}") from None
    return values


def command_line_keys(settings: dict[str, Any] | None) -> list[str]:
    """The dotted keys ``--config`` sets (Snakemake's ``workflow.config_settings.config``),
    outside ``datasets``."""
    return [key for key in dotted_leaves(settings or {}) if key.split(".")[0] != "datasets"]


def dataset_command_line_keys(settings: dict[str, Any] | None, name: str) -> list[str]:
    """The dotted keys ``--config`` sets for dataset ``name`` alone
    (``'datasets={<name>: {overrides: ...}}'`` or ``set=datasets.<name>.overrides....``)."""
    per_dataset = (settings or {}).get("datasets")
    entry = per_dataset.get(name) if isinstance(per_dataset, dict) else None
    return command_line_keys((entry.get("overrides") if isinstance(entry, dict) else None) or {})


def merge_command_line(config: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """Merge ``values`` (:func:`command_line_values`) into the workflow's ``config`` in place and make
    them win over the datasets' overrides; returns the lines :func:`command_line_first` gives."""
    from snakemake.utils import update_config

    config.pop(SET_KEY, None)
    datasets = config.get("datasets")
    for entry in datasets.values() if isinstance(datasets, dict) else []:
        if isinstance(entry, dict) and isinstance(entry.get("overrides"), dict):
            # A dotted key in a config file is that file's value: expanded now, before the command
            # line merges in, it cannot win over 'datasets={<name>: {overrides: ...}}' afterwards.
            with contextlib.suppress(ConfigError):  # a clash is the config check's to report, naming the file
                entry["overrides"] = expand_dotted(entry["overrides"])
    update_config(config, values)
    return command_line_first(config, values)


def command_line_first(config: dict[str, Any], settings: dict[str, Any] | None) -> list[str]:
    """Make every ``--config`` value win over the datasets' overrides in ``config`` (the
    workflow's config, ``--config`` already merged into its sections), editing the overrides in
    place; returns one ``dakd: ...`` line per value replaced or shadowed."""
    datasets = config.get("datasets")
    keys = command_line_keys(settings)
    if not keys or not isinstance(datasets, dict):
        return []
    notices = []
    for name, entry in datasets.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("overrides"), dict):
            continue  # no overrides to win over (a malformed entry is the config check's to report)
        own = dataset_command_line_keys(settings, name)
        for key in keys:
            if any(_nested(key, mine) for mine in own):
                continue  # --config 'datasets={<name>: {overrides: ...}}' sets it for this dataset
            notice = _apply(config, name, key, get_dotted(config, key))
            if notice:
                notices.append(notice)
    return notices


def _nested(a: str, b: str) -> bool:
    """Whether one dotted key is the other or inside it."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _apply(config: dict[str, Any], name: str, key: str, value: Any) -> str | None:
    """Set ``key`` in dataset ``name``'s overrides where they hide ``value``; the line to say, if any."""
    try:
        merged = dataset_config(config, name)
    except ConfigError:
        return None  # overrides that do not merge stop the run at the config check, which names the file
    seen = get_dotted(merged, key)
    if seen == value:
        return None
    entry = config["datasets"][name]
    parent = key.rpartition(".")[0]
    if parent and not isinstance(get_dotted(merged, parent), dict):
        cover = _covering(entry["overrides"], key)
        return (f"dakd: --config {key}={show(value)} does not apply to dataset {name!r}: its overrides set "
                f"{cover} to {show(get_dotted(entry['overrides'], cover))}")
    entry["overrides"] = set_dotted(copy.deepcopy(entry["overrides"]), {key: value})
    if seen is MISSING:  # the overrides replace a mapping the key is in (extract.backbones), without the key
        return (f"dakd: --config {key}={show(value)} is added to datasets.{name}.overrides (they replace a "
                "mapping it is in, without this key)")
    return f"dakd: --config {key}={show(value)} replaces {show(seen)} from datasets.{name}.overrides"


def _covering(overrides: dict[str, Any], key: str) -> str:
    """The deepest key of ``overrides`` on the way to ``key`` (the mapping that replaced it)."""
    parts = key.split(".")
    found = parts[0]
    for depth in range(1, len(parts)):
        if get_dotted(overrides, ".".join(parts[:depth])) is not MISSING:
            found = ".".join(parts[:depth])
    return found


def shadowed_by_rows(studies: dict[str, Any], config: dict[str, Any], keys: list[str]) -> list[str]:
    """One line per study whose rows set a key ``--config`` sets (``keys``): the rows win."""
    notices = []
    for name, study in studies.items():
        for key in keys:
            rows = [(row, k) for row in study.rows for k in row.changes if _nested(key, k)]
            if rows:
                row, set_key = rows[0]
                more = f" (and {len(rows) - 1} more row{'s' * (len(rows) > 2)})" if len(rows) > 1 else ""
                notices.append(f"dakd: study {name!r}: row {row.label!r} sets {set_key}="
                               f"{show(row.changes[set_key])} over --config {key}={show(get_dotted(config, key))}"
                               f"{more}; a row's set is its experiment")
    return notices
