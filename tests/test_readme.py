"""README's command blocks, run as a newcomer runs them: in order, in one bash, on a fresh
data directory, each command's exit code compared with the one README shows.

The convention (README says it too, in "Set up and run"):
- every ```bash block is run, in the order of the file, in one bash session (variables set in
  one block are there in the next, as in one terminal);
- a command expected to fail says so in its trailing comment: ``# exit 3`` (else 0 is expected);
- a block that starts the desktop, installs things or runs for long is not run: the line right
  before its fence is ``<!-- readme-test: skip, REASON -->``;
- a ```toml block right after ``<!-- readme-test: write NAME -->`` is saved as NAME in the
  working folder at that point, for the commands after it;
- commands are not written in bare ``` fences: a block is ``bash`` (run), ``toml`` or ``text``
  (not run), so no command block escapes the test unnoticed.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP_MARKER = re.compile(r"^<!--\s*readme-test:\s*skip,\s*(?P<reason>.+?)\s*-->$")
WRITE_MARKER = re.compile(r"^<!--\s*readme-test:\s*write\s+(?P<name>[\w.-]+)\s*-->$")
#: A command's trailing comment that starts with the exit code it should give.
EXPECTED_EXIT = re.compile(r"\s#\s*exit (?P<code>\d+)\b")
FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")
ALLOWED_LANGS = {"bash", "toml", "text"}
#: The whole README's commands, all at once (about 50 s here; the emulated runs take most).
TIMEOUT_S = 240
pytestmark = pytest.mark.timeout(TIMEOUT_S + 60)


@dataclass(frozen=True)
class Block:
    lang: str
    line: int  # 1-based line of the opening fence
    lines: tuple[str, ...]
    skip_reason: str | None
    write_as: str | None = None


@dataclass(frozen=True)
class Command:
    line: int  # 1-based README line where the command starts
    text: str
    expected: int


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, with their language and skip marker."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group("lang")
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        prev = next((lines[k].strip() for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        marker, write = SKIP_MARKER.match(prev), WRITE_MARKER.match(prev)
        blocks.append(Block(lang, start + 1, tuple(lines[start + 1:j]),
                            marker.group("reason") if marker else None,
                            write.group("name") if write else None))
        i = j + 1
    return blocks


def block_commands(block: Block) -> list[Command]:
    """A block's commands: continuation lines joined, comment-only and blank lines left out."""
    commands: list[Command] = []
    pending: list[str] = []
    first = 0
    for offset, raw in enumerate(block.lines):
        number = block.line + 1 + offset
        if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if not pending:
            first = number
        pending.append(raw)
        if raw.rstrip().endswith("\\"):
            continue
        text = "\n".join(pending)
        found = EXPECTED_EXIT.search(pending[-1])
        commands.append(Command(first, text, int(found.group("code")) if found else 0))
        pending = []
    assert not pending, f"README line {first}: a command ends with a line continuation"
    return commands


def test_readme_blocks_follow_the_convention() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    wrong = [f"line {b.line}: ```{b.lang}" for b in blocks if b.lang not in ALLOWED_LANGS]
    assert not wrong, ("README fences must say bash (run by this test), toml or text: "
                       + "; ".join(wrong))
    run = [b for b in blocks if b.lang == "bash" and b.skip_reason is None]
    assert len(run) >= 8, "README's walkthrough blocks were not found"
    misplaced = [b.line for b in blocks if b.write_as and b.lang != "toml"]
    assert not misplaced, f"README lines {misplaced}: a write marker is for a toml block"


def test_parsing_of_the_convention() -> None:
    text = "\n".join([
        "intro", "```bash", "# a comment", "meterlab a \\", "    --b c   # exit 3", "",
        "meterlab d", "```", "<!-- readme-test: skip, starts the desktop -->", "```bash",
        "meterlab", "```", "<!-- readme-test: write my-plan.toml -->", "```toml", "x = 1", "```",
        "meterlab x   # prints exit codes", "meterlab y  # exit 8: the seal",
    ])
    blocks = readme_blocks(text)
    assert [(b.lang, b.line, b.skip_reason, b.write_as) for b in blocks] == [
        ("bash", 2, None, None), ("bash", 10, "starts the desktop", None),
        ("toml", 14, None, "my-plan.toml")]
    assert block_commands(blocks[0]) == [
        Command(4, "meterlab a \\\n    --b c   # exit 3", 3), Command(7, "meterlab d", 0)]
    tail = Block("bash", 16, tuple(text.splitlines()[16:]), None)
    assert [c.expected for c in block_commands(tail)] == [0, 8]


def readme_steps(text: str) -> list[Command | Block]:
    """What the test does, in README's order: the commands of the bash blocks that are run, and
    the toml blocks to save as files."""
    steps: list[Command | Block] = []
    for block in readme_blocks(text):
        if block.lang == "bash" and block.skip_reason is None:
            steps += block_commands(block)
        elif block.write_as:
            steps.append(block)
    return steps


def _script(steps: list[Command | Block], results: Path) -> str:
    """One bash script: each command, then its exit code written beside its index; a toml block
    with a write marker becomes the file it names."""
    out = ["set -o pipefail"]
    index = 0
    for step in steps:
        if isinstance(step, Block):
            assert "README_EOF" not in step.lines
            out += [f"cat > {shlex.quote(str(step.write_as))} <<'README_EOF'", *step.lines,
                    "README_EOF"]
            continue
        out.append(f"echo '>>> README line {step.line}' >&2")
        out.append(step.text)
        out.append(f"echo {index} $? >> {shlex.quote(str(results))}")
        index += 1
    out.append("kill $(jobs -p) 2>/dev/null; wait")
    return "\n".join(out) + "\n"


def test_readme_commands_give_the_exit_codes_readme_shows(tmp_path: Path) -> None:
    steps = readme_steps(README.read_text(encoding="utf-8"))
    commands = [s for s in steps if isinstance(s, Command)]
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "meterlab").exists():
        pytest.fail(f"`meterlab` is not installed beside {sys.executable} (pip install -e .)")
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    # README maps the first staff account to `whoami`; MeterLab reads the login from LOGNAME
    # or USER first: the same name in all three, as in a login shell.
    login = pwd.getpwuid(os.geteuid()).pw_name
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        # A fresh data directory: the default database, captures, profiles and plans go here.
        "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache"),
        "QT_QPA_PLATFORM": "offscreen", "USER": login, "LOGNAME": login,
    }
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    results = tmp_path / "exit-codes.txt"
    script = tmp_path / "readme.sh"
    script.write_text(_script(steps, results), encoding="utf-8")
    log = tmp_path / "output.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bash", str(script)], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        finally:
            try:  # the README's background jobs (the emulator) go with it
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    got = {}
    if results.exists():
        for row in results.read_text().splitlines():
            index, code = row.split()
            got[int(index)] = int(code)
    problems = []
    for index, cmd in enumerate(commands):
        if index not in got:
            problems.append(f"README line {cmd.line}: did not finish within {TIMEOUT_S} s: {cmd.text}")
            break
        if got[index] != cmd.expected:
            problems.append(f"README line {cmd.line}: exit {got[index]}, README shows "
                            f"{cmd.expected}: {cmd.text}")
    if problems:
        tail = log.read_text(errors="replace")[-6000:]
        pytest.fail("\n".join(problems) + "\n--- output (end) ---\n" + tail)
