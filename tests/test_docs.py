"""Every ```python block of README.md and docs/**/*.md runs as written.

The blocks of one document run in order in one namespace, so a later block may use the names
an earlier one defined, as a reader following the page would; the working directory is a
fresh folder, so the files they write land in tmp_path. ``../shared/data`` there points to
the shared data sets beside the project (the layout the documents assume, run from the
repository root), and ``AEKIT_DATA`` to its ``data`` folder; a document that needs them is
skipped where they are absent, except in CI.

A block fenced ```python no-run is shown but not run; there may be at most MAX_NO_RUN of
them, and the first line of each says why in a comment.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
# By glob, so that a document added later is run without being listed here.
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# A fence of three or more backticks, indented or not (inside a list item), closed by a fence
# of the same indentation and at least as many backticks.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<info>[^`\n]*)\n"
    r"(?P<body>.*?)"
    r"^(?P=indent)(?P=ticks)`*[ \t]*$",
    re.DOTALL | re.MULTILINE,
)
# Info strings that would be Python under another name and so escape the run.
PYTHON_ALIASES = {"py", "python3", "py3", "pycon", "ipython", "python-repl"}
NO_RUN = "no-run"
# Blocks that cannot run anywhere the suite runs (a GPU, a download) are the rare exception.
MAX_NO_RUN = 2


@dataclass(frozen=True)
class Block:
    """One fenced code block: its language, the words after it, and its code."""

    document: Path
    line: int  # line of the block's first code line in the document, from 1
    language: str
    options: tuple[str, ...]
    code: str

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def fenced_blocks(document: Path, text: str | None = None) -> list[Block]:
    """The fenced code blocks of a Markdown document, in order, their indentation removed."""
    text = document.read_text(encoding="utf-8") if text is None else text
    blocks = []
    for match in FENCE.finditer(text):
        words = match["info"].split()
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        blocks.append(
            Block(
                document=document,
                line=text.count("\n", 0, match.start("body")) + 1,
                language=words[0].lower() if words else "",
                options=tuple(words[1:]),
                code=code,
            )
        )
    return blocks


def python_blocks(document: Path) -> list[Block]:
    return [block for block in fenced_blocks(document) if block.language == "python"]


def runnable(document: Path) -> list[Block]:
    return [block for block in python_blocks(document) if NO_RUN not in block.options]


def run_block(block: Block, namespace: dict) -> None:
    # Leading newlines put the block at its own lines, so a traceback names the document's line.
    source = "\n" * (block.line - 1) + block.code
    exec(compile(source, str(block.document.relative_to(ROOT)), "exec"), namespace)


def document_id(document: Path) -> str:
    return str(document.relative_to(ROOT))


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if runnable(d)], ids=document_id)
def test_python_blocks_run_as_written(document: Path, tmp_path, monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    if SHARED_DATA.is_dir():
        (tmp_path / "shared").symlink_to(SHARED_DATA.parent, target_is_directory=True)
        monkeypatch.setenv("AEKIT_DATA", str(SHARED_DATA))
    else:
        monkeypatch.delenv("AEKIT_DATA", raising=False)
    monkeypatch.chdir(work)
    namespace: dict = {"__name__": "__docs__"}
    for block in runnable(document):
        try:
            run_block(block, namespace)
        except FileNotFoundError as error:
            if SHARED_DATA.is_dir() or os.environ.get("CI") == "true":
                raise
            pytest.skip(f"{block.where} needs the shared data in {SHARED_DATA}: {error}")


def test_the_documents_with_python_are_found() -> None:
    # The pages the issue named, and the blocks each was seen to hold.
    found = {document_id(d): len(python_blocks(d)) for d in DOCUMENTS}
    assert found["README.md"] >= 3
    assert found["docs/export.md"] >= 2
    assert found["docs/models.md"] >= 12


def test_no_python_block_hides_under_another_name() -> None:
    hidden = [
        block.where
        for document in DOCUMENTS
        for block in fenced_blocks(document)
        if block.language in PYTHON_ALIASES
    ]
    assert hidden == [], "tag these blocks ```python so that they are run"


def test_blocks_left_unrun_are_few_and_say_why() -> None:
    left = [
        block
        for document in DOCUMENTS
        for block in python_blocks(document)
        if NO_RUN in block.options
    ]
    assert len(left) <= MAX_NO_RUN, [block.where for block in left]
    for block in left:
        first = block.code.lstrip().splitlines()[0] if block.code.strip() else ""
        assert re.match(r"#\s*\S", first), f"{block.where}: say why in a first-line comment"


def test_fences_are_read_as_markdown_does(tmp_path) -> None:
    text = (
        "# Title\n"
        "```bash\n"
        "aekit --help\n"
        "```\n"
        "\n"
        "- a list item:\n"
        "\n"
        "  ```python\n"
        "  x = 1\n"
        "  if x:\n"
        "      y = 2\n"
        "  ```\n"
        "````python no-run\n"
        "# needs a GPU\n"
        "```\n"
        "````\n"
    )
    blocks = fenced_blocks(tmp_path / "page.md", text)
    assert [(b.language, b.options, b.line) for b in blocks] == [
        ("bash", (), 3),
        ("python", (), 9),
        ("python", ("no-run",), 14),
    ]
    assert blocks[1].code == "x = 1\nif x:\n    y = 2\n"
    assert blocks[2].code == "# needs a GPU\n```\n"  # a shorter fence does not close a longer one
