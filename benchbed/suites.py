"""Suite YAML -> schema-validated, registry-checked, normalised and hashed plan."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from benchbed.errors import BenchbedError, SuiteError
from benchbed.imaging import content_hash
from benchbed.plan import Plan
from benchbed.registry import Registry
from benchbed.types import Kind
from benchbed.weights import param_weight_files

_NAME = {"type": "string", "minLength": 1}
_PARAMS = {"type": "object"}
def _named(**extra: Any) -> dict[str, Any]:
    """A plugin entry: a bare name, or a mapping with `name`, `params` and ``extra`` keys."""
    return {
        "oneOf": [
            _NAME,
            {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {"name": _NAME, "params": _PARAMS, **extra},
            },
        ]
    }


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "items": item}


_PLUGIN_REF = _named()
_RESTORE = {
    "oneOf": [
        *_PLUGIN_REF["oneOf"],
        {
            "type": "object",
            "description": "per-modality restorers, e.g. {ir: bm3d, vi: wiener}",
            "additionalProperties": _PLUGIN_REF,
            "not": {"required": ["name"]},
            "minProperties": 1,
        },
    ]
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "datasets", "degradations", "methods", "metrics"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
        "version": {"type": ["integer", "string"]},
        "description": {"type": "string"},
        "primary": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                    "description": "metrics that decide the headline ranks (default: the "
                                   "reference-based ones)"},
        "seed": {"type": "integer", "minimum": 0},
        "include": {"type": "array", "items": _NAME},
        "references": {"enum": ["clean", "degraded"]},
        "datasets": _list_of(
            _named(split={"type": ["string", "null"]}, limit={"type": "integer", "minimum": 1})
        ),
        "degradations": _list_of(
            _named(
                label=_NAME,
                severities=_list_of({"type": ["string", "integer", "object"]}),
                apply_to={
                    "oneOf": [{"const": "all"}, {"type": "array", "items": _NAME, "minItems": 1}]
                },
            )
        ),
        "methods": _list_of(
            {
                "oneOf": [
                    _NAME,
                    {
                        "type": "object",
                        "required": ["fuse"],
                        "additionalProperties": False,
                        "properties": {"fuse": _PLUGIN_REF, "restore": _RESTORE, "label": _NAME,
                                       "degradations": _list_of(_NAME)},
                    },
                    {
                        "type": "object",
                        "required": ["fused"],
                        "additionalProperties": False,
                        "description": "a folder of fused images made elsewhere, one per pair id",
                        "properties": {"fused": _NAME, "label": _NAME,
                                       "degradations": _list_of(_NAME)},
                    },
                ]
            }
        ),
        "metrics": _list_of(_named(profile=_NAME)),
        "detection": {"$ref": "#/$defs/detection"},
    },
    "$defs": {
        "detection": {
            "type": "object",
            "required": ["detector"],
            "additionalProperties": False,
            "properties": {
                "detector": _PLUGIN_REF,
                "protocol": {"enum": ["labels", "clean-reference"]},
                "reference": {
                    "description": "clean-reference: a method label of the suite, or {source: vi}",
                    "oneOf": [
                        _NAME,
                        {"type": "object", "required": ["source"], "additionalProperties": False,
                         "properties": {"source": _NAME}},
                    ],
                },
                "conf": {"type": "number", "minimum": 0, "maximum": 1},
                "reference_conf": {"type": "number", "minimum": 0, "maximum": 1},
                "classes": {"type": "array", "minItems": 1, "items": _NAME},
                "class_map": {
                    "type": "object",
                    "additionalProperties": {
                        "oneOf": [
                            _NAME,
                            {"type": "integer", "minimum": 0},
                            {"type": "array", "minItems": 1,
                             "items": {"oneOf": [_NAME, {"type": "integer", "minimum": 0}]}},
                        ]
                    },
                },
                "single_modality": {
                    "type": "array",
                    "items": {
                        "oneOf": [
                            _NAME,
                            {"type": "object", "required": ["modality"], "additionalProperties": False,
                             "properties": {"modality": _NAME, "restore": _PLUGIN_REF, "label": _NAME}},
                        ]
                    },
                },
                "labels": {"enum": ["fused", "view"]},
            },
        }
    },
}


# --- YAML with line numbers ---------------------------------------------------------------------


def _line_map(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            _line_map(value, (*path, key.value), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _line_map(value, (*path, i), out)


MAX_YAML_NODES = 100_000  # a suite has hundreds; an alias bomb ("billion laughs") has 10^9


def _expanded_size(text: str) -> int:
    """Nodes the document has once its aliases are expanded, from the (linear) event stream, so an
    alias bomb is refused before compose/safe_load expand it exponentially."""
    anchors: dict[str, int] = {}
    stack: list[tuple[str | None, int]] = [(None, 0)]
    for ev in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(ev, yaml.ScalarEvent):
            if ev.anchor:
                anchors[ev.anchor] = 1
            stack[-1] = (stack[-1][0], stack[-1][1] + 1)
        elif isinstance(ev, yaml.AliasEvent):
            stack[-1] = (stack[-1][0], stack[-1][1] + anchors.get(ev.anchor, 1))
        elif isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            stack.append((ev.anchor, 0))
        elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, count = stack.pop()
            if anchor:
                anchors[anchor] = count + 1
            stack[-1] = (stack[-1][0], stack[-1][1] + count + 1)
        if stack[-1][1] > MAX_YAML_NODES:
            return stack[-1][1]
    return stack[0][1]


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    if not path.is_file():
        raise SuiteError(f"suite file not found: {path}", fix="check the path (suites live in suites/)")
    text = path.read_text(encoding="utf-8")
    try:
        size = _expanded_size(text)
        if size > MAX_YAML_NODES:
            raise SuiteError(f"{path}: the YAML expands to more than {MAX_YAML_NODES} nodes "
                             "through its aliases", fix="write the repeated entries out, or use `include:`")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(
            f"{where}: invalid YAML: {problem}",
            fix="fix the indentation/quoting at that line (YAML needs spaces, not tabs)",
        ) from exc
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite must be a YAML mapping", fix="start with `name: ...`")
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _line_map(node, (), lines)
    return data, lines


def _line_for(lines: Mapping[tuple[Any, ...], int], path: tuple[Any, ...]) -> int | None:
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Included parts first; lists concatenate, mappings merge, scalars of the includer win."""
    out = dict(base)
    for key, value in over.items():
        if key in out and isinstance(out[key], list) and isinstance(value, list):
            out[key] = out[key] + value
        elif key in out and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


