"""Terminal output: progress bars and tables (rich), written to stderr so stdout stays machine-readable."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

err = Console(stderr=True)
if not err.is_terminal:  # logs and CI: wide enough for the tables, no wrapping at 80 columns
    err = Console(stderr=True, width=140)


@contextlib.contextmanager
def progress_bar(label: str, total: float | None, unit: str = "") -> Iterator:
    """Yield ``advance(n=1, note="")``; shows bytes for unit="B", else a counter. Where stderr is not a terminal
    (logs, CI, a pipe) the bar cannot draw, so each advance that carries a ``note`` prints one line instead."""
    counter = DownloadColumn() if unit == "B" else MofNCompleteColumn()
    columns = (TextColumn("{task.description}"), BarColumn(), counter, TimeRemainingColumn())
    with Progress(*columns, console=err, transient=not err.is_terminal) as progress:
        task = progress.add_task(label, total=total)
        done = [0]

        def advance(n=1, note: str = ""):
            progress.advance(task, n)
            done[0] += n
            if note and not err.is_terminal:
                err.print(f"{label} {done[0]}/{total if total is not None else '?'}: {note}", markup=False,
                          highlight=False)

        yield advance


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence], console: Console = err,
          numeric: bool = True) -> None:
    """A table on stderr; ``numeric`` right-aligns every column but the first."""
    grid = Table(title=title, title_justify="left", show_header=any(headers))
    for i, name in enumerate(headers):
        grid.add_column(name, justify="right" if numeric and i else "left", overflow="fold" if not numeric else
                        "ellipsis", no_wrap=numeric)
    for row in rows:
        grid.add_row(*(str(cell) for cell in row))
    console.print(grid)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    """A GitHub-flavoured Markdown table, as lines."""
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)] + [
        "| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
