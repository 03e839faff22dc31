#!/usr/bin/env bash
# Build the Claude Desktop extension: dist/upstage-ocr-VERSION.mcpb.
# The bundle holds manifest.json with the project's pyproject.toml, README.md and server/ sources; Claude Desktop
# runs it with `uv run --directory <bundle> upstage-ocr-mcp` (manifest server.type "uv"), which installs the
# dependencies from PyPI on first start. Needs node/npm (for @anthropic-ai/mcpb).
set -euo pipefail
cd "$(dirname "$0")/../.."
MCPB_VERSION="${MCPB_VERSION:-2.1.2}"
version=$(python3 -c 'import json; print(json.load(open("manifests/mcpb/manifest.json"))["version"])')
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp manifests/mcpb/manifest.json pyproject.toml README.md "$stage/"
[ -f LICENSE ] && cp LICENSE "$stage/"
mkdir -p "$stage/server"
cp -R server/upstage_ocr "$stage/server/upstage_ocr"
find "$stage" -name __pycache__ -type d -prune -exec rm -rf {} +
mkdir -p dist
npx --yes "@anthropic-ai/mcpb@$MCPB_VERSION" pack "$stage" "dist/upstage-ocr-$version.mcpb"
echo "dist/upstage-ocr-$version.mcpb"
