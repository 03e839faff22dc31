#!/usr/bin/env sh
# Add the upstage-ocr MCP server to Claude Code (user scope: every project).
# UPSTAGE_API_KEY is optional: without it the server OCRs offline with its embedded engine.
# Project scope instead: --scope project writes .mcp.json (see claude-code.mcp.json beside this file).
claude mcp add --transport stdio --scope user \
  --env UPSTAGE_API_KEY="${UPSTAGE_API_KEY:-}" \
  upstage-ocr -- uvx --from upstage-ocr upstage-ocr-mcp
