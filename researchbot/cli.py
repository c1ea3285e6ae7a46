"""The `researchbot` command: worker, server, ask, decide, show (and the Slack bot)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from core import temporal, tracing
from core.errors import ConfigError
from core.logs import configure_logging
from core.settings import Settings
from researchbot import devserver
from researchbot.promotion import PROMOTE_WITHIN_SECONDS, promote_own_worker

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="ResearchBot: AI research runs as durable Temporal workflows."
)


def fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def explain(error: ValidationError) -> str:
    """One line per problem, naming the setting or field to fix."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]).upper() or "input"
        problems.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def run(coro_factory: Any, service: str = tracing.ONE_PROCESS_SERVICE) -> Any:
    """Run a command's coroutine, turning every known failure into one line and exit code 2. Its traces
    (if OTEL_* ask for them) name ``service``, and are sent before the command returns."""
    try:
        settings = Settings()
    except ValidationError as error:
        fail(f"bad setting: {explain(error)}")
    configure_logging(settings.log_format, settings.log_level, settings.secret_values())
    try:
        tracing.configure(service)
        try:
            return asyncio.run(coro_factory(settings))
        finally:
            tracing.shutdown()  # what is batched goes out before an exit that skips interpreter teardown
    except ConfigError as error:
        fail_now(str(error))
    except ValidationError as error:
        fail_now(explain(error))
    except KeyboardInterrupt:
        raise typer.Exit(code=130) from None


def fail_now(message: str) -> None:
    """Like fail(), but skip interpreter teardown (see exit_now), which could bury the one-line error."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    exit_now(2)


def exit_now(code: int) -> None:
    """Exit without interpreter teardown: the Temporal SDK's runtime threads can still call into
    Python while it finalizes (after a failed connect, or just after a burst of starts) and abort
    the process ("PyGILState_Release ... must be current"), turning a clean exit into SIGABRT."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@asynccontextmanager
async def temporal_client(start_embedded: bool) -> AsyncIterator[Client]:
    """Connect as configured; with nothing configured and nothing listening, start the embedded server."""
    config = temporal.connect_config()
    nothing_configured = not any(key.startswith("TEMPORAL_") for key in os.environ)
    if start_embedded and nothing_configured and not devserver.port_is_open(devserver.DEFAULT_PORT):
        async with devserver.embedded_temporal() as address:
            yield await temporal.connect({**config, "target_host": address})
        return
    yield await temporal.connect(config)


async def has_workers(client: Client, task_queue: str) -> bool:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return len(response.pollers) > 0


@asynccontextmanager
async def worker_if_none(client: Client, settings: Settings) -> AsyncIterator[None]:
    from researchbot.wiring import build_activities
    from researchbot.worker import build_worker

    if await has_workers(client, settings.research_task_queue):
        yield
        return
    async with AsyncExitStack() as stack:
        activities = await stack.enter_async_context(build_activities(settings))
        await stack.enter_async_context(build_worker(client, settings, activities))
        await promote_own_worker(client, settings)  # a local worker for this run: it must get the run's tasks
        yield


@app.command()
def worker(
    promote: bool = typer.Option(
        False,
        "--promote",
        help="Make this worker's version current once it polls (a deploy that replaces every worker)",
    ),
) -> None:
    """Run the Temporal worker on RESEARCH_TASK_QUEUE; SIGTERM drains and exits."""
    from researchbot.worker import run_worker

    async def main(settings: Settings) -> None:
        client = await temporal.connect(metrics_bind_address=settings.metrics_bind_address)
        await run_worker(client, settings, promote=promote)

    run(main, tracing.WORKER_SERVICE)
    exit_now(0)


@app.command(name="promote")
def promote_version(
    build_id: str | None = typer.Option(
        None, "--build-id", help="The version to make current (default: WORKER_BUILD_ID)"
    ),
    within: float = typer.Option(PROMOTE_WITHIN_SECONDS, "--within", help="Seconds to wait for its workers to poll"),
) -> None:
    """Make a worker version of WORKER_DEPLOYMENT_NAME current, once its workers poll RESEARCH_TASK_QUEUE."""
    from temporalio.common import WorkerDeploymentVersion

    from researchbot.promotion import promote

    async def main(settings: Settings) -> None:
        version = WorkerDeploymentVersion(settings.worker_deployment_name, build_id or settings.worker_build_id)
        client = await temporal.connect()
        promoted = await promote(client, version, settings.research_task_queue, within=within)
        was = promoted.previous_build_id or "none"
        if promoted.changed:
            typer.echo(f"{version.to_canonical_string()} is current (was {was}); runs in flight move to it")
        else:
            typer.echo(f"{version.to_canonical_string()} was already current")

    run(main)
    exit_now(0)


