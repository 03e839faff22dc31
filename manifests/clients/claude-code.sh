#!/usr/bin/env sh
# Add the upstage-ocr MCP server to Claude Code (user scope: every project).
# UPSTAGE_API_KEY is optional: without it the server OCRs offline with its embedded engine.
# Project scope instead: --scope project writes .mcp.json (see claude-code.mcp.json beside this file).
# The name comes before --env: --env takes any number of values and would swallow a name after it.
claude mcp add --transport stdio --scope user upstage-ocr \
  --env UPSTAGE_API_KEY="${UPSTAGE_API_KEY:-}" \
  -- uvx --from upstage-ocr upstage-ocr-mcp
