#!/usr/bin/env bash
# The hosts' own tools check the install, offline, in a throwaway HOME:
#
#   Claude Code (npm @anthropic-ai/claude-code):
#     claude plugin validate . --strict --profile directory   (manifests, skill, README/LICENSE/icon; warnings fail)
#     claude plugin tag --dry-run                              (plugin.json and the marketplace entry agree)
#     claude plugin marketplace add CHECKOUT + plugin install  (the documented install, from a local checkout)
#     manifests/clients/claude-code.sh                         (the documented `claude mcp add`, run as written)
#   OpenClaw (npm openclaw, on Node >= 24 from npm package node-<platform>):
#     openclaw config validate                  (manifests/clients/openclaw.json as ~/.openclaw/openclaw.json)
#     openclaw mcp set / show                   (the line from manifests/clients/openclaw.sh, run as written)
#     openclaw skills install CHECKOUT, skills info upstage-ocr --json, skills check
#       eligible with upstage-ocr on PATH, eligible with uvx on PATH, and not eligible with neither, the report
#       naming the missing binaries and the uv installer SKILL.md declares.
#
# CHECKOUT is a copy of the repository's files as a clone has them (tracked plus untracked-but-not-ignored).
# The hosts run with a scrubbed environment (HOME, PATH, TMPDIR only) and, where `unshare` can make one, in a
# network namespace with no network at all; npm installs go to a cache reused between runs:
#   ${UPSTAGE_OCR_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/upstage-ocr-ci}/<tool>-<version>
# Env: CLAUDE_CODE_VERSION, OPENCLAW_VERSION, NODE24_VERSION (pins below), UPSTAGE_OCR_CI_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."

CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.332}"
OPENCLAW_VERSION="${OPENCLAW_VERSION:-2026.9.6}"
NODE24_VERSION="${NODE24_VERSION:-24.21.0}"
CACHE="${UPSTAGE_OCR_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/upstage-ocr-ci}"
PY="$PWD/.venv/bin/python"
CHECK="$PY $PWD/.ci/host_reports.py"
REPO="$PWD"

fail() { echo "validate-hosts: FAIL: $*" >&2; exit 1; }
[ -x "$PY" ] && [ -x .venv/bin/upstage-ocr ] || fail ".venv with upstage-ocr installed is required (see .ci/run)"
command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || fail "node and npm are required"
command -v git >/dev/null 2>&1 || fail "git is required (claude plugin tag reads the checkout's git state)"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# npm_cached NAME SPEC...: install SPEC... into $CACHE/NAME once; NAME carries the versions, .complete marks a
# finished install. Installs go to a scratch folder renamed into place, so an interrupted run leaves no half
# install behind, and older versions of the same tool are removed.
npm_cached() {
  local name=$1 dir="$CACHE/$1" tmp
  shift
  if [ -e "$dir/.complete" ]; then echo "$dir"; return; fi
  echo "validate-hosts: npm install $* (cache: $dir)" >&2
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.partial.XXXXXX")
  if ! npm install --prefix "$tmp" --no-audit --no-fund --ignore-scripts --loglevel=error "$@" >&2; then
    rm -rf "$tmp"; fail "npm install $* failed (is the npm registry reachable?)"
  fi
  if [ -e "$tmp/node_modules/@anthropic-ai/claude-code/install.cjs" ]; then
    # Its postinstall (skipped by --ignore-scripts) puts the platform's native binary in place of a stub.
    node "$tmp/node_modules/@anthropic-ai/claude-code/install.cjs" >&2 || { rm -rf "$tmp"; fail "claude install.cjs"; }
  fi
  touch "$tmp/.complete"
  find "$CACHE" -mindepth 1 -maxdepth 1 -name "${name%%-[0-9]*}-[0-9]*" ! -name "$name" -exec rm -rf {} +
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"  # another run may have finished the same install first
  echo "$dir"
}

# host PATH CMD...: run a host tool with only HOME, PATH and TMPDIR set, offline when unshare allows.
NONET=()
if unshare -rn true 2>/dev/null; then NONET=(unshare -rn); else echo "validate-hosts: note: no network namespace (unshare); hosts run with the network"; fi
host() {
  local path=$1
  shift
  "${NONET[@]}" env -i HOME="$WORK/home" PATH="$path" TMPDIR="$WORK/tmp" LANG=C.UTF-8 \
    DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 "$@"
}
mkdir -p "$WORK/home" "$WORK/tmp" "$WORK/bin" "$WORK/node24" "$WORK/uvx-only"

echo "-- the checkout as a clone has it"
CHECKOUT="$WORK/checkout/upstage-ocr"
mkdir -p "$CHECKOUT"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"  # a file deleted but not yet committed is skipped
done | tar --null -T - -cf - | tar -xf - -C "$CHECKOUT"
git -C "$CHECKOUT" init -q && git -C "$CHECKOUT" add -A
git -C "$CHECKOUT" -c user.name=ci -c user.email=ci@localhost commit -qm checkout
echo "$(find "$CHECKOUT" -path "$CHECKOUT/.git" -prune -o -type f -print | wc -l) files in $CHECKOUT"

