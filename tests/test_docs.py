"""Docs that cannot rot: every relative link in README and docs/ resolves (anchors included), and every
``edgedigits ...`` command line they show parses (its subcommand and options exist)."""

import re
import shlex
from pathlib import Path

import click
import pytest

from edgedigits.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"```bash\n(.*?)```", re.S)
INLINE = re.compile(r"`(edgedigits [^`]+)`")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def _links():
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if not re.match(r"[a-z]+:", target):
                yield page, target


def _command_lines():
    """(page, words) for each edgedigits command shown: in bash blocks (continuations joined, comments and other
    commands of a chain dropped) and in inline code."""
    for page in PAGES:
        text = page.read_text()
        for block in FENCE.findall(text):
            for line in block.replace("\\\n", " ").splitlines():
                for part in re.split(r"&&|;|\|(?!\|)", line):
                    words = shlex.split(part, comments=True)
                    while words and (words[0] == "sudo" or "=" in words[0]):
                        words = words[1:]
                    if words and words[0].endswith("edgedigits") and not words[0].startswith("."):
                        yield page, words[1:]
        for span in INLINE.findall(text):
            yield page, span.replace("\\|", "|").split()[1:]


def _check(words: list[str]) -> str | None:
    """What is wrong with ``edgedigits WORDS``, or None: subcommands are walked, options looked up."""
    command = cli
    for word in words:
        if word.startswith("-") and word not in ("-", "--"):
            name = word.split("=")[0]
            known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
            if name not in known and not name.lstrip("-").isdigit():
                return f"{' '.join(words)}: {command.name} has no option {name}"
        elif word == "--":
            return None  # what follows goes to another program
        elif isinstance(command, click.Group):
            names = word.split("|")  # a table's "install|uninstall|status"
            missing = [n for n in names if n not in command.commands]
            if missing:
                return f"{' '.join(words)}: no command {missing[0]!r} under {command.name}"
            command = command.commands[names[0]]
    return None


def test_pages_exist_and_readme_is_short():
    assert len(PAGES) >= 7
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize("page,target", list(_links()), ids=lambda v: str(v).rsplit("/", 1)[-1])
def test_relative_links_resolve(page, target):
    path, _, anchor = target.partition("#")
    where = (page.parent / path).resolve() if path else page
    assert where.exists(), f"{page.name}: {target} does not exist"
    if anchor:
        assert anchor in _anchors(where), f"{page.name}: no heading #{anchor} in {where.name}"


def test_every_command_shown_parses():
    shown = list(_command_lines())
    assert len(shown) > 20  # the pages do show commands: the parser found them
    wrong = [f"{page.name}: {problem}" for page, words in shown if (problem := _check(words))]
    assert not wrong, "\n".join(wrong)


def test_the_checker_catches_what_rots():
    assert _check(["predict", "--json"]) is None
    assert _check(["service", "install", "--dry-run", "--", "--token", "x"]) is None
    assert "no option --jsn" in _check(["predict", "--jsn"])
    assert "no command 'predcit'" in _check(["predcit", "a.jpg"])
    assert "no command 'restart'" in _check(["service", "install|restart"])
