"""The plugins' `--about` as the one source of their settings: docs tables and Meltano Hub files.

    python scripts/plugin_about.py           # (re)write meltano/extractors/..., meltano/loaders/...
    python scripts/plugin_about.py --check   # exit 1 if a committed definition differs

The docs site's settings page is rendered from the same `--about` output at build time
(`scripts/mkdocs_hooks.py`), so no settings table is ever copied by hand.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

PLUGINS: dict[str, dict[str, Any]] = {
    "tap-equipme": {
        "type": "extractors",
        "namespace": "tap_equipme",
        "label": "Equipme",
        "description": "Customers and customer metadata from the Equipme Supplier API",
        "keywords": ["api", "meltano_sdk", "equipme", "crm"],
    },
    "target-duckdb-lake": {
        "type": "loaders",
        "namespace": "target_duckdb_lake",
        "label": "DuckDB / Parquet / DuckLake",
        "description": "Upserts, soft deletes and SCD2 history into DuckDB, Parquet or DuckLake",
        "keywords": ["database", "meltano_sdk", "duckdb", "ducklake", "parquet"],
    },
}
VARIANT = "tap-equipme"
PIP_URL = "tap-equipme=={version}"

# Words that a plain `.title()` gets wrong in labels.
_LABEL_WORDS = {"api": "API", "url": "URL", "s3": "S3", "ssl": "SSL", "id": "ID"}


def about(plugin: str) -> dict[str, Any]:
    """Run `<plugin> --about --format=json` from this interpreter's venv.

    Args:
        plugin: The executable's name.

    Returns:
        The parsed `--about` document.
    """
    proc = subprocess.run(
        [str(BIN / plugin), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(proc.stdout)


def _json_types(spec: dict[str, Any]) -> list[str]:
    if "type" in spec:
        types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    else:  # singer-sdk writes some settings as anyOf (e.g. nullable objects)
        types = [t for s in spec.get("anyOf", []) for t in _json_types(s)]
    return [t for t in types if t != "null"] or ["string"]


def _enum(spec: dict[str, Any]) -> list[Any]:
    values = spec.get("enum") or [v for s in spec.get("anyOf", []) for v in s.get("enum", [])]
    return [v for v in values if v is not None]


def meltano_kind(spec: dict[str, Any]) -> str:
    """Map a JSON-schema setting to Meltano's setting `kind`.

    Args:
        spec: The setting's JSON schema from `--about`.

    Returns:
        The Meltano kind.
    """
    if spec.get("secret"):
        return "password"
    if _enum(spec):
        return "options"
    kind = _json_types(spec)[0]
    if kind == "string" and spec.get("format") in {"date-time", "date"}:
        return "date_iso8601"
    return {"number": "decimal"}.get(kind, kind)


def label(name: str) -> str:
    """Human label of a setting name (`api_url` -> `API URL`).

    Args:
        name: The setting name.

    Returns:
        The label.
    """
    return " ".join(_LABEL_WORDS.get(w, w.capitalize()) for w in name.split("_"))


def describe(spec: dict[str, Any]) -> str:
    """One-paragraph description, with the plugin's default when it has one.

    Args:
        spec: The setting's JSON schema.

    Returns:
        The description.
    """
    text = " ".join(str(spec.get("description") or "").split())
    if "default" in spec and spec["default"] is not None:
        text = f"{text} Default: `{json.dumps(spec['default'])}`.".strip()
    return text


def hub_definition(plugin: str, document: dict[str, Any]) -> dict[str, Any]:
    """Build a Meltano Hub plugin definition (the `_data/meltano/<type>/<name>/<variant>.yml`
    format, which `meltano add --from-ref FILE` reads) from a plugin's `--about`.

    Args:
        plugin: The plugin name.
        document: Its `--about` output.

    Returns:
        The definition.
    """
    meta = PLUGINS[plugin]
    schema = document["settings"]
    settings = []
    for name, spec in schema["properties"].items():
        setting: dict[str, Any] = {
            "name": name,
            "label": label(name),
            "kind": meltano_kind(spec),
            "description": describe(spec),
        }
        if setting["kind"] == "options":
            setting["options"] = [{"label": str(v), "value": v} for v in _enum(spec)]
        if spec.get("secret"):
            setting["sensitive"] = True
        settings.append(setting)
    definition: dict[str, Any] = {
        "name": plugin,
        "variant": VARIANT,
        "namespace": meta["namespace"],
        "label": meta["label"],
        "description": meta["description"],
        "keywords": meta["keywords"],
        "maintenance_status": "active",
        "pip_url": PIP_URL.format(version=document["version"]),
        "executable": plugin,
        "capabilities": sorted(document["capabilities"]),
        "settings": settings,
    }
    if schema.get("required"):
        definition["settings_group_validation"] = [sorted(schema["required"])]
    return definition


def hub_path(plugin: str) -> Path:
    """Where the plugin's committed definition lives.

    Args:
        plugin: The plugin name.

    Returns:
        `meltano/<extractors|loaders>/<plugin>.yml` in the repository.
    """
    return PROJECT_ROOT / "meltano" / PLUGINS[plugin]["type"] / f"{plugin}.yml"


def hub_yaml(definition: dict[str, Any]) -> str:
    """Serialise a definition as the Hub writes them (block YAML, keys in our order).

    Args:
        definition: The plugin definition.

    Returns:
        The YAML text, with a header saying it is generated.
    """
    header = (
        "# Generated by scripts/plugin_about.py from the plugin's --about; do not edit.\n"
        "# Meltano Hub format: meltano add <type> <name> --from-ref <this file>\n"
    )
    body = yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def settings_markdown(plugin: str, document: dict[str, Any]) -> str:
    """The settings table of one plugin for the docs site.

    Args:
        plugin: The plugin name.
        document: Its `--about` output.

    Returns:
        Markdown: a table of setting, type, default and description.
    """
    schema = document["settings"]
    required = set(schema.get("required", []))
    lines = [
        "| setting | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, spec in schema["properties"].items():
        kind = " \\| ".join(f"`{v}`" for v in _enum(spec)) or " or ".join(_json_types(spec))
        marks = (("required", name in required), ("secret", spec.get("secret")))
        flags = [flag for flag, on in marks if on]
        if flags:
            kind += ", **" + ", ".join(flags) + "**"
        default = spec.get("default")
        shown = f"`{json.dumps(default)}`" if default is not None else ""
        text = " ".join(str(spec.get("description") or "").split()).replace("|", "\\|")
        anchor = f'<span id="{plugin}-{name}"></span>'
        lines.append(f"| {anchor}`{name}` | {kind} | {shown} | {text} |")
    lines += [
        "",
        f"Capabilities: {', '.join(f'`{c}`' for c in sorted(document['capabilities']))}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    stale = []
    for plugin in PLUGINS:
        text = hub_yaml(hub_definition(plugin, about(plugin)))
        path = hub_path(plugin)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(PROJECT_ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    if stale:
        print(f"out of date (run scripts/plugin_about.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