echo "-- Claude Code $CLAUDE_CODE_VERSION (at ${SECONDS}s)"
CC=$(npm_cached "claude-code-$CLAUDE_CODE_VERSION" "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION")
ln -s "$CC/node_modules/.bin/claude" "$WORK/bin/claude"
ln -s "$(command -v git)" "$WORK/bin/git" && ln -s "$(command -v sh)" "$WORK/bin/sh"
CPATH="$WORK/bin"
host "$CPATH" claude --version
echo "\$ claude plugin validate . --strict --profile directory"
host "$CPATH" claude plugin validate "$REPO" --strict --profile directory || fail "claude plugin validate"
echo "\$ claude plugin tag --dry-run --force CHECKOUT"
host "$CPATH" claude plugin tag --dry-run --force "$CHECKOUT" || fail "claude plugin tag"
echo "\$ claude plugin marketplace add CHECKOUT && claude plugin install upstage-ocr@upstage-ocr --scope user"
(cd "$WORK" && host "$CPATH" claude plugin marketplace add "$CHECKOUT") || fail "claude plugin marketplace add"
(cd "$WORK" && host "$CPATH" claude plugin install upstage-ocr@upstage-ocr --scope user) || fail "claude plugin install"
(cd "$WORK" && host "$CPATH" claude plugin list --json) >"$WORK/plugins.json" || fail "claude plugin list"
$CHECK claude-plugin "$WORK/plugins.json"
echo "\$ sh manifests/clients/claude-code.sh"
(cd "$WORK" && host "$CPATH" UPSTAGE_API_KEY=ci-placeholder-key sh "$REPO/manifests/clients/claude-code.sh") \
  >/dev/null || fail "manifests/clients/claude-code.sh"
$CHECK claude-mcp "$WORK/home/.claude.json" ci-placeholder-key

echo "-- OpenClaw $OPENCLAW_VERSION (at ${SECONDS}s)"
# OpenClaw wants Node 24.16+ (not 25); a pinned Node 24 comes from npm (package node-<platform>) beside it.
platform=$(node -p 'process.platform + "-" + process.arch')
OC=$(npm_cached "openclaw-$OPENCLAW_VERSION-node-$NODE24_VERSION" "openclaw@$OPENCLAW_VERSION" "node-$platform@$NODE24_VERSION")
ln -s "$OC/node_modules/node-$platform/bin/node" "$WORK/node24/node"
printf '#!/bin/sh\nexit 1\n' >"$WORK/uvx-only/uvx" && chmod +x "$WORK/uvx-only/uvx"  # present, never run
# The compile cache lives beside the install, so later runs start faster.
openclaw() { (cd "$WORK" && host "$OPATH" NODE_COMPILE_CACHE="$OC/compile-cache" node "$OC/node_modules/openclaw/openclaw.mjs" "$@"); }
OPATH="$WORK/node24"
mkdir -p "$WORK/home/.openclaw"
cp manifests/clients/openclaw.json "$WORK/home/.openclaw/openclaw.json"
line=$(grep -E '^openclaw mcp set ' manifests/clients/openclaw.sh) || fail "no 'openclaw mcp set' line in openclaw.sh"
echo "\$ $line   (onto manifests/clients/openclaw.json as ~/.openclaw/openclaw.json)"
eval "$line" || fail "openclaw mcp set"
$CHECK openclaw-mcp "$WORK/home/.openclaw/openclaw.json"
echo "\$ openclaw config validate"
openclaw config validate || fail "manifests/clients/openclaw.json plus 'openclaw mcp set' is not a valid openclaw.json"
echo "\$ openclaw skills install CHECKOUT"
openclaw skills install "$CHECKOUT" || fail "openclaw skills install"

skill_report() {  # skill_report CASE PATH EXPECT: skills info --json under PATH, checked against EXPECT
  OPATH="$WORK/node24${2:+:$2}"
  echo "\$ openclaw skills info upstage-ocr --json   ($1)"
  openclaw skills info upstage-ocr --json >"$WORK/info.json" 2>"$WORK/info.err" \
    || { cat "$WORK/info.err"; fail "openclaw skills info ($1)"; }
  $CHECK openclaw-skill "$WORK/info.json" "$3"
}
skill_report "upstage-ocr on PATH" "$REPO/.venv/bin" eligible
skill_report "only uvx on PATH" "$WORK/uvx-only" eligible
skill_report "neither uvx, uv nor upstage-ocr on PATH" "" missing
echo "\$ openclaw skills check   (neither on PATH)"
openclaw skills check >"$WORK/check.txt" 2>&1 || { cat "$WORK/check.txt"; fail "openclaw skills check"; }
$CHECK openclaw-check "$WORK/check.txt"
echo "validate-hosts: OK (${SECONDS}s)"