@app.command()
def server(
    port: int = typer.Option(devserver.DEFAULT_PORT, help="gRPC port"),
    ui_port: int = typer.Option(devserver.DEFAULT_UI_PORT, help="web UI port"),
) -> None:
    """Run the embedded Temporal dev server (SQLite file under ./.data, web UI on 8233)."""

    async def main(settings: Settings) -> None:
        async with devserver.embedded_temporal(port, ui_port) as address:
            typer.echo(f"Temporal at {address}, web UI at http://127.0.0.1:{ui_port} (Ctrl-C stops it)")
            await asyncio.Event().wait()

    run(main)


@app.command()
def ask(
    question: str = typer.Argument(..., help="What to research"),
    approve: bool = typer.Option(False, "--approve", help="Approve the first draft without asking"),
    feedback: str | None = typer.Option(None, "--feedback", help="Feedback to go with --approve"),
    revise: list[str] | None = typer.Option(
        None, "--revise", help="Ask for a revision with this feedback (repeatable)"
    ),
    reject: bool = typer.Option(False, "--reject", help="Reject the first draft"),
) -> None:
    """Research a question from the terminal, starting what it needs on the embedded defaults."""
    from researchbot.terminal import RunFailed, ScriptedDecision, is_interactive
    from researchbot.terminal import ask as ask_run
    from workflows.models import DecisionKind, clean_question

    try:
        question = clean_question(question)
    except ValueError as error:
        fail(str(error))
    scripted = [ScriptedDecision(DecisionKind.REVISE, text) for text in revise or []]
    if approve or feedback:
        scripted.append(ScriptedDecision(DecisionKind.APPROVE, feedback))
    elif reject:
        scripted.append(ScriptedDecision(DecisionKind.REJECT))

    async def main(settings: Settings) -> None:
        from activities.model.llm import check_llm_reachable

        await check_llm_reachable(settings)
        async with temporal_client(start_embedded=True) as client, worker_if_none(client, settings):
            try:
                await ask_run(client, settings, question, scripted=scripted, interactive=is_interactive())
            except RunFailed as failure:
                typer.secho(str(failure), fg=typer.colors.RED, err=True)
                raise typer.Exit(code=1) from None

    run(main)


@app.command()
def decide(
    workflow_id: str,
    kind: str = typer.Argument(..., help="approve, revise or reject"),
    feedback: str | None = typer.Option(None, "--feedback"),
    as_user: str | None = typer.Option(None, "--as", help="Who decides (default: your login name)"),
) -> None:
    """Decide on a waiting run from the terminal."""
    import getpass
    import uuid

    from bot.runs import send_answer
    from workflows.models import DecisionInput, DecisionKind
    from workflows.research import ResearchWorkflow

    if kind not in {k.value for k in DecisionKind}:
        fail(f"unknown decision {kind!r}: use approve, revise or reject")

    async def main(settings: Settings) -> None:
        client = await temporal.connect()
        status = await client.get_workflow_handle(workflow_id).query(ResearchWorkflow.status)
        decision = DecisionInput(
            kind=DecisionKind(kind),
            draft_round=status.draft_round,
            decided_by=as_user or getpass.getuser(),
            feedback=feedback,
            decision_id=uuid.uuid4().hex,
        )
        outcome = await send_answer(client, workflow_id, decision)
        typer.echo(outcome.message)
        if not outcome.accepted:
            raise typer.Exit(code=1)

    run(main)


