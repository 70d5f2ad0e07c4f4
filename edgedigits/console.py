"""Terminal output: progress and tables on stderr, so stdout stays machine-readable.

With rich installed (it comes with [train]), bars and boxed tables; without it (the lean [runtime] install on a
Pi), plain lines and aligned columns with the same content. Markup such as ``[yellow]...[/]`` is dropped then.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator, Sequence

try:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table
except ImportError:  # the lean runtime install
    Console = None

_MARKUP = re.compile(r"\[/?(?:[a-z#@][^\[\]]*)?\]")  # rich's tags: [bold], [red]...[/]; not [1, 11]


class PlainConsole:
    """What the CLI needs of rich's Console, as plain text on stderr."""

    width = 140

    @property
    def is_terminal(self) -> bool:
        return sys.stderr.isatty()

    def print(self, *objects, markup: bool = True, highlight: bool = False, **_) -> None:
        text = " ".join(str(o) for o in objects)
        print(_MARKUP.sub("", text) if markup else text, file=sys.stderr, flush=True)


if Console is None:
    err = PlainConsole()
else:
    err = Console(stderr=True)
    if not err.is_terminal:  # logs and CI: wide enough for the tables, no wrapping at 80 columns
        err = Console(stderr=True, width=140)


@contextlib.contextmanager
def progress_bar(label: str, total: float | None, unit: str = "") -> Iterator:
    """Yield ``advance(n=1, note="")``; shows bytes for unit="B", else a counter. Where no bar can draw (stderr is
    not a terminal, or no rich), each advance that carries a ``note`` prints one line instead."""
    done = [0]

    def line(n=1, note: str = ""):
        done[0] += n
        if note and (Console is None or not err.is_terminal):
            err.print(f"{label} {done[0]}/{total if total is not None else '?'}: {note}", markup=False,
                      highlight=False)

    if Console is None:
        yield line
        return
    counter = DownloadColumn() if unit == "B" else MofNCompleteColumn()
    columns = (TextColumn("{task.description}"), BarColumn(), counter, TimeRemainingColumn())
    with Progress(*columns, console=err, transient=not err.is_terminal) as progress:
        task = progress.add_task(label, total=total)

        def advance(n=1, note: str = ""):
            progress.advance(task, n)
            line(n, note)

        yield advance


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence], console=None, numeric: bool = True) -> None:
    """A table on stderr; ``numeric`` right-aligns every column but the first."""
    console = console or err
    if Console is None or isinstance(console, PlainConsole):
        console.print(title, markup=False)
        for line in plain_table(headers, rows, numeric):
            console.print(line, markup=False)
        return
    grid = Table(title=title, title_justify="left", show_header=any(headers))
    for i, name in enumerate(headers):
        grid.add_column(name, justify="right" if numeric and i else "left", overflow="fold" if not numeric else
                        "ellipsis", no_wrap=numeric)
    for row in rows:
        grid.add_row(*(str(cell) for cell in row))
    console.print(grid)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence], numeric: bool = True) -> list[str]:
    """Aligned columns, as lines: the table without rich."""
    cells = ([list(map(str, headers))] if any(headers) else []) + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))] if cells else []
    return ["  ".join(c.rjust(w) if numeric and i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in cells]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    """A GitHub-flavoured Markdown table, as lines."""
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)] + [
        "| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
