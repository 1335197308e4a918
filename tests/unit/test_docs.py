"""The README and docs/ stay true: every `invoke` command they show exists, with the flags
they give it, every relative link leads to a file, and every path they name is there.

What invoke accepts is asked of invoke itself (`invoke --list`, `invoke --help TASK`), once
per task, never restated here: a task or flag renamed in tasks.py fails the page that
still shows the old one. `invoke --help TASK` rather than `invoke TASK --help`, because a
task with a positional argument (`station`, `shell`, `load`, `publish`'s --registry) takes
a trailing `--help` as that argument's value and runs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab.config import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 150  # what someone reads in two minutes

Flags = dict[str, bool]  # "--variant" -> True (it takes a value), "-q" -> False
# `-v STRING`, `--variant=STRING`, `-h [STRING]`, `--help[=STRING]`, `--[no-]color`, `-q`
OPTION = re.compile(r"(--\[no-\][\w-]+|-[\w-]+)(?:(\[)?[= ]\[?([A-Z]+)\]?)?")


# -- what invoke accepts ------------------------------------------------------------------


def invoke_output(*args: str) -> str:
    """What `invoke ARGS` prints here (tasks.py needs no engine to list or describe)."""
    argv = [sys.executable, "-m", "invoke", *args]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
    return done.stdout


def task_names(listing: str) -> set[str]:
    """The tasks in `invoke --list`: each named two spaces in, its docstring's wrapped lines
    further in."""
    return set(re.findall(r"^  ([\w.-]+)", listing, re.MULTILINE))


def option_flags(help_text: str) -> Flags:
    """The flags in a `--help`'s (Core) Options section: `-n STRING, --number=STRING`,
    `-q, --quick`, `-h [STRING], --help[=STRING]` (a value it may take), and the `--[no-]x`
    invoke writes for a flag that is on by default."""
    flags: Flags = {}
    options = re.split(r"^\S.*options:$", help_text, flags=re.MULTILINE | re.IGNORECASE)[-1]
    for line in options.splitlines():
        if not line.lstrip().startswith("-"):
            continue  # a description's wrapped line
        spec = re.split(r"\s{2,}", line.strip())[0]  # the description follows two spaces
        for item in spec.split(", "):
            name, optional, value = OPTION.fullmatch(item).groups()
            takes_value = bool(value) and not optional  # may take one: the next word decides
            if name.startswith("--[no-]"):
                bare = name.removeprefix("--[no-]")
                flags[f"--{bare}"] = flags[f"--no-{bare}"] = takes_value
            else:
                flags[name] = takes_value
    return flags


@dataclass
class Invoke:
    """invoke's tasks and flags, each task's asked for once and kept."""

    tasks: set[str]
    core: Flags  # the flags before a task: --list, --help, --version...
    asked: dict[str, Flags] = field(default_factory=dict)

    def flags(self, task: str) -> Flags:
        if task not in self.asked:
            self.asked[task] = option_flags(invoke_output("--help", task))
        return self.asked[task]


@pytest.fixture(scope="module")
def invoke() -> Invoke:
    return Invoke(task_names(invoke_output("--list")), option_flags(invoke_output("--help")))


# -- the commands a page shows ------------------------------------------------------------

FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
SHELL_BLOCKS = {"", "sh", "bash", "shell", "console"}
INLINE_CODE = re.compile(r"`([^`\n]+)`")
# Where one shell command ends and the next (or a comment) begins.
COMMAND_END = re.compile(r"&&|\|\||;|\||>|\(|\)|(?:^|\s)#")


def code_texts(markdown: str) -> list[str]:
    """Each line of the fenced blocks of commands, and each inline code span outside them.
    A block marked as something else (```text for a tree, ```toml, ```python) is not run."""
    texts = [
        line
        for block in FENCE.findall(markdown)
        if block.splitlines()[0].removeprefix("```").strip() in SHELL_BLOCKS
        for line in block.splitlines()[1:-1]
    ]
    texts += INLINE_CODE.findall(FENCE.sub("", markdown))
    # In a table a `|` is written `\|`; `stock\|debug\|ft` is one argument, not a pipe.
    return [t.replace("\\|", "/") for t in texts]


