"""Install commands written in the docs take the shape the hosts' CLIs accept. .ci/validate-hosts.sh runs the
snippets in manifests/clients/ through the real `claude` and `openclaw`; these tests keep the copies of those
commands in README.md and docs/INSTALL.md in step with them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/INSTALL.md", "manifests/clients/claude-code.sh", "manifests/clients/openclaw.sh")


def commands(rel: str, prefix: str) -> list[str]:
    """Every command line in a file that starts with prefix, backslash continuations joined."""
    text = (ROOT / rel).read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        start = line.find(prefix)
        if start >= 0:
            found.append(line[start:].split("`")[0].split("  #")[0].strip())
    return found


def mcp_add_problem(command: str) -> str | None:
    """Why `claude mcp add` would misread this command, or None. Its -e/--env and -H/--header options take any
    number of values, so a server name written after one of them is read as one more value."""
    words = shlex.split(command)[3:]
    if "--" in words:
        words = words[: words.index("--")]
    valued = {"-t", "--transport", "-s", "--scope", "--callback-port", "--client-id"}
    variadic = {"-e", "--env", "-H", "--header"}
    index = 0
    while index < len(words):
        word = words[index]
        if word in variadic:
            return f"the server name comes after {word}, which swallows it"
        if word in valued:
            index += 2
            continue
        if not word.startswith("-"):
            return None if word == "upstage-ocr" else f"the server name is {word!r}"
        index += 1
    return "no server name"


def test_the_mcp_add_check_catches_the_swallowed_name():
    bad = 'claude mcp add --transport stdio --env K="v" upstage-ocr -- uvx --from upstage-ocr upstage-ocr-mcp'
    good = (
        'claude mcp add --transport stdio upstage-ocr --env K="v" -- uvx --from upstage-ocr upstage-ocr-mcp'
    )
    assert mcp_add_problem(bad) is not None
    assert mcp_add_problem(good) is None


@pytest.mark.parametrize("rel", DOCS[:3])
def test_claude_mcp_add_names_the_server_before_its_env(rel):
    found = commands(rel, "claude mcp add ")
    assert found, f"{rel} shows no `claude mcp add`"
    for command in found:
        assert mcp_add_problem(command) is None, f"{rel}: {command}: {mcp_add_problem(command)}"


@pytest.mark.parametrize("rel", ("README.md", "docs/INSTALL.md"))
def test_openclaw_mcp_set_is_the_line_ci_runs(rel):
    [tested] = commands("manifests/clients/openclaw.sh", "openclaw mcp set ")
    assert tested in commands(rel, "openclaw mcp set "), f"{rel} differs from manifests/clients/openclaw.sh"


def test_openclaw_skill_installs_use_forms_openclaw_accepts():
    # `openclaw skills install --help`: a ClawHub ref (@owner/slug or skills-sh:owner/repo/slug), git:<repo>,
    # or a local skill directory.
    accepted = re.compile(
        r"^(@[\w.-]+/[\w.-]+|skills-sh:[\w.-]+/[\w.-]+/[\w.-]+|git:[\w.-]+/[\w.-]+(@\S+)?|\.{0,2}/\S+)$"
    )
    for rel in DOCS:
        for command in commands(rel, "openclaw skills install "):
            ref = [w for w in shlex.split(command)[3:] if not w.startswith("-")]
            assert len(ref) == 1 and accepted.match(ref[0]), f"{rel}: {command}"
