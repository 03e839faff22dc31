"""Check what Claude Code and OpenClaw report after installing upstage-ocr (called by .ci/validate-hosts.sh).

    host_reports.py claude-plugin PLUGINS.json        `claude plugin list --json` after the marketplace install
    host_reports.py claude-mcp CLAUDE.json KEY        ~/.claude.json after manifests/clients/claude-code.sh
    host_reports.py openclaw-mcp OPENCLAW.json        ~/.openclaw/openclaw.json after `openclaw mcp set`
    host_reports.py openclaw-skill INFO.json eligible|missing   `openclaw skills info upstage-ocr --json`
    host_reports.py openclaw-check CHECK.txt          `openclaw skills check` with no runner on PATH

Expectations come from the repository itself (plugin.json, SKILL.md's metadata.openclaw), not from copies here.
Prints one line per finding; exits 1 on the first report that does not hold.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
NAME = "upstage-ocr"
SERVER = {"command": "uvx", "args": ["--from", "upstage-ocr", "upstage-ocr-mcp"]}


def openclaw_meta() -> dict[str, Any]:
    """SKILL.md's metadata.openclaw block; it must let uvx or upstage-ocr satisfy the skill and offer uv."""
    text = (ROOT / "SKILL.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---\n", 2)[1])
    meta = (front.get("metadata") or {}).get("openclaw") or {}
    any_bins = (meta.get("requires") or {}).get("anyBins") or []
    expect(
        {"uvx", "upstage-ocr"} <= set(any_bins), f"SKILL.md metadata.openclaw.requires.anyBins is {any_bins}"
    )
    expect(any(i.get("kind") == "uv" for i in meta.get("install", [])), "SKILL.md offers no uv installer")
    result: dict[str, Any] = meta
    return result


def expect(ok: bool, message: str) -> None:
    if not ok:
        print(f"host report: FAIL: {message}")
        sys.exit(1)


def claude_plugin(path: str) -> None:
    version = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text(encoding="utf-8"))["version"]
    plugins = {p["id"]: p for p in json.loads(Path(path).read_text(encoding="utf-8"))}
    plugin = plugins.get(f"{NAME}@{NAME}")
    expect(plugin is not None, f"{NAME}@{NAME} is not among the installed plugins: {sorted(plugins)}")
    assert plugin is not None
    expect(plugin.get("enabled") is True, "the plugin is installed but not enabled")
    expect(
        plugin.get("version") == version, f"installed version {plugin.get('version')}, plugin.json {version}"
    )
    server = plugin.get("mcpServers", {}).get(NAME, {})
    expect(
        {k: server.get(k) for k in SERVER} == SERVER,
        f"the plugin's MCP server is {server}, expected {SERVER}",
    )
    installed = Path(plugin["installPath"])
    for rel in ("SKILL.md", ".claude-plugin/icon.png", "references"):
        expect((installed / rel).exists(), f"{rel} missing from the installed plugin at {installed}")
    icon = (installed / ".claude-plugin/icon.png").read_bytes()
    expect(icon == (ROOT / ".claude-plugin/icon.png").read_bytes(), "the installed icon differs from ours")
    print(
        f"claude: {NAME}@{NAME} {version} installed and enabled; server {server['command']} {server['args']}"
    )


def claude_mcp(path: str, key: str) -> None:
    servers = json.loads(Path(path).read_text(encoding="utf-8")).get("mcpServers", {})
    server = servers.get(NAME)
    expected = {"type": "stdio", **SERVER, "env": {"UPSTAGE_API_KEY": key}}
    expect(server == expected, f"claude-code.sh registered {server}, expected {expected}")
    print(f"claude: mcp add registered {NAME} (stdio, uvx, UPSTAGE_API_KEY passed) in user scope")


def openclaw_mcp(path: str) -> None:
    config = json.loads(Path(path).read_text(encoding="utf-8"))
    server = config.get("mcp", {}).get("servers", {}).get(NAME)
    expect(server == SERVER, f"openclaw.json has mcp.servers.{NAME} = {server}, expected {SERVER}")
    entry = config.get("skills", {}).get("entries", {}).get(NAME, {})
    expect(entry.get("apiKey", {}).get("id") == "UPSTAGE_API_KEY", f"skills.entries.{NAME} lost its apiKey")
    print(f"openclaw: mcp server {NAME} = {server}")


def openclaw_skill(path: str, want: str) -> None:
    info = json.loads(Path(path).read_text(encoding="utf-8"))
    meta = openclaw_meta()
    any_bins = meta["requires"]["anyBins"]
    expect(info.get("name") == NAME, f"skills info names {info.get('name')!r}")
    expect(info["requirements"]["anyBins"] == any_bins, f"requirements {info['requirements']} != {any_bins}")
    expect(info.get("primaryEnv") == meta["primaryEnv"], f"primaryEnv {info.get('primaryEnv')!r}")
    missing = info["missing"]
    if want == "eligible":
        expect(info.get("eligible") is True, f"not eligible; missing: {missing}")
        expect(not any(missing.values()), f"eligible but reports missing {missing}")
    else:
        expect(info.get("eligible") is False, "eligible with neither uvx, uv nor upstage-ocr on PATH")
        expect(missing["anyBins"] == any_bins, f"missing.anyBins {missing['anyBins']} != {any_bins}")
        declared = [(i["kind"], i["bins"]) for i in meta["install"]]
        offered = [(i.get("kind"), i.get("bins")) for i in info.get("install", [])]
        expect(offered == declared, f"install offered {offered}, SKILL.md declares {declared}")
    print(f"openclaw: eligible={info['eligible']} missing={missing['anyBins']} install={info.get('install')}")


def openclaw_check(path: str) -> None:
    text = Path(path).read_text(encoding="utf-8")
    expect("Missing requirements:" in text, "skills check printed no 'Missing requirements' section")
    section = text.split("Missing requirements:", 1)[1]
    match = re.search(rf"^\s*\S*\s*{re.escape(NAME)} \(anyBins: ([^)]*)\)", section, re.MULTILINE)
    expect(match is not None, f"skills check does not list {NAME} with its missing binaries")
    assert match is not None
    named = [b.strip() for b in match.group(1).split(",")]
    expect(named == openclaw_meta()["requires"]["anyBins"], f"skills check names {named}")
    print(f"openclaw: skills check: {match.group(0).strip()}")


def main(argv: list[str]) -> int:
    commands: dict[str, Callable[..., None]] = {
        "claude-plugin": claude_plugin,
        "claude-mcp": claude_mcp,
        "openclaw-mcp": openclaw_mcp,
        "openclaw-skill": openclaw_skill,
        "openclaw-check": openclaw_check,
    }
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    commands[argv[0]](*argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