def invoke_commands(code: str) -> list[list[str]]:
    """The words after each `invoke` (or `.venv/bin/invoke`) in CODE, one list a command,
    with `[`/`]` (an optional part) and `...` dropped."""
    commands = []
    for part in COMMAND_END.split(code):
        words = [w.strip("[]") for w in part.split()]
        words = [w for w in words if w and w not in {"...", ".."}]
        starts = [i for i, w in enumerate(words) if w == "invoke" or w.endswith("/invoke")]
        if starts:
            commands.append(words[starts[0] + 1 :])
    return commands


def command_problems(words: list[str], invoke: Invoke) -> list[str]:
    """What invoke would refuse in `invoke WORDS`; positional arguments (`station 1`,
    `load BUNDLE`) and flags' values pass as they are."""
    shown = "invoke " + " ".join(words)
    core = []
    while words and words[0].startswith("-"):
        core.append(words.pop(0))
    problems = [f"{shown}: no core option {f}" for f in core if f.split("=")[0] not in invoke.core]
    if not words:
        return problems
    task, *rest = words
    if task not in invoke.tasks:
        return [*problems, f"{shown}: no task {task!r} in `invoke --list`"]
    if {"--help", "-h"} & set(core):
        return problems  # `invoke --help TASK`: the task exists, nothing runs
    flags = invoke.flags(task)
    expects_value = False
    for word in rest:
        if expects_value or not word.startswith("-") or word == "-":
            expects_value = False  # a value, or a positional argument
            continue
        name = word.split("=", 1)[0] if word.startswith("--") else word[:2]
        if name not in flags:
            problems.append(f"{shown}: `invoke --help {task}` lists no {name}")
            continue
        # `--variant X`, `-v X` take the next word; `--variant=X`, `-vX` hold it already.
        expects_value = flags[name] and "=" not in word and len(word) == len(name)
    return problems


def commands_problems(markdown: str, invoke: Invoke) -> list[str]:
    """What invoke would refuse of every command MARKDOWN shows."""
    return [
        problem
        for code in code_texts(markdown)
        for words in invoke_commands(code)
        for problem in command_problems(words, invoke)
    ]


# -- the links and paths a page names -----------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:...
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# A span starting with one of these is a path in the repository.
TOP_LEVEL = ("lab/", "tests/", "bench/", "scripts/", "images/", "stations/", ".ci/")
PLACEHOLDER = re.compile(r"^[A-Z]{1,4}(?:[-_].*)?$|^<.*>$")  # NN-name, N, ARCH, <time>


