"""The documentation as tested text: README.md and every page under docs/ (docs/**/*.md).

- The README is a front page (at most 250 lines) whose first code block is the two commands, the second of
  them the one `.ci/run` runs.
- Every relative link between pages resolves, `#anchor`s included, and every page in docs/ is reachable
  from the README through links.
- Every fenced code block is checked where it lives: Python blocks run in order, page by page, in a temporary
  folder, unless the line above says `<!-- not run here: why -->` (then they compile and every `tsearch` name
  they import must exist); every `python -m tsearch...` / `python app.py` command of a bash block is parsed by
  its own parser, or its flags are looked up in its module; JSON blocks parse; pip's requirement files exist.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import json
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
NOT_RUN = re.compile(r"<!--\s*not run here:\s*(.+?)\s*-->")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int              # 1-based line of the opening fence
    lang: str
    code: str
    not_run: str | None    # why the block is not run here, from the line above it

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a page, in order."""
    found, lines, i = [], page.read_text(encoding="utf-8").split("\n"), 0
    while i < len(lines):
        opening = re.match(r"^```([\w+-]*)\s*$", lines[i])
        if not opening:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        assert end is not None, f"{page.relative_to(ROOT)}:{i + 1}: a code block is never closed"
        above = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        note = NOT_RUN.search(above)
        found.append(Block(page, i + 1, opening.group(1), "\n".join(lines[i + 1:end]) + "\n",
                           note.group(1) if note else None))
        i = end + 1
    return found