@app.command()
def show(
    workflow_id: str = typer.Argument(..., help="The run's workflow id, as its report's Evidence line gives it"),
    format: str | None = typer.Option(
        None, "--format", "-f", help="Write the report as a file: md, html or pdf, with its sources and evidence"
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="The file to write (default: standard output); its name can give the format"
    ),
) -> None:
    """Print an archived run's report and, per cited source, its evidence (from DATABASE_URL); with --format
    (md, html, pdf), write the same as a file with an evidence appendix."""
    from activities.archive.export import render, report_document
    from activities.archive.store import ArchiveStore
    from researchbot.show import export_format, render_archived

    try:
        as_file = export_format(format, output)
    except ValueError as error:
        fail(str(error))
    if as_file is not None and output is None and as_file.value == "pdf" and sys.stdout.isatty():
        fail("a PDF is not for a terminal: give --output FILE (or redirect standard output)")

    async def main(settings: Settings) -> str | bytes | None:
        store = ArchiveStore(settings.database_url)
        try:
            logging.getLogger("alembic").setLevel(logging.WARNING)
            schema = store.schema()
            if schema == "empty":
                return None
            if schema == "older":
                fail(
                    "the archive at DATABASE_URL is from an older version of ResearchBot; "
                    "`researchbot worker` upgrades it when it starts (show only reads)"
                )
            result = store.get(workflow_id)
            if result is None:
                return None
            if as_file is None:
                return render_archived(result, store.evidence(workflow_id))
            return render(report_document(result, store.evidence(workflow_id)), as_file)
        finally:
            store.dispose()

    shown = run(main)
    if shown is None:
        fail(f"no run {workflow_id!r} in the archive at DATABASE_URL (finished runs only; check the id)")
    if isinstance(shown, str):
        typer.echo(shown)
    elif output is None:
        sys.stdout.buffer.write(shown)
        sys.stdout.buffer.flush()
    else:
        try:
            output.write_bytes(shown)
        except OSError as error:
            fail(f"cannot write {str(output)!r}: {error.strerror or error}")
        typer.echo(f"Wrote {output} ({len(shown):,} bytes)")


@app.command()
def index() -> None:
    """Refresh the corpus's index (RESEARCH_CORPUS_DIR) now: print each file added, changed, removed or skipped."""
    from activities.search.local_corpus import build_corpus
    from researchbot.corpus_command import refresh_with_progress, render_report

    async def main(settings: Settings) -> str:
        corpus = build_corpus(settings)
        if not corpus.corpus_dir.is_dir():
            fail(f"RESEARCH_CORPUS_DIR={corpus.corpus_dir} is not a directory")
        report = refresh_with_progress(corpus)
        return f"Index of {corpus.corpus_dir} in {corpus.index_path}\n{render_report(report)}"

    typer.echo(run(main))


@app.command()
def bot() -> None:
    """Run the Slack bot: HTTP on 0.0.0.0:$PORT (POST /slack/events), or Socket Mode with SLACK_APP_TOKEN."""
    from bot.app import run_bot
    from bot.server import check_settings

    async def main(settings: Settings) -> None:
        check_settings(settings)
        client = await temporal.connect(metrics_bind_address=settings.metrics_bind_address)
        await run_bot(settings, client)

    run(main, tracing.BOT_SERVICE)
    exit_now(0)


@app.command()
def dev() -> None:
    """Run the whole product here: embedded Temporal, worker, bot, and the Slack sandbox page (Ctrl-C stops all)."""
    from bot.server import check_settings
    from researchbot.dev import run_dev, uses_real_slack

    async def main(settings: Settings) -> None:
        if uses_real_slack(settings):  # refused before anything starts: never HTTP without a secret
            check_settings(settings)
        async with temporal_client(start_embedded=True) as client:
            embedded = client.service_client.config.target_host.startswith("127.0.0.1:")
            await run_dev(client, settings, embedded=embedded)

    run(main)


@app.command()
def demo(
    question: str = typer.Argument("How does Temporal make a workflow durable?", help="What to research"),
    feedback: str = typer.Option("Add a one-line summary at the top.", help="Feedback sent with Approve"),
) -> None:
    """Drive one whole run through the Slack sandbox without a person, and print the thread."""
    from researchbot.dev import run_demo
    from workflows.models import clean_question

    try:
        question = clean_question(question)
    except ValueError as error:
        fail(str(error))

    async def main(settings: Settings) -> None:
        async with temporal_client(start_embedded=True) as client:
            await run_demo(client, settings, question, feedback)

    run(main)


def main() -> None:  # pragma: no cover - console entry
    app()