Origins = dict[tuple[Any, ...], str]


def _origins(data: dict[str, Any], lines: Mapping[tuple[Any, ...], int], p: Path) -> Origins:
    out: Origins = {}
    for key, value in data.items():
        out[(key,)] = f"{_show(p)}:{_line_for(lines, (key,))}"
        if isinstance(value, list):
            for i in range(len(value)):
                out[(key, i)] = f"{_show(p)}:{_line_for(lines, (key, i))}"
    return out


def _merge_origins(base: Origins, base_data: dict[str, Any], over: Origins) -> Origins:
    out = dict(base)
    for path, where in over.items():
        if len(path) == 2 and isinstance(base_data.get(path[0]), list):
            out[(path[0], path[1] + len(base_data[path[0]]))] = where
        else:
            out[path] = where
    return out


def _show(p: Path) -> str:
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def load_suite_dict(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a suite and its includes (resolved relative to the including file), schema-checked."""
    return _load(path, _seen)[0]


def _load(path: str | Path, _seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], Origins]:
    p = Path(path).resolve()
    if p in _seen:
        raise SuiteError(f"include cycle: {' -> '.join(map(str, (*_seen, p)))}", fix="remove it")
    data, lines = _read_yaml(p)
    merged: dict[str, Any] = {}
    origins: Origins = {}
    for inc in data.get("include", []) or []:
        inc_path = (p.parent / inc).resolve()
        if not inc_path.is_file():
            raise SuiteError(
                f"{_show(p)}:{_line_for(lines, ('include',))}: included file {inc} not found",
                fix=f"create {inc_path} or fix the include path",
            )
        part, part_origins = _load_part(inc_path, (*_seen, p))
        origins = _merge_origins(origins, merged, part_origins)
        merged = _merge(merged, part)
    own = {k: v for k, v in data.items() if k != "include"}
    origins = _merge_origins(origins, merged, _origins(own, lines, p))
    data = _merge(merged, own)
    data.setdefault("name", p.stem)
    errors = sorted(
        jsonschema.Draft202012Validator(SCHEMA).iter_errors(data), key=lambda e: list(e.path)
    )
    if errors:
        err = errors[0]
        best = jsonschema.exceptions.best_match(errors) or err
        path = tuple(best.absolute_path)
        if best.validator == "additionalProperties" and isinstance(best.instance, dict):
            allowed = set(best.schema.get("properties", {}))
            extra = sorted(k for k in best.instance if k not in allowed)
            if extra:  # point at the offending key, not at its parent mapping
                path = (*path, extra[0])
        where = "/".join(str(x) for x in best.absolute_path) or "(top level)"
        line = _line_for(lines, path)
        raise SuiteError(
            f"{_show(p)}:{line}: {where}: {_schema_message(best)}",
            fix=_schema_hint(best),
        )
    return data, origins


def _load_part(p: Path, seen: tuple[Path, ...]) -> tuple[dict[str, Any], Origins]:
    """An included file: read (with its own includes) but not schema-checked on its own."""
    if p in seen:
        raise SuiteError(f"include cycle: {' -> '.join(map(str, (*seen, p)))}", fix="remove it")
    data, lines = _read_yaml(p)
    merged: dict[str, Any] = {}
    origins: Origins = {}
    for inc in data.get("include", []) or []:
        part, part_origins = _load_part((p.parent / inc).resolve(), (*seen, p))
        origins = _merge_origins(origins, merged, part_origins)
        merged = _merge(merged, part)
    own = {k: v for k, v in data.items() if k != "include"}
    origins = _merge_origins(origins, merged, _origins(own, lines, p))
    return _merge(merged, own), origins


def _schema_message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        return err.message
    if err.validator == "oneOf":
        return f"{json.dumps(err.instance)[:80]} is not a valid entry"
    return err.message


def _schema_hint(err: jsonschema.ValidationError) -> str:
    path = list(err.absolute_path)
    section = path[0] if path else None
    hints = {
        "datasets": "write a dataset as `demo` or `{name: tno, split: test, limit: 5}`",
        "degradations": "write `gaussian_noise` or `{name: gaussian_noise, severities: [1, 2]}`",
        "methods": "write a fuser name or `{restore: auto, fuse: laplacian}`",
        "metrics": "write a metric name or `{name: QABF, params: {...}}`",
        "detection": "write `detection: {detector: yolo, protocol: labels, conf: 0.25}`; keys: "
        "detector, protocol, reference, conf, reference_conf, classes, class_map, "
        "single_modality, labels (see suites/detection-msrs.yaml)",
    }
    if section in hints:
        return hints[section]
    if err.validator == "additionalProperties":
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        return f"remove or rename the key; allowed here: {allowed}"
    return "required keys: name, datasets, degradations, methods, metrics (see suites/quickstart.yaml)"


# --- normalisation against the registry ---------------------------------------------------------


def plugin_ref(entry: Any) -> dict[str, Any]:
    """A suite's plugin entry (a name, or a mapping with ``name`` and ``params``) as a mapping."""
    if isinstance(entry, str):
        return {"name": entry, "params": {}}
    return {"name": entry["name"], "params": dict(entry.get("params") or {})}


def checked_ref(registry: Registry, kind: Kind, ref: dict[str, Any], where: str) -> dict[str, Any]:
    """``ref`` checked against the registry: its version, full parameters and weights' sha256s."""
    try:
        spec = registry.get(kind, ref["name"])
    except BenchbedError as exc:
        raise SuiteError(f"{where}: {exc.message}", fix=exc.fix) from exc
    unknown = set(ref["params"]) - set(spec.params)
    if unknown:
        raise SuiteError(
            f"{where}: {kind} {spec.name!r} has no parameter(s) {sorted(unknown)}",
            fix=f"use one of {sorted(spec.params)} (see `benchbed info {spec.name}`)",
        )
    out = {"name": spec.name, "version": spec.version, "params": {**spec.params, **ref["params"]}}
    # new weights under an old version, or a weights file a parameter names retrained in place,
    # must not reuse stored results
    weights = [w.sha256 for w in spec.weights] + param_weight_files(out["params"])
    if weights:
        out["weights"] = weights
    return out


def param_suffix(params: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """``[k=v,...]`` for the parameters that differ from the plugin's defaults (else empty)."""
    changed = {k: v for k, v in params.items() if defaults.get(k) != v}
    if not changed:
        return ""
    return "[" + ",".join(f"{k}={changed[k]}" for k in sorted(changed)) + "]"


def method_label(method: Mapping[str, Any], registry: Registry) -> str:
    """Display name: `fuser`, `restorer>fuser`, or `ra+rb>fuser`, with non-default params."""
    fuse = method["fuse"]
    fname = fuse["name"] + param_suffix(fuse["params"], registry.get("fuser", fuse["name"]).params)
    restore = method.get("restore")
    if not restore:
        return fname
    labels = []
    for ref in restore.values():
        spec = registry.get("restorer", ref["name"])
        labels.append(ref["name"] + param_suffix(ref["params"], spec.params))
    unique = list(dict.fromkeys(labels))
    return ("+".join(unique) if len(unique) > 1 else unique[0]) + ">" + fname


def _given_conditions(where: str, degradation: str, ds_specs: list[tuple[str, Any]],
                      wanted: list[Any] | None) -> dict[str, dict[str, str]]:
    """The conditions every dataset of the suite ships, checked against the ones asked for."""
    common: list[str] | None = None
    for ds_where, spec in ds_specs:
        if not spec.conditions:
            raise SuiteError(
                f"{where}: degradation {degradation!r} reads the dataset's own degraded images, "
                f"but dataset {spec.name!r} ({ds_where}) ships none",
                fix="use a synthetic degradation for it, or a dataset that lists conditions "
                "(`benchbed list dataset`)")
        common = [c for c in (common or spec.conditions) if c in spec.conditions]
    levels = {c: {"condition": c} for c in common or []}
    for sev in wanted or []:
        if isinstance(sev, dict) or str(sev) not in levels:
            offered = {spec.name: list(spec.conditions) for _, spec in ds_specs}
            raise SuiteError(f"{where}: no condition {sev!r} in every dataset of the suite",
                             fix=f"use conditions the datasets ship: {offered}")
    return levels


def _needs_clean(where: str, degradation: str, ds_specs: list[tuple[str, Any]]) -> None:
    """A synthetic degradation needs clean sources to degrade."""
    for ds_where, spec in ds_specs:
        if not spec.has_clean:
            raise SuiteError(
                f"{where}: dataset {spec.name!r} ({ds_where}) has no clean images to apply "
                f"{degradation!r} to", fix=f"use `{{name: given, severities: "
                f"{list(spec.conditions)}}}` (its own degraded images) or another dataset")


def normalise(data: dict[str, Any], registry: Registry, origins: Origins | None = None) -> Plan:
    """Check every name against the registry and return the normalised, hashed plan."""
    origins = origins or {}

    def at(section: str, i: int) -> str:
        loc = origins.get((section, i))
        return f"{loc}: {section}[{i}]" if loc else f"{section}[{i}]"

    from benchbed.detection.config import normalise_detection

    name = data["name"]
    datasets = []
    ds_specs: list[tuple[str, Any]] = []
    modalities: set[str] = set()
    for i, entry in enumerate(data["datasets"]):
        ref = plugin_ref(entry)
        where = at("datasets", i)
        ds = checked_ref(registry, "dataset", ref, where)
        spec = registry.get("dataset", ds["name"])
        split = entry.get("split", "test") if isinstance(entry, dict) else "test"
        if split is not None and spec.splits and split not in spec.splits:
            raise SuiteError(
                f"{where}: dataset {ds['name']!r} has no split {split!r}",
                fix=f"use one of {list(spec.splits)} or `split: null` for all pairs",
            )
        ds["split"] = split
        ds["limit"] = entry.get("limit") if isinstance(entry, dict) else None
        mods = spec.modalities
        if not mods:  # e.g. a generic folder: the built object knows its modalities
            try:
                mods = tuple(spec.build(**ds["params"]).modalities)
            except BenchbedError as exc:
                raise SuiteError(f"{where}: {exc.message}", fix=exc.fix) from exc
        modalities |= set(mods)
        ds_specs.append((where, spec))
        datasets.append(ds)

    degradations = []
    for i, entry in enumerate(data["degradations"]):
        where = at("degradations", i)
        ref = plugin_ref(entry)
        deg = checked_ref(registry, "degradation", ref, where)
        spec = registry.get("degradation", deg["name"])
        levels = spec.severities
        wanted = entry.get("severities") if isinstance(entry, dict) else None
        if spec.given:
            levels = _given_conditions(where, deg["name"], ds_specs, wanted)
        else:
            _needs_clean(where, deg["name"], ds_specs)
        if wanted is None:
            wanted = list(levels)[:1]
        severities = []
        for sev in wanted:
            if isinstance(sev, dict):
                label = json.dumps(sev, sort_keys=True)
                params = dict(sev)
            else:
                label = str(sev)
                if label not in levels:
                    raise SuiteError(
                        f"{where}: degradation {deg['name']!r} has no severity {label!r}",
                        fix=f"use one of {list(levels)} or a parameter mapping",
                    )
                params = dict(levels[label])
            severities.append({"label": label, "params": params})
        apply_to = entry.get("apply_to", "all") if isinstance(entry, dict) else "all"
        if apply_to != "all" and spec.given:
            raise SuiteError(f"{where}: `apply_to` does not apply to {deg['name']!r}: the dataset "
                             "gives both degraded sources", fix="remove `apply_to:`")
        if apply_to != "all":
            bad = sorted(set(apply_to) - modalities)
            if bad:
                raise SuiteError(
                    f"{where}: apply_to names modalities {bad} that no dataset of the suite has",
                    fix=f"use some of {sorted(modalities)} or `all`",
                )
        label = entry.get("label", deg["name"]) if isinstance(entry, dict) else deg["name"]
        degradations.append(
            {
                "name": deg["name"],
                "label": label,
                "version": deg["version"],
                "params": deg["params"],
                "severities": severities,
                "apply_to": apply_to,
            }
        )

    methods = []
    for i, entry in enumerate(data["methods"]):
        where = at("methods", i)
        if isinstance(entry, dict) and "fused" in entry:
            methods.append(_precomputed(entry, where, origins.get(("methods", i)), degradations,
                                        registry))
            continue
        if isinstance(entry, str):
            entry = {"fuse": entry}
        fuse = checked_ref(registry, "fuser", plugin_ref(entry["fuse"]), f"{where}.fuse")
        fspec = registry.get("fuser", fuse["name"])
        restore_entry = entry.get("restore")
        restore: dict[str, Any] | None = None
        if restore_entry is not None:
            if fspec.degradation_aware:
                raise SuiteError(
                    f"{where}: {fuse['name']!r} is degradation-aware and takes degraded inputs",
                    fix="remove `restore:` for this method",
                )
            if isinstance(restore_entry, dict) and "name" not in restore_entry:
                per = {m: plugin_ref(r) for m, r in restore_entry.items()}
                missing = sorted(modalities - set(per))
                if missing:
                    raise SuiteError(
                        f"{where}.restore: no restorer for modalities {missing}",
                        fix="give one restorer per modality, or one restorer for all",
                    )
            else:
                per = {m: plugin_ref(restore_entry) for m in sorted(modalities)}
            restore = {
                m: checked_ref(registry, "restorer", r, f"{where}.restore") for m, r in sorted(per.items())
            }
        method = {"fuse": fuse, "restore": restore}
        method["kind"] = ("cascade" if restore else
                          "degradation-aware" if fspec.degradation_aware else "fuser")
        method["label"] = entry.get("label") or method_label(method, registry)
        if entry.get("degradations"):
            # A method trained for some degradations only (e.g. ReCoFuse in DRFusion's suite).
            known = [d["label"] for d in degradations]
            unknown = [d for d in entry["degradations"] if d not in known]
            if unknown:
                raise SuiteError(f"{where}.degradations: {unknown} are not degradations of this "
                                 "suite", fix=f"use labels among {known}")
            method["degradations"] = list(entry["degradations"])
        methods.append(method)
    labels = [m["label"] for m in methods]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise SuiteError(f"methods listed twice: {dup}", fix="remove duplicates or give a `label:`")
    # A label names a method on the board; it does not make it another computation. Two entries
    # that compute the same thing would share their stored items and collapse into one row.
    seen: dict[str, str] = {}
    for m in methods:
        ident = json.dumps({k: m.get(k) for k in ("fuse", "restore", "fused")}, sort_keys=True,
                           default=str)
        if ident in seen:
            raise SuiteError(f"methods {seen[ident]!r} and {m['label']!r} compute the same thing "
                             "(same fuser, restorer and parameters)",
                             fix="remove one, or change a parameter so that they differ")
        seen[ident] = m["label"]

    metrics = []
    for i, entry in enumerate(data["metrics"]):
        m = checked_ref(registry, "metric", plugin_ref(entry), at("metrics", i))
        mspec = registry.get("metric", m["name"])
        profile = (entry.get("profile") if isinstance(entry, dict) else None) or mspec.profile
        try:
            base = mspec.profile_params(profile)
        except BenchbedError as exc:
            raise SuiteError(f"{at('metrics', i)}: {exc.message}", fix=exc.fix) from exc
        user = entry.get("params", {}) if isinstance(entry, dict) else {}
        m["params"] = {**base, **user}
        m["profile"] = profile if not user else f"{profile}+" + ",".join(
            f"{k}={user[k]}" for k in sorted(user))
        metrics.append(m)

    references = data.get("references", "clean")
    no_clean = [spec.name for _, spec in ds_specs if not spec.has_clean]
    if references == "clean" and no_clean:
        raise SuiteError(f"datasets {no_clean} have no clean sources to score against",
                         fix="set `references: degraded` (metrics against the degraded sources, "
                         "as the papers must for such data) or remove those datasets")
    if no_clean and (data.get("detection") or {}).get("protocol") == "clean-reference":
        raise SuiteError(f"detection: datasets {no_clean} have no clean images for the "
                         "clean-reference protocol", fix="use `protocol: labels` or remove them")
    norm = {
        "name": name,
        "version": str(data.get("version", 1)),
        "seed": int(data.get("seed", 0)),
        "references": references,
        "datasets": datasets,
        "degradations": degradations,
        "methods": methods,
        "metrics": metrics,
        "detection": normalise_detection(data.get("detection"), registry, methods, modalities,
                                (f"{origins[('detection',)]}: detection" if ("detection",) in origins
                                 else "detection")),
    }
    primary = _primary(data.get("primary"), metrics, origins.get(("primary",), "primary"))
    # presentation, not computation (which metrics decide the headline ranks, what the suite is
    # for): kept out of the hash so that editing them never turns a board into a new version
    if primary:
        norm["primary"] = primary
    if data.get("description"):
        norm["description"] = str(data["description"])
    return Plan.from_dict(norm)


def _primary(value: Any, metrics: list[dict[str, Any]], where: str) -> list[str]:
    """The declared ``primary:`` metric names, each one of the suite's metrics."""
    if not value:
        return []
    names = [m["name"] for m in metrics]
    out = []
    for name in value:
        if name not in names:
            raise SuiteError(f"{where}: primary metric {name!r} is not among the suite's metrics "
                             f"{names}", fix="list it under `metrics:` too, or remove it")
        out.append(str(name))
    return out


def _precomputed(entry: dict[str, Any], where: str, origin: str | None,
                 degradations: list[dict[str, Any]], registry: Registry) -> dict[str, Any]:
    """A ``{fused: DIR}`` method: a folder of fused images (one per pair id, any image format)
    made elsewhere, scored under exactly one condition the images can belong to (a clean or a
    dataset-given degradation: a synthetic one's random realisation would not be the one the
    images were fused from). Its identity is the digest of the folder's images."""
    from benchbed.imaging import IMAGE_EXTS, file_digest, image_files

    base = Path(origin.rsplit(":", 1)[0]).parent if origin else Path.cwd()
    folder = Path(entry["fused"]).expanduser()
    folder = (folder if folder.is_absolute() else base / folder).resolve()
    if not folder.is_dir():
        raise SuiteError(f"{where}: fused folder {folder} does not exist",
                         fix="give the folder of one method's fused images (e.g. VIFB's "
                             "fused_images/METHOD), relative to the suite file")
    files = image_files(folder)
    if not files:
        raise SuiteError(f"{where}: fused folder {folder} holds no images",
                         fix=f"put one image per pair id there ({', '.join(IMAGE_EXTS)})")
    wanted = list(entry.get("degradations") or [d["label"] for d in degradations])
    known = [d["label"] for d in degradations]
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SuiteError(f"{where}.degradations: {unknown} are not degradations of this suite",
                         fix=f"use labels among {known}")
    chosen = [d for d in degradations if d["label"] in wanted]
    synthetic = [d["label"] for d in chosen if d["name"] != "clean"
                 and not registry.get("degradation", d["name"]).given]
    if synthetic:
        raise SuiteError(f"{where}: fused images made elsewhere cannot be scored under the "
                         f"synthetic degradation(s) {synthetic} (their random realisation here is "
                         "not the one the images were fused from)",
                         fix="restrict the method with `degradations: [clean]` (or a `given` "
                             "condition of the dataset)")
    conditions = sum(len(d["severities"]) for d in chosen)
    if conditions != 1:
        raise SuiteError(f"{where}: a fused folder holds one image per pair, so it belongs to one "
                         f"condition; here it would run under {conditions}",
                         fix="restrict it with `degradations: [LABEL]` to one degradation of one "
                             "severity (one method entry per condition)")
    digest = content_hash(*(f"{p.name}:{file_digest(p)}" for p in files))
    return {"fuse": None, "restore": None, "kind": "precomputed",
            "fused": {"folder": str(folder), "digest": digest},
            "label": entry.get("label") or folder.name, "degradations": wanted}


STANDARD_SUITES = Path(__file__).resolve().parent / "standard_suites"
"""The suites shipped with benchbed (package data; ``suites/`` in a checkout links here)."""


def standard_suites() -> dict[str, Path]:
    """Name -> file of every shipped suite, sorted by name."""
    return {p.stem: p for p in sorted(STANDARD_SUITES.glob("*.yaml"))}


def resolve_suite(ref: str | Path) -> Path:
    """A suite file: ``ref`` itself when it exists, else the shipped suite of that name."""
    path = Path(ref)
    if path.is_file():
        return path
    shipped = standard_suites()
    name = path.name.removesuffix(".yaml").removesuffix(".yml")
    if name in shipped and (path.parent == Path(".") or path.parent.name == "suites"):
        return shipped[name]
    from benchbed.errors import did_you_mean

    raise SuiteError(f"suite file not found: {path}",
                     fix=did_you_mean(name, shipped) or "check the path, or name a shipped suite: "
                     + ", ".join(shipped) + " (`benchbed list suite`)")


def load_plan(path: str | Path, registry: Registry) -> Plan:
    """Read, validate and normalise the suite at ``path`` (or the shipped suite of that name)."""
    data, origins = _load(resolve_suite(path))
    return normalise(data, registry, origins=origins)
