#!/usr/bin/env sh
# OpenClaw: install the skill, then register the MCP server (restart the gateway to load it).
openclaw skills install git:upstage-ocr/upstage-ocr
openclaw mcp set upstage-ocr '{"command":"uvx","args":["--from","upstage-ocr","upstage-ocr-mcp"]}'
openclaw gateway restart
# In chat (owner only, needs commands.mcp: true):
#   /mcp set upstage-ocr={"command":"uvx","args":["--from","upstage-ocr","upstage-ocr-mcp"]}
