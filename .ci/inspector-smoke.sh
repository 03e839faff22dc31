#!/usr/bin/env bash
# End-to-end smoke test through a client we did not write: the MCP Inspector CLI drives .venv/bin/upstage-ocr-mcp
# over stdio: tools/list must list every tool, and ocr_document on a generated one-page PNG with the offline
# engine must complete and read the text back. Fails on any error; skips (exit 0) only when the server cannot
# be imported yet, printing why.
#
# Env: INSPECTOR_VERSION (default 2.12.0), UPSTAGE_OCR_CI_NPM (npm prefix, default a folder in $TMPDIR).
set -euo pipefail
cd "$(dirname "$0")/.."

INSPECTOR_VERSION="${INSPECTOR_VERSION:-2.12.0}"
NPM_PREFIX="${UPSTAGE_OCR_CI_NPM:-${TMPDIR:-/tmp}/upstage-ocr-ci-npm}"
SERVER=.venv/bin/upstage-ocr-mcp
PY=.venv/bin/python
EXPECTED_TOOLS="export_ocr fetch_ocr_pages fetch_parse_pages get_ocr_status list_ocr_jobs ocr_document parse_document render_ocr_page search_ocr_text"

if [ ! -x "$SERVER" ] || [ ! -x "$PY" ]; then
  echo "inspector-smoke: FAIL: $SERVER not found (create .venv with: python3 -m venv .venv && .venv/bin/pip install -e '.[dev]')"
  exit 1
fi
if ! why=$("$PY" -c "from upstage_ocr.mcp_server import build_server, main" 2>&1); then
  echo "inspector-smoke: FAIL: the MCP server cannot be imported yet:"
  echo "$why" | tail -3 | sed 's/^/    /'
  exit 1
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "inspector-smoke: FAIL: node and npm are required (Node >= 22.19 recommended; --cli works on Node 20)"
  exit 1
fi

# The Inspector declares engines.node >= 22.19.0; its --cli mode works on Node 20 (npm prints EBADENGINE).
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 22 ]; then
  echo "inspector-smoke: note: Node $(node --version); @modelcontextprotocol/inspector wants >= 22.19 (--cli works on 20)"
fi

INSPECTOR="$NPM_PREFIX/node_modules/.bin/mcp-inspector"
if [ ! -x "$INSPECTOR" ] || ! grep -q "\"version\": \"$INSPECTOR_VERSION\"" "$NPM_PREFIX/node_modules/@modelcontextprotocol/inspector/package.json" 2>/dev/null; then
  echo "inspector-smoke: installing @modelcontextprotocol/inspector@$INSPECTOR_VERSION into $NPM_PREFIX"
  mkdir -p "$NPM_PREFIX"
  npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --ignore-scripts --loglevel=error \
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >/dev/null
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
HOME_DIR="$WORK/home"
mkdir -p "$HOME_DIR"

# The offline engine whatever the environment holds, a fresh job store (no earlier job is reused), and the
# default result path (<temp>/<stem>.ocr.json) inside the scratch folder.
run_inspector() {
  timeout 600 "$INSPECTOR" --cli "$SERVER" -e UPSTAGE_OCR_ENGINE=local -e "UPSTAGE_OCR_HOME=$HOME_DIR" \
    -e "TMPDIR=$WORK" "$@"
}

echo "inspector-smoke: tools/list"
rc=0
run_inspector --method tools/list >"$WORK/tools.json" 2>"$WORK/tools.err" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "inspector-smoke: FAIL: tools/list (exit $rc)"; tail -20 "$WORK/tools.err"; exit 1
fi
listed=$("$PY" -c 'import json,sys; print(" ".join(sorted(t["name"] for t in json.load(open(sys.argv[1]))["tools"])))' "$WORK/tools.json")
echo "    tools: $listed"
if [ "$listed" != "$EXPECTED_TOOLS" ]; then
  echo "inspector-smoke: FAIL: expected tools: $EXPECTED_TOOLS"; exit 1
fi

echo "inspector-smoke: tools/call ocr_document (engine local) on a generated PNG"
"$PY" - "$WORK/smoke.png" <<'EOF'
import sys

from PIL import Image, ImageDraw, ImageFont

img = Image.new("RGB", (900, 220), "white")
draw = ImageDraw.Draw(img)
try:
    font = ImageFont.truetype("DejaVuSans.ttf", 64)
except OSError:
    font = ImageFont.load_default(size=64)
draw.text((40, 60), "HELLO WORLD 2024", fill="black", font=font)
img.save(sys.argv[1])
EOF
rc=0
run_inspector --method tools/call --tool-name ocr_document \
  --tool-arg "path=$WORK/smoke.png" engine=local wait=true >"$WORK/call.json" 2>"$WORK/call.err" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "inspector-smoke: FAIL: tools/call ocr_document (exit $rc; 5 = the tool returned isError)"
  tail -20 "$WORK/call.err"; head -40 "$WORK/call.json" 2>/dev/null; exit 1
fi
"$PY" - "$WORK/call.json" <<'EOF'
import json
import os
import sys

out = json.load(open(sys.argv[1]))
res = out.get("structuredContent") or {}
print(f"    status={res.get('status')} engine={res.get('engine')} pages={res.get('page_count')} "
      f"confidence={res.get('mean_confidence')} result_path={res.get('result_path')}")
print(f"    text={res.get('text')!r}")
problems = []
if out.get("isError"):
    problems.append("isError is true")
if res.get("status") != "completed":
    problems.append(f"status is {res.get('status')!r}, error: {res.get('error')}")
if res.get("engine") != "local":
    problems.append(f"engine is {res.get('engine')!r}, not 'local'")
path = res.get("result_path") or ""
if not (os.path.isabs(path) and os.path.isfile(path)):
    problems.append(f"result_path {path!r} is not an existing absolute path")
if "HELLO" not in (res.get("text") or "").upper():
    problems.append("the text does not contain HELLO")
if problems:
    print("inspector-smoke: FAIL: " + "; ".join(problems))
    sys.exit(1)
EOF
echo "inspector-smoke: OK"
