"""The skill, the manifests and the client snippets: valid against their published schemas, one version
everywhere, only real settings and tools named, plugin copies in step, and the documented tools and parameters
equal to what the live server lists."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from upstage_ocr.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
SCHEMAS = MANIFESTS / "schemas"
SKILL = ROOT / "SKILL.md"
REFERENCES = ROOT / "references"
TOOLS_REFERENCE = REFERENCES / "tools.md"

# The MCP tools every document here may name; test_live_tools_list checks it against the server itself.
TOOL_NAMES = (
    "ocr_document",
    "parse_document",
    "get_ocr_status",
    "fetch_ocr_pages",
    "fetch_parse_pages",
    "list_ocr_jobs",
    "export_ocr",
    "search_ocr_text",
    "render_ocr_page",
)
PAGE_RESOURCE = "ocr://jobs/{job_id}/pages/{page}"
# Words shaped like tool names (an `ocr` part joined by underscores) that are not tools.
NOT_TOOLS = {"upstage_ocr", "ocr_error"}
SERVER_COMMAND = ["uvx", "--from", "upstage-ocr", "upstage-ocr-mcp"]

SCHEMA_OF = {
    "manifests/server.json": "server.schema.2025-12-11.json",
    "manifests/mcpb/manifest.json": "mcpb-manifest-v0.4.schema.json",
    "manifests/claude-plugin/plugin.json": "claude-code-plugin-manifest.json",
    "manifests/claude-plugin/marketplace.json": "claude-code-marketplace.json",
    ".claude-plugin/plugin.json": "claude-code-plugin-manifest.json",
    ".claude-plugin/marketplace.json": "claude-code-marketplace.json",
}
COPIES = {
    ".claude-plugin/plugin.json": "manifests/claude-plugin/plugin.json",
    ".claude-plugin/marketplace.json": "manifests/claude-plugin/marketplace.json",
    ".mcp.json": "manifests/clients/claude-code.mcp.json",
    ".claude-plugin/icon.png": "manifests/claude-plugin/icon.png",
}


def load(rel: str) -> Any:
    return json.loads((ROOT / rel).read_text(encoding="utf-8"))


def schema_errors(doc: Any, schema_name: str) -> list[str]:
    schema = json.loads((SCHEMAS / schema_name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]


def pyproject_version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    match = re.search(r'^version\s*=\s*"([^"]+)"', project, re.MULTILINE)
    assert match, "no version in [project] of pyproject.toml"
    return match.group(1)


def frontmatter() -> dict[str, Any]:
    """The frontmatter as YAML, nested metadata kept (skills_ref flattens metadata values to strings)."""
    import yaml

    text = SKILL.read_text(encoding="utf-8")
    assert text.startswith("---\n"), "SKILL.md must open with YAML frontmatter"
    return yaml.safe_load(text.split("---\n", 2)[1])


def documents() -> dict[str, str]:
    """Every text that names settings or tools to users or agents."""
    paths = [
        SKILL,
        *sorted(REFERENCES.glob("*.md")),
        ROOT / ".mcp.json",
        *sorted((ROOT / ".claude-plugin").glob("*.json")),
    ]
    paths += [
        p
        for p in sorted(MANIFESTS.rglob("*"))
        if p.is_file() and SCHEMAS not in p.parents and p.suffix != ".png"
    ]
    install = ROOT / "docs" / "INSTALL.md"
    if install.exists():
        paths.append(install)
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths}


def documented_parameters() -> dict[str, set[str]]:
    """tool -> the parameters its section of references/tools.md lists in its table."""
    text = TOOLS_REFERENCE.read_text(encoding="utf-8")
    out: dict[str, set[str]] = {}
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title = section.splitlines()[0].strip()
        if title in TOOL_NAMES:
            out[title] = set(re.findall(r"^\| `([a-z0-9_]+)` \|", section, re.MULTILINE))
    return out


# -- schemas ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", sorted(SCHEMA_OF))
def test_manifest_is_valid_against_its_published_schema(rel):
    assert schema_errors(load(rel), SCHEMA_OF[rel]) == []


def test_the_vendored_registry_schema_really_rejects_bad_server_json():
    """Guards against a schema that accepts anything (a wrong file vendored, a broken $ref)."""
    server = load("manifests/server.json")
    assert schema_errors({**server, "description": "x" * 101}, SCHEMA_OF["manifests/server.json"])
    assert schema_errors({**server, "name": "no-slash"}, SCHEMA_OF["manifests/server.json"])
    bad_package = {**server["packages"][0], "version": "latest"}
    assert schema_errors({**server, "packages": [bad_package]}, SCHEMA_OF["manifests/server.json"])
    mcpb = load("manifests/mcpb/manifest.json")
    key = {**mcpb["user_config"]["upstage_api_key"], "secret": True}
    assert schema_errors(
        {**mcpb, "user_config": {"upstage_api_key": key}}, SCHEMA_OF["manifests/mcpb/manifest.json"]
    )


def test_server_json_uses_the_vendored_schema_and_runs_the_pypi_package_with_uvx():
    server = load("manifests/server.json")
    schema = json.loads((SCHEMAS / SCHEMA_OF["manifests/server.json"]).read_text(encoding="utf-8"))
    assert server["$schema"] == schema["$id"]
    assert server["name"] == "io.github.upstage-ocr/upstage-ocr"
    [package] = server["packages"]
    assert package["registryType"] == "pypi"
    assert package["identifier"] == "upstage-ocr"
    assert package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"}
    # `uvx upstage-ocr==V serve` runs the package's `upstage-ocr` command, whose `serve` is the stdio server.
    assert [a.get("value") for a in package["packageArguments"]] == ["serve"]
    scripts = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'upstage-ocr = "upstage_ocr.cli:main"' in scripts
    assert 'upstage-ocr-mcp = "upstage_ocr.mcp_server:main"' in scripts


def test_server_json_env_vars_match_settings():
    by_var = {var: (default, secret) for var, default, _desc, secret in ENV_VARS.values()}
    [package] = load("manifests/server.json")["packages"]
    for env in package["environmentVariables"]:
        assert env["name"] in by_var, env["name"]
        _default, secret = by_var[env["name"]]
        assert env.get("isSecret", False) is secret, env["name"]
        assert env.get("isRequired", False) is False, f"{env['name']}: nothing is required (offline engine)"
        assert env.get("description"), env["name"]
    listed = {env["name"] for env in package["environmentVariables"]}
    # Every setting but the HTTP transport's token (the registry package runs on stdio).
    assert listed == set(by_var) - {"UPSTAGE_OCR_HTTP_TOKEN"}


# -- skill -----------------------------------------------------------------------------------------------


def test_skill_passes_agentskills_validation_as_installed(tmp_path):
    """The spec wants the folder named like the skill; a clone may be named anything, so check an install."""
    from skills_ref import validate

    installed = tmp_path / "upstage-ocr"
    installed.mkdir()
    shutil.copy(SKILL, installed / "SKILL.md")
    shutil.copytree(REFERENCES, installed / "references")
    assert validate(installed) == []
    # The strict parser (strictyaml: no flow lists, no duplicate keys) reads the same fields.
    from skills_ref import read_properties

    props = read_properties(installed)
    assert (props.name, props.license) == ("upstage-ocr", "MIT")


def test_skill_frontmatter_is_portable_and_carries_openclaw_metadata():
    meta = frontmatter()
    assert meta["name"] == "upstage-ocr"
    assert set(meta) <= {"name", "description", "license", "compatibility", "allowed-tools", "metadata"}
    assert not re.search(r"[<>]", meta["description"]), "quick_validate rejects < and > in description"
    assert "Use when" in meta["description"]
    openclaw = meta["metadata"]["openclaw"]
    assert openclaw["primaryEnv"] == "UPSTAGE_API_KEY"
    # The key is optional (offline engine): declaring it in requires.env would hide the skill without one.
    assert "env" not in openclaw["requires"]
    assert set(openclaw["requires"]["anyBins"]) == {"uvx", "uv", "upstage-ocr"}
    [install] = openclaw["install"]
    assert (install["kind"], install["package"]) == ("uv", "upstage-ocr")
    assert set(install["bins"]) == {"upstage-ocr", "upstage-ocr-mcp"}


def test_skill_body_is_short_and_links_only_existing_references():
    text = SKILL.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 500
    links = set(re.findall(r"\]\((references/[^)]+)\)", text))
    assert links, "SKILL.md should point to its references"
    for link in links:
        assert (ROOT / link).is_file(), link
    for ref in REFERENCES.glob("*.md"):
        assert f"references/{ref.name}" in links, f"{ref.name} is never linked from SKILL.md"


def test_skill_teaches_the_cli_through_uvx_with_from():
    text = SKILL.read_text(encoding="utf-8")
    assert "uvx --from upstage-ocr upstage-ocr" in text
    assert not re.search(r"uvx upstage-ocr(-mcp)?\b", text), "uvx needs --from: package and command differ"


# -- one version, real settings, real tools ---------------------------------------------------------------


def test_versions_agree_with_pyproject():
    import upstage_ocr

    version = pyproject_version()
    server = load("manifests/server.json")
    found = {
        "upstage_ocr.__version__": upstage_ocr.__version__,
        "server.json": server["version"],
        "server.json package": server["packages"][0]["version"],
        "mcpb manifest": load("manifests/mcpb/manifest.json")["version"],
        "plugin.json": load("manifests/claude-plugin/plugin.json")["version"],
        "marketplace.json": load("manifests/claude-plugin/marketplace.json")["plugins"][0]["version"],
        "SKILL.md metadata": frontmatter()["metadata"]["version"],
    }
    assert {k: v for k, v in found.items() if v != version} == {}


def test_every_env_var_named_anywhere_is_a_real_setting():
    known = {var for var, _default, _desc, _secret in ENV_VARS.values()}
    for name, text in documents().items():
        named = set(re.findall(r"\bUPSTAGE_[A-Z0-9_]*[A-Z0-9]\b", text))
        assert named <= known, f"{name} names unknown settings: {sorted(named - known)}"


def test_every_setting_is_documented_in_the_cli_reference():
    text = (REFERENCES / "cli.md").read_text(encoding="utf-8")
    for var, _default, _desc, _secret in ENV_VARS.values():
        assert f"`{var}`" in text, var


def test_every_tool_named_anywhere_is_a_real_tool():
    pattern = re.compile(r"\b(?:[a-z]+_)*(?:ocr|parse)(?:_[a-z]+)*\b")
    for name, text in documents().items():
        named = {m for m in pattern.findall(text) if "_" in m} - NOT_TOOLS
        assert named <= set(TOOL_NAMES), f"{name} names unknown tools: {sorted(named - set(TOOL_NAMES))}"


def test_skill_and_manifests_cover_every_tool():
    skill = SKILL.read_text(encoding="utf-8")
    for tool in TOOL_NAMES:
        assert tool in skill, f"SKILL.md never mentions {tool}"
    assert set(documented_parameters()) == set(TOOL_NAMES), "references/tools.md needs a section per tool"
    assert [t["name"] for t in load("manifests/mcpb/manifest.json")["tools"]] == list(TOOL_NAMES)
    assert PAGE_RESOURCE in TOOLS_REFERENCE.read_text(encoding="utf-8")


# -- plugin copies and client snippets ---------------------------------------------------------------------


@pytest.mark.parametrize("copy", sorted(COPIES))
def test_claude_code_reads_the_same_files_as_manifests(copy):
    assert (ROOT / copy).read_bytes() == (ROOT / COPIES[copy]).read_bytes(), f"cp {COPIES[copy]} {copy}"


def test_plugin_exposes_the_root_skill_and_the_marketplace_points_at_it():
    plugin = load(".claude-plugin/plugin.json")
    market = load(".claude-plugin/marketplace.json")
    assert plugin["name"] == frontmatter()["name"] == "upstage-ocr"
    assert plugin["skills"] == ["./"]
    [entry] = market["plugins"]
    assert (entry["name"], entry["source"]) == (plugin["name"], "./")


def _servers(doc: dict[str, Any]) -> dict[str, Any]:
    if "mcpServers" in doc:
        return doc["mcpServers"]
    if "servers" in doc:
        return doc["servers"]
    return doc["mcp"]["servers"]  # OpenClaw


@pytest.mark.parametrize(
    "rel",
    [
        ".mcp.json",
        "manifests/clients/claude-code.mcp.json",
        "manifests/clients/claude-desktop.json",
        "manifests/clients/vscode.mcp.json",
        "manifests/clients/cursor.mcp.json",
        "manifests/clients/openclaw.json",
    ],
)
def test_client_snippet_starts_the_server_with_uvx_from(rel):
    server = _servers(load(rel))["upstage-ocr"]
    assert [server["command"], *server["args"]] == SERVER_COMMAND
    for var in server.get("env", {}):
        assert var == "UPSTAGE_API_KEY", f"{rel}: {var}"


def test_shell_snippets_use_the_same_command():
    as_words = " ".join(SERVER_COMMAND)
    as_json_args = json.dumps(SERVER_COMMAND[1:], separators=(",", ":"))
    assert as_words in (MANIFESTS / "clients" / "claude-code.sh").read_text(encoding="utf-8")
    assert as_json_args in (MANIFESTS / "clients" / "openclaw.sh").read_text(encoding="utf-8")


def test_mcpb_asks_for_the_key_as_an_optional_secret():
    manifest = load("manifests/mcpb/manifest.json")
    key = manifest["user_config"]["upstage_api_key"]
    assert key["sensitive"] is True and key["required"] is False
    env = manifest["server"]["mcp_config"]["env"]
    assert env["UPSTAGE_API_KEY"] == "${user_config.upstage_api_key}"
    assert manifest["server"]["mcp_config"]["args"][-1] == "upstage-ocr-mcp"
    assert (ROOT / manifest["server"]["entry_point"]).is_file()


# -- the live server -----------------------------------------------------------------------------------------


def _build_server() -> Any:
    try:
        from upstage_ocr.mcp_server import build_server
    except ImportError as exc:
        pytest.skip(f"upstage_ocr.mcp_server cannot be imported yet: {exc}")
    from upstage_ocr.settings import Settings

    return build_server(Settings.load())


@pytest.mark.anyio
async def test_live_tools_list_matches_the_documents():
    """What the server really lists = TOOL_NAMES = the MCPB manifest = references/tools.md, parameters too."""
    from mcp import Client

    server = _build_server()
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]

    assert sorted(tools) == sorted(TOOL_NAMES)
    assert PAGE_RESOURCE in templates
    documented = documented_parameters()
    for name, tool in tools.items():
        live = set(tool.input_schema.get("properties", {}))
        assert documented[name] == live, (
            f"references/tools.md, {name}: documented {sorted(documented[name])}, the server takes {sorted(live)}"
        )
        assert tool.annotations is not None, f"{name} declares no annotations"
    mcpb = {t["name"] for t in load("manifests/mcpb/manifest.json")["tools"]}
    assert mcpb == set(tools)