def prose(markdown: str) -> str:
    """MARKDOWN without its code: a link in a code block is an example, not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def relative_links(markdown: str) -> list[str]:
    return [t for t in LINK.findall(prose(markdown)) if not EXTERNAL.match(t)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower case, without punctuation, with a
    dash for each space (`## Who is trusted?` -> `who-is-trusted`)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text, not its target
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading's anchor; GitHub numbers a repeated one (`-1`, `-2`)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", markdown)):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def link_problem(page: Path, target: str, root: Path = ROOT) -> str | None:
    """Why TARGET, linked from PAGE, leads nowhere; None where it resolves."""
    path, _, anchor = target.partition("#")
    where = (page.parent / path).resolve() if path else page
    if not where.is_relative_to(root.resolve()) or not where.exists():
        return f"{target}: no such file in the repository"
    if anchor and where.suffix == ".md" and anchor not in anchors(where.read_text()):
        return f"{target}: {where.name} has no heading whose anchor is #{anchor}"
    return None


def named_paths(markdown: str) -> list[str]:
    """Repository paths written as inline code (`lab/run/runner.py`, `tests/unit/run/test_*.py`),
    leaving out those with a placeholder in them (`stations/NN-name/`)."""
    paths = []
    for span in INLINE_CODE.findall(FENCE.sub("", markdown)):
        first = span.split()[0] if span.split() else ""
        if first.startswith(TOP_LEVEL) and not any(
            PLACEHOLDER.match(part) for part in first.split("/")
        ):
            paths.append(first.rstrip(".,:;"))
    return paths


def path_exists(path: str, root: Path = ROOT) -> bool:
    """PATH names something in the repository (a glob must match something)."""
    return any(root.glob(path.rstrip("/"))) if "*" in path else (root / path).exists()


# -- the tests ----------------------------------------------------------------------------


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", DOCS, ids=page_id)
def test_every_invoke_command_shown_exists(page: Path, invoke: Invoke) -> None:
    problems = commands_problems(page.read_text(), invoke)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", DOCS, ids=page_id)
def test_every_relative_link_resolves(page: Path) -> None:
    problems = [link_problem(page, t) for t in relative_links(page.read_text())]
    assert not any(problems), "\n".join(p for p in problems if p)


@pytest.mark.parametrize("page", DOCS, ids=page_id)
def test_every_path_named_exists(page: Path) -> None:
    missing = [p for p in named_paths(page.read_text()) if not path_exists(p)]
    assert not missing, f"{page_id(page)} names paths that are not there: {missing}"


def test_the_readme_is_short_and_leads_to_every_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < README_MAX_LINES
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(readme)}
    orphans = [page_id(p) for p in DOCS[1:] if p.resolve() not in linked]
    assert not orphans, f"the README links to no {orphans}"


def test_the_checker_reports_a_made_up_task_flag_link_and_path(tmp_path, invoke) -> None:
    """The tests above would pass on a checker that finds nothing: show it finds each."""
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Who is trusted?\n")
    page.write_text(
        "```sh\ninvoke no-such-task   # made up\ninvoke station 1 --quick --no-such-flag\n```\n"
        "Then `invoke images -v cuda -Z` and [a page](nope.md), [an anchor](other.md#nope),"
        " [fine](other.md#who-is-trusted), `lab/nowhere.py`.\n"
    )
    markdown = page.read_text()
    assert commands_problems(markdown, invoke) == [
        "invoke no-such-task: no task 'no-such-task' in `invoke --list`",
        "invoke station 1 --quick --no-such-flag: `invoke --help station` lists no --no-such-flag",
        "invoke images -v cuda -Z: `invoke --help images` lists no -Z",
    ]
    links = [link_problem(page, t, tmp_path) for t in relative_links(markdown)]
    assert [bool(p) for p in links] == [True, True, False]
    assert named_paths(markdown) == ["lab/nowhere.py"] and not path_exists("lab/nowhere.py")


def test_what_the_checker_lets_through(invoke) -> None:
    """Positional arguments, flags' values, short flags, a table's `\\|` and core options."""
    shown = [
        "invoke station 1 --quick --variant ft",
        "$ invoke load /media/usb/lab-bundle.tar && invoke doctor --compare=lab.lock",
        "invoke shell stock\\|debug\\|ft [--command C]",
        "invoke images -v cuda -f; invoke --list",
        "invoke --help station",
        ". .venv/bin/activate && invoke station 1 | head -3",
    ]
    commands = [w for code in shown for w in invoke_commands(code.replace("\\|", "/"))]
    assert len(commands) == 8
    assert [p for words in commands for p in command_problems(words, invoke)] == []


def test_help_options_are_read_with_values_and_negations() -> None:
    help_text = """Usage: inv[oke] [--core-opts] demo [--options] [other tasks here ...]

Options:
  -c STRING, --command=STRING   run this instead of bash
  -q, --quick                   small workloads
  --[no-]color                  colour the output
"""
    assert option_flags(help_text) == {
        "-c": True,
        "--command": True,
        "-q": False,
        "--quick": False,
        "--color": False,
        "--no-color": False,
    }


def test_anchors_are_githubs() -> None:
    markdown = "# Who is trusted?\n## `invoke doctor` and **Podman**\n## Tests\n## Tests\n"
    assert anchors(markdown) == {
        "who-is-trusted",
        "invoke-doctor-and-podman",
        "tests",
        "tests-1",
    }
