"""The workflow configuration schema: defaults, validation, and which settings change which output.

One source: ``config/schema.yaml`` (shipped as ``elasticc_classification/data/schema.yaml``; a test
keeps the two identical). The Snakemake workflow validates its config against it (filling the
defaults); the CLI and the library fill and validate users' partial configs with the same schema
through :func:`validate` (a whole config) and :func:`resolve` (one section), so no module keeps
its own defaults.

Each setting's ``x-changes`` annotation in the schema lists the rules whose output it changes.
:func:`rule_settings` gives those settings of a section: a rule's params are exactly these (a
change reruns the rule), and the code records exactly these with its outputs (shard metadata,
the training fingerprint). Threads, memory, runtime, progress bars and other rules' plot-only
settings carry no annotation for the rule, so changing them reruns nothing.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from elasticc_classification.errors import InputError

SCHEMA_RESOURCE = "data/schema.yaml"
CHANGES = "x-changes"  # the schema annotation: rules whose output a setting changes


@functools.cache
def _schema() -> dict[str, Any]:
    text = resources.files("elasticc_classification").joinpath(SCHEMA_RESOURCE).read_text()
    return yaml.safe_load(text)


def schema() -> dict[str, Any]:
    """The configuration JSON schema (a fresh copy)."""
    return copy.deepcopy(_schema())


def _section_schema(section: str) -> dict[str, Any]:
    props = _schema()["properties"]
    if section not in props:
        raise KeyError(f"no config section {section!r} in the schema; sections: {sorted(props)}")
    return props[section]


def fill_defaults(instance: dict[str, Any], sub: Mapping[str, Any]) -> dict[str, Any]:
    """Fill ``instance`` in place with the defaults of schema ``sub`` (object properties, recursively
    into present mappings; a section's ``default: {}`` makes its keys' defaults apply). Returns it."""
    for key, prop in sub.get("properties", {}).items():
        if key not in instance and "default" in prop:
            instance[key] = copy.deepcopy(prop["default"])
        if isinstance(instance.get(key), dict) and "properties" in prop:
            fill_defaults(instance[key], prop)
    return instance


@functools.cache
def _validator(section: str | None) -> Any:
    import jsonschema

    sub = _schema() if section is None else _section_schema(section)
    cls = jsonschema.validators.validator_for(_schema())
    return cls(sub, format_checker=None)


def _check(instance: Any, section: str | None, source: str) -> None:
    """Raise :class:`InputError` naming the key of the most relevant schema violation."""
    from jsonschema.exceptions import best_match

    err = best_match(_validator(section).iter_errors(instance))
    if err is None:
        return
    path = [section] if section else []
    path += [str(p) for p in err.absolute_path]
    where = ".".join(path) or "top level"
    message = err.message
    if err.validator == "additionalProperties" and isinstance(err.instance, Mapping):
        known = list(err.schema.get("properties", {}))
        message = f"unknown keys {sorted(set(err.instance) - set(known))}; known keys are {known}"
    raise InputError(f"{source}: {where}: {message} (config/schema.yaml)")


def validate(cfg: Mapping[str, Any] | None, source: str = "config") -> dict[str, Any]:
    """A whole workflow config (possibly partial or empty) filled with the schema defaults and
    validated; a bad value raises :class:`InputError` naming the key (``source``: the file)."""
    out = copy.deepcopy(dict(cfg or {}))
    fill_defaults(out, _schema())
    _check(out, None, source)
    return out


def resolve(section: str, cfg: Mapping[str, Any] | None, source: str | None = None) -> dict[str, Any]:
    """Config section ``section`` (possibly partial, empty or None) filled with the schema defaults
    and validated against the section's schema; a bad value raises :class:`InputError` naming the key.

    Results are cached by content (validation costs milliseconds, and per-alert paths such as
    ``build_shard`` resolve the same section at every call); each call returns a fresh copy."""
    if cfg is not None and not isinstance(cfg, Mapping):
        raise InputError(f"{source or 'config'}: {section} must be a mapping of settings, got {cfg!r}")
    try:
        key = json.dumps(cfg or {}, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):  # values JSON cannot hold: validate them without the cache
        return _fill_and_check(section, copy.deepcopy(dict(cfg or {})), source or "config")
    return copy.deepcopy(_resolve_json(section, key, source or "config"))


@functools.lru_cache(maxsize=64)
def _resolve_json(section: str, key: str, source: str) -> dict[str, Any]:
    return _fill_and_check(section, json.loads(key), source)


def _fill_and_check(section: str, cfg: dict[str, Any], source: str) -> dict[str, Any]:
    out = fill_defaults(cfg, _section_schema(section))
    _check(out, section, source)
    return out


def section_defaults(section: str) -> dict[str, Any]:
    """The schema defaults of config section ``section`` (a fresh copy)."""
    return fill_defaults({}, _section_schema(section))


def defaults() -> dict[str, Any]:
    """Every default of the schema, as a whole config (a fresh copy)."""
    return fill_defaults({}, _schema())


@functools.cache
def changes_output(section: str, rule: str) -> tuple[str, ...]:
    """Keys of ``section`` whose ``x-changes`` annotation names ``rule`` (schema order)."""
    props = _section_schema(section).get("properties", {})
    return tuple(k for k, p in props.items() if rule in p.get(CHANGES, ()))


def rule_settings(cfg: Mapping[str, Any], section: str, rule: str) -> dict[str, Any]:
    """The settings of section ``cfg`` (one section, filled) that change ``rule``'s output: the rule's
    params, and what its outputs record of the config."""
    return {k: cfg[k] for k in changes_output(section, rule) if k in cfg}
