#!/usr/bin/env bash
# Validate the Agent Skill, the MCP registry server.json, the MCPB manifest, the Claude Code plugin files and
# every client snippet with their own validators. Fails on the first validator error.
#
#   agentskills validate   (skills-ref, from the dev extras in .venv)
#   mcpb validate          (npm @anthropic-ai/mcpb, installed into a scratch npm prefix)
#   JSON Schema            (the published schemas vendored in manifests/schemas/, see SOURCES.md there)
#   JSON syntax            (every *.json snippet), and the root plugin copies equal to manifests/
#
# Called by .ci/run with cwd = repo root after .venv exists. Env: MCPB_VERSION (default 2.1.2),
# UPSTAGE_OCR_CI_NPM (npm prefix, default a folder in $TMPDIR, reused between runs).
set -euo pipefail
cd "$(dirname "$0")/.."

MCPB_VERSION="${MCPB_VERSION:-2.1.2}"
NPM_PREFIX="${UPSTAGE_OCR_CI_NPM:-${TMPDIR:-/tmp}/upstage-ocr-ci-npm}"
PY=.venv/bin/python
AGENTSKILLS=.venv/bin/agentskills
[ -x "$PY" ] || { echo "validate-manifests: FAIL: $PY missing (create .venv with the dev extras first)"; exit 1; }
if [ ! -x "$AGENTSKILLS" ]; then
  echo "validate-manifests: FAIL: $AGENTSKILLS missing: skills-ref belongs in the dev extras"; exit 1
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "-- agentskills validate (SKILL.md)"
# The Agent Skills spec requires the skill's folder to be named like the skill (name: upstage-ocr). A clone may
# live in a folder with any name (CI clones into a scratch folder), so validate the skill as it is installed:
# a folder named upstage-ocr holding SKILL.md and references/. Everything else is checked as in place.
mkdir "$WORK/upstage-ocr"
cp SKILL.md "$WORK/upstage-ocr/"
cp -R references "$WORK/upstage-ocr/references"
"$AGENTSKILLS" validate "$WORK/upstage-ocr"
if [ "$(basename "$PWD")" = "upstage-ocr" ]; then
  "$AGENTSKILLS" validate "$PWD"
fi
lines=$(wc -l <SKILL.md)
if [ "$lines" -ge 500 ]; then
  echo "validate-manifests: FAIL: SKILL.md has $lines lines; keep it under 500 (details go to references/)"; exit 1
fi
echo "SKILL.md: $lines lines"

echo "-- mcpb validate (manifests/mcpb/manifest.json)"
if ! command -v npm >/dev/null 2>&1; then
  echo "validate-manifests: FAIL: npm is required for mcpb validate"; exit 1
fi
MCPB="$NPM_PREFIX/node_modules/.bin/mcpb"
if [ ! -x "$MCPB" ] || ! grep -q "\"version\": \"$MCPB_VERSION\"" "$NPM_PREFIX/node_modules/@anthropic-ai/mcpb/package.json" 2>/dev/null; then
  echo "installing @anthropic-ai/mcpb@$MCPB_VERSION into $NPM_PREFIX"
  mkdir -p "$NPM_PREFIX"
  npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --ignore-scripts --loglevel=error \
    "@anthropic-ai/mcpb@$MCPB_VERSION" >/dev/null
fi
"$MCPB" validate manifests/mcpb/manifest.json

echo "-- JSON Schema, JSON syntax, plugin copies"
"$PY" - <<'EOF'
import json
import sys
from pathlib import Path

import jsonschema

SCHEMAS = Path("manifests/schemas")
PAIRS = [
    ("manifests/server.json", "server.schema.2025-12-11.json"),
    ("manifests/mcpb/manifest.json", "mcpb-manifest-v0.4.schema.json"),
    ("manifests/claude-plugin/plugin.json", "claude-code-plugin-manifest.json"),
    ("manifests/claude-plugin/marketplace.json", "claude-code-marketplace.json"),
    (".claude-plugin/plugin.json", "claude-code-plugin-manifest.json"),
    (".claude-plugin/marketplace.json", "claude-code-marketplace.json"),
]
COPIES = [
    (".claude-plugin/plugin.json", "manifests/claude-plugin/plugin.json"),
    (".claude-plugin/marketplace.json", "manifests/claude-plugin/marketplace.json"),
    (".mcp.json", "manifests/clients/claude-code.mcp.json"),
    (".claude-plugin/icon.png", "manifests/claude-plugin/icon.png"),
]
failed = False


def fail(message: str) -> None:
    global failed
    failed = True
    print(f"FAIL: {message}")


snippets = sorted({*Path("manifests").rglob("*.json"), Path(".mcp.json"), *Path(".claude-plugin").glob("*.json")})
for path in snippets:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"{path}: not valid JSON: {exc}")
print(f"JSON syntax: {len(snippets)} files checked")

for doc_path, schema_name in PAIRS:
    schema = json.loads((SCHEMAS / schema_name).read_text(encoding="utf-8"))
    doc = json.loads(Path(doc_path).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    errors = sorted(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(doc), key=lambda e: list(e.path))
    for err in errors:
        fail(f"{doc_path}: {'/'.join(map(str, err.path)) or '(root)'}: {err.message[:300]}")
    if not errors:
        print(f"{doc_path}: valid against {schema_name}")

server = json.loads(Path("manifests/server.json").read_text(encoding="utf-8"))
schema_id = json.loads((SCHEMAS / "server.schema.2025-12-11.json").read_text(encoding="utf-8"))["$id"]
if server.get("$schema") != schema_id:
    fail(f"manifests/server.json: $schema {server.get('$schema')!r} is not the vendored schema {schema_id!r}")

for copy, source in COPIES:
    if Path(copy).read_bytes() != Path(source).read_bytes():
        fail(f"{copy} differs from {source}: copy it over (cp {source} {copy})")
    else:
        print(f"{copy} == {source}")
sys.exit(1 if failed else 0)
EOF
echo "validate-manifests: OK"
