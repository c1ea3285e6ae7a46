"""`researchbot index`: refresh the corpus's index now and say what changed, with a progress bar on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from activities.search.corpus_index import Progress as OnProgress
from activities.search.corpus_index import RefreshReport
from activities.search.local_corpus import LocalCorpus

__all__ = ["refresh_with_progress", "render_report"]


def refresh_with_progress(corpus: LocalCorpus) -> RefreshReport:
    with _progress_bar() as on_progress:
        return corpus.refresh(on_progress)


@contextmanager
def _progress_bar() -> Iterator[OnProgress | None]:
    """A bar on stderr when it is a terminal (stdout stays the report, fit for a pipe); else none."""
    if not sys.stderr.isatty():
        yield None
        return
    columns = (
        TextColumn("indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=None)

        def on_progress(done: int, total: int, current: str) -> None:
            bar.update(task, completed=done, total=total, description=current[-60:])

        yield on_progress


def render_report(report: RefreshReport) -> str:
    """One line per file that changed or was skipped, then the counts."""
    lines = [f"added     {path}" for path in report.added]
    lines += [f"changed   {path}" for path in report.changed]
    lines += [f"removed   {path}" for path in report.removed]
    lines += [f"skipped   {skip.path}: {skip.reason}" for skip in report.skipped]
    counts = (
        f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped"
    )
    return "\n".join([*lines, counts])