def prose(page: Path, inline_code: bool = False) -> str:
    """A page's text without its code blocks, and without inline code unless asked (links in code are not links)."""
    text = re.sub(r"^```.*?^```\s*$", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    return text if inline_code else re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, link targets and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    found, count = set(), {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", prose(page, inline_code=True), re.M):
        base = slug(heading)
        n = count.get(base, 0)
        count[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(page: Path) -> list[str]:
    return [t for t in LINK.findall(prose(page)) if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


def target(page: Path, link: str) -> tuple[Path, str]:
    path, _, anchor = link.partition("#")
    return ((page.parent / path).resolve() if path else page), anchor


# --- the front page ---------------------------------------------------------------------------------------------
def test_the_readme_is_a_front_page_of_at_most_250_lines():
    lines = README.read_text(encoding="utf-8").split("\n")
    assert len(lines) - (lines[-1] == "") <= 250, "README.md is over 250 lines: move the detail to a page in docs/"
    assert lines[0] == "---", "the Space's front matter opens the README"
    assert "](docs/app-1440x900.png)" in README.read_text(encoding="utf-8")   # the finished default Run


def test_the_readmes_first_commands_are_the_app_and_the_tests_that_ci_runs():
    first = blocks(README)[0]
    commands = [line.split("#")[0].strip() for line in first.code.splitlines() if line.strip()]
    assert first.lang == "bash" and len(commands) == 2
    assert commands[0] == "pip install -r requirements.txt && python app.py"
    assert commands[1] == "pip install -r requirements.txt -r requirements-test.txt && python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci.replace(" -q", "").replace(" -p no:cacheprovider", "") == commands[1], \
        ".ci/run no longer runs the README's test command"


# --- links -------------------------------------------------------------------------------------------------------
def broken_links(pages: list[Path], root: Path = ROOT) -> list[str]:
    """Every relative link of the pages whose file, or whose #anchor in a page, does not exist."""
    broken = []
    for page in pages:
        for link in links(page):
            path, anchor = target(page, link)
            where = f"{page.relative_to(root)}: ({link})"
            if root not in path.parents and path != root:
                broken.append(f"{where}: outside the repository")
            elif not path.exists():
                broken.append(f"{where}: no such file")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                broken.append(f"{where}: no heading with the anchor #{anchor} in {path.relative_to(root)}")
    return broken


def test_every_relative_link_between_pages_resolves_anchors_included():
    broken = broken_links(PAGES)
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_check_finds_a_missing_page_and_a_missing_anchor(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Two words\n\n`[code](nowhere.md)` is no link.\n")
    (tmp_path / "README.md").write_text("[a](docs/a.md#two-words) [b](docs/b.md) [c](docs/a.md#three) "
                                        "[web](https://example.com/x.md) [self](#front)\n\n# Front\n")
    broken = broken_links([tmp_path / "README.md", tmp_path / "docs" / "a.md"], tmp_path)
    assert broken == ["README.md: (docs/b.md): no such file",
                      "README.md: (docs/a.md#three): no heading with the anchor #three in docs/a.md"]


def test_every_docs_page_is_reachable_from_the_readme():
    reached, todo = {README}, [README]
    while todo:
        page = todo.pop()
        for link in links(page):
            path, _ = target(page, link)
            if path.suffix == ".md" and path.exists() and path not in reached:
                reached.add(path)
                todo.append(path)
    lost = [str(p.relative_to(ROOT)) for p in PAGES if p not in reached]
    assert not lost, f"pages no link leads to from README.md: {lost}"


def test_the_anchor_slugs_follow_github():
    assert slug('Stopping, timeouts and "best"') == "stopping-timeouts-and-best"
    assert slug("On a CPU with native bf16: `auto` is the default") == "on-a-cpu-with-native-bf16-auto-is-the-default"
    assert slug("From another program: gradio_client") == "from-another-program-gradio_client"
    assert slug("The ask/tell loop") == "the-asktell-loop"


# --- code blocks -------------------------------------------------------------------------------------------------
ALL = [b for page in PAGES for b in blocks(page)]
RUN_PAGES = sorted({b.page for b in ALL if b.lang == "python" and b.not_run is None})


def _spec(name: str):
    """The import spec of a module, or None (also for a name inside a module, which is no module)."""
    try:
        return importlib.util.find_spec(name)
    except (ImportError, AttributeError, ValueError):
        return None


def _tsearch_names(block: Block) -> list[str]:
    """Every tsearch module and name a block imports that does not exist."""
    missing = []
    for node in ast.walk(ast.parse(block.code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tsearch":
            module = importlib.import_module(node.module)
            missing += [f"{node.module}.{a.name}" for a in node.names if not hasattr(module, a.name)
                        and _spec(f"{node.module}.{a.name}") is None]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tsearch" and _spec(alias.name) is None:
                    missing.append(alias.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "tsearch":
            if not hasattr(importlib.import_module("tsearch"), node.attr):
                missing.append(f"tsearch.{node.attr}")
    return missing


def test_every_python_block_compiles_and_its_tsearch_names_exist():
    for block in (b for b in ALL if b.lang == "python"):
        compile(block.code, block.where(), "exec")
        assert not _tsearch_names(block), f"{block.where()}: {_tsearch_names(block)} do not exist"
    assert any(b.not_run is None for b in ALL if b.page == README and b.lang == "python"), \
        "the README's Python example is run"


@pytest.mark.parametrize("page", RUN_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_python_blocks_of_a_page_run_in_order(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)   # runs/, best.png: written where the test can throw them away
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks(page):
        if block.lang == "python" and block.not_run is None:
            exec(compile(block.code, block.where(), "exec"), namespace)
    printed = capsys.readouterr().out
    if page == README:
        assert (tmp_path / "best.png").exists() and (tmp_path / "runs" / "first" / "run.json").exists()
        assert "shapes-oracle" in printed and namespace["result"].summary.nfe_spent <= 400


def test_the_json_blocks_parse():
    for block in (b for b in ALL if b.lang == "json"):
        json.loads(block.code)


def _commands(block: Block) -> list[list[str]]:
    """The commands of a bash block: continuations joined, comments dropped, `a && b` split."""
    text = block.code.replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        while words:
            cut = words.index("&&") if "&&" in words else len(words)
            out.append(words[:cut])
            words = words[cut + 1:]
    return [w for w in out if w]


class _Parsed(BaseException):
    """Raised in place of running a command once its parser has accepted the arguments."""


def _parse_only(main, argv: list[str], where: str) -> None:
    """Call a command's `main(argv)` with argparse stopped right after it parsed: only the parsing runs."""
    real = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        real(self, args, namespace)
        raise _Parsed

    argparse.ArgumentParser.parse_args = parse_and_stop
    try:
        code = main(argv)
    except _Parsed:
        return
    except SystemExit as exit:
        code = exit.code
    finally:
        argparse.ArgumentParser.parse_args = real
    pytest.fail(f"{where}: {' '.join(argv)!r} is refused by its parser (exit {code})")


def _benches() -> dict[str, str]:
    """`python -m tsearch.bench`'s table of names to modules, read without running its __main__."""
    tree = ast.parse((ROOT / "tsearch" / "bench" / "__main__.py").read_text(encoding="utf-8"))
    (table,) = [n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "BENCHES"]
    return ast.literal_eval(table)


BENCHES = _benches()


def check_command(words: list[str], where: str) -> bool:
    """Parse one documented command with its own parser; False when it is not a tsearch command."""
    if words[0] == "pip":
        for i, word in enumerate(words):
            if word == "-r":
                assert (ROOT / words[i + 1]).exists(), f"{where}: no {words[i + 1]}"
        return True
    if words[0] != "python" or len(words) < 3:
        return False
    if words[1] == "app.py":
        sys.path.insert(0, str(ROOT))
        try:
            import app
        finally:
            sys.path.remove(str(ROOT))
        _parse_only(app.parse_args, words[2:], where)
        return True
    if words[1] != "-m" or not words[2].startswith("tsearch"):
        return words[1:3] == ["-m", "pytest"]
    module, argv = words[2], words[3:]
    if module == "tsearch":
        from tsearch.cli import main
    elif module == "tsearch.bench":
        assert argv and argv[0] in BENCHES, f"{where}: no benchmark {argv[:1]}"
        module, argv = BENCHES[argv[0]], argv[1:]
    if module != "tsearch":
        assert _spec(module) is not None, f"{where}: no module {module}"
        main = getattr(importlib.import_module(module), "main", None)
        assert main is not None, f"{where}: {module} has no main(argv) to parse its arguments"
    _parse_only(main, argv, where)
    return True


def test_every_documented_command_is_accepted_by_its_parser():
    checked = 0
    for block in (b for b in ALL if b.lang in ("bash", "sh", "shell")):
        for words in _commands(block):
            checked += check_command(words, block.where())
    assert checked >= 20, "the bash blocks' commands were found and checked"


def test_every_inline_command_is_accepted_by_its_parser():
    """Commands quoted in the prose (`python -m tsearch.bench solvers --world shapes --steps 4 6`) too."""
    checked = 0
    for page in PAGES:
        for span in re.findall(r"`(python (?:-m tsearch|app\.py)[^`\n]*)`", prose(page, inline_code=True)):
            if " --" not in span or re.search(r"[|\[]|\.\.\.|--help", span):
                continue   # a command's name, or a pattern of alternatives: not a command to run as written
            for words in _commands(Block(page, 0, "bash", span + "\n", None)):
                checked += check_command(words, f"{page.relative_to(ROOT)}: `{span}`")
    assert checked >= 20, "the prose's commands were found and checked"


def test_the_command_check_refuses_a_wrong_flag():
    with pytest.raises(pytest.fail.Exception, match="refused by its parser"):
        check_command(["python", "-m", "tsearch", "run", "--model", "gmm", "--budjet", "40"], "here")
    with pytest.raises(pytest.fail.Exception, match="refused by its parser"):
        check_command(["python", "-m", "tsearch.bench", "solvers", "--no-such-flag", "1"], "here")
    with pytest.raises(pytest.fail.Exception, match="refused by its parser"):
        check_command(["python", "-m", "tsearch", "sweep", "spec.toml", "--backend", "nowhere"], "here")
    assert check_command(["python", "-m", "tsearch.bench", "solvers", "--world", "digits", "--steps", "4"], "here")
    with pytest.raises(AssertionError, match="no benchmark"):
        check_command(["python", "-m", "tsearch.bench", "nothing"], "here")
