"""Training recipes: YAML files, variants that override a few keys of a base, required values.

A recipe may name ``base: other.yaml`` (relative to itself); its keys are deep-merged over the
base's, so an ablation recipe holds only what differs. A value of ``???`` is required: it must be set
by a variant or on the command line (``--set data.manifests=[prepared/x/manifest.csv]``), otherwise
loading fails naming the key.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from deepperformer.core.errors import DeepPerformerError, require_file

REQUIRED = "???"


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    path = require_file(path, "recipe").resolve()
    if path in seen:
        raise DeepPerformerError(path, "recipe includes itself through 'base'")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise DeepPerformerError(path, f"not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise DeepPerformerError(path, "a recipe must be a mapping")
    base = doc.pop("base", None)
    if base:
        doc = deep_merge(_read(path.parent / base, seen + (path,)), doc)
    return doc


def set_key(recipe: dict, assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to a recipe in place."""
    if "=" not in assignment:
        raise DeepPerformerError(None, f"--set {assignment!r}: expected KEY=VALUE")
    key, value = assignment.split("=", 1)
    node = recipe
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise DeepPerformerError(None, f"--set {key}: {p} is not a section")
    node[parts[-1]] = yaml.safe_load(value)


def missing_keys(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += missing_keys(v, f"{prefix}{k}.")
        elif v == REQUIRED:
            out.append(f"{prefix}{k}")
    return out


def load_recipe(path: str | Path, overrides: list[str] = ()) -> dict:
    """Read a recipe with its bases and ``--set`` overrides; fail on any value still ``???``."""
    recipe = _read(Path(path))
    for a in overrides:
        set_key(recipe, a)
    missing = missing_keys(recipe)
    if missing:
        raise DeepPerformerError(path, f"required setting {missing[0]} has no value (set it with --set {missing[0]}=...)")
    recipe["recipe"] = str(path)
    return recipe
