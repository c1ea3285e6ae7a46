"""`researchbot dev` and `researchbot demo`: the whole product in one process on this machine.

dev: the embedded Temporal server, a worker, the Slack bot over HTTP and the local Slack sandbox
(or real Slack when real tokens are configured), until Ctrl-C. With the sandbox, the bot and the sandbox
share a bot token and signing secret made for this start (unless the operator set them), and the bot
listens on loopback answering only its own Host and no Origin (:class:`sandbox.host_guard.LoopbackOnly`).
demo: the same stack on free ports, driven through the sandbox's own endpoints without a person.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from temporalio.client import Client

from bot.app import build_app, build_asgi_app
from bot.server import EVENTS_PATH, HttpServer, serve_socket_mode
from bot.under_way import UnderWay
from core.settings import Settings
from researchbot.devserver import DEFAULT_UI_PORT
from researchbot.promotion import promote_own_worker
from researchbot.sandbox_cmd import DEFAULT_PORT as SANDBOX_PORT
from researchbot.sandbox_cmd import build_sandbox, sandbox_credentials
from researchbot.wiring import build_activities
from researchbot.worker import build_worker
from sandbox.credentials import Credentials
from sandbox.demo_workspace import APPROVERS
from sandbox.host_guard import LoopbackOnly
from sandbox.server import DEFAULT_STATE_FILE, SandboxServer

log = structlog.get_logger("researchbot.dev")

SOCKET_MODE = "Socket Mode"


def uses_real_slack(settings: Settings) -> bool:
    return settings.slack_bot_token is not None and "slack.com" in settings.slack_api_url


def sandbox_settings(settings: Settings, sandbox_port: int, credentials: Credentials) -> Settings:
    """The operator's settings, with the bot and worker pointed at the sandbox instead of Slack."""
    return settings.model_copy(
        update={
            "slack_api_url": f"http://127.0.0.1:{sandbox_port}/api/",
            "slack_bot_token": SecretStr(credentials.bot_token),
            "slack_signing_secret": SecretStr(credentials.signing_secret),
            "slack_app_token": None,
            "research_approvers": settings.research_approvers or list(APPROVERS),
        }
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    bot_url: str
    sandbox: SandboxServer | None
    settings: Settings


@asynccontextmanager
async def product_stack(
    client: Client, settings: Settings, *, bot_port: int, sandbox_port: int | None, state_file: Path
) -> AsyncIterator[Stack]:
    """Worker, bot and (unless sandbox_port is None) the sandbox, all in this event loop."""
    credentials = sandbox_credentials(settings)  # once per start: the bot and the sandbox share them
    if sandbox_port is not None:
        settings = sandbox_settings(settings, sandbox_port, credentials)
    async with AsyncExitStack() as stack:
        activities = await stack.enter_async_context(build_activities(settings))
        await stack.enter_async_context(build_worker(client, settings, activities))
        # As an operator would after a deploy, and before the bot starts anything: runs started earlier (on
        # the embedded server's file) move to this code, and new ones reach this worker.
        await promote_own_worker(client, settings)
        under_way = UnderWay()
        stack.push_async_callback(under_way.drain)  # after the bot stops: what its askers were told is on its way
        if sandbox_port is None and settings.slack_app_token is not None:
            # Real Slack over Socket Mode: nothing listens for HTTP, so no request goes unsigned.
            bot_url = await _socket_mode_bot(stack, build_app(settings, client, under_way), settings)
        else:  # the front door refuses to serve HTTP without a signing secret
            asgi = build_asgi_app(settings, client, under_way)
            if sandbox_port is not None:  # on loopback, called only by the sandbox: no rebound Host, no page
                bot = HttpServer(LoopbackOnly(asgi), "127.0.0.1", bot_port)
            else:
                bot = HttpServer(asgi, "0.0.0.0", bot_port)
            await bot.start()
            stack.push_async_callback(bot.stop)
            bot_url = bot.url + EVENTS_PATH
        sandbox = None
        if sandbox_port is not None:
            sandbox = build_sandbox(credentials, sandbox_port, bot_url, state_file)
            serving = asyncio.create_task(sandbox.serve(handle_signals=False), name="sandbox")
            stack.push_async_callback(_stop_sandbox, sandbox, serving)
            while not sandbox.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.05)
        yield Stack(bot_url=bot_url, sandbox=sandbox, settings=settings)


async def _socket_mode_bot(stack: AsyncExitStack, bolt: AsyncApp, settings: Settings) -> str:
    assert settings.slack_app_token is not None
    stop = asyncio.Event()
    serving = asyncio.create_task(
        serve_socket_mode(bolt, settings.slack_app_token.get_secret_value(), stop), name="socket-mode"
    )

    async def stop_serving() -> None:
        stop.set()
        await serving

    stack.push_async_callback(stop_serving)
    return SOCKET_MODE


async def _stop_sandbox(sandbox: SandboxServer, serving: asyncio.Task[None]) -> None:
    sandbox.request_stop()
    try:
        await asyncio.wait_for(serving, 10)
    except (TimeoutError, asyncio.CancelledError):
        serving.cancel()


async def run_dev(client: Client, settings: Settings, *, embedded: bool, out: Callable[[str], None] = print) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    real = uses_real_slack(settings)
    async with product_stack(
        client,
        settings,
        bot_port=settings.port,
        sandbox_port=None if real else SANDBOX_PORT,
        state_file=DEFAULT_STATE_FILE,
    ) as stack:
        if stack.sandbox:
            out(f"Slack sandbox:  {stack.sandbox.page_url}   (type /research <question> in #research)")
        else:
            where = "no public URL needed" if stack.bot_url == SOCKET_MODE else "point the app's request URLs here"
            out(f"Slack bot:      {stack.bot_url} (real Slack; {where})")
        if embedded:
            out(f"Temporal UI:    http://127.0.0.1:{DEFAULT_UI_PORT}")
        out("Ctrl-C stops everything.")
        await stop.wait()
    out("Stopped.")


async def run_demo(
    client: Client, settings: Settings, question: str, feedback: str, out: Callable[[str], None] = print
) -> str:
    """One whole run through the sandbox: command, draft, Approve with feedback, final report."""
    from researchbot.demo_driver import SandboxDriver

    demo = f"demo-{uuid.uuid4().hex[:8]}"  # its own queue and deployment: promoting it moves no other run
    settings = settings.model_copy(
        update={"research_task_queue": demo, "worker_deployment_name": f"researchbot-{demo}", "port": free_port()}
    )
    with tempfile.TemporaryDirectory() as folder:
        async with product_stack(
            client, settings, bot_port=settings.port, sandbox_port=free_port(), state_file=Path(folder) / "sandbox.json"
        ) as stack:
            assert stack.sandbox is not None
            driver = SandboxDriver(stack.sandbox.page_url)
            thread = await driver.run_once(client, question, feedback)
    out(thread)
    return thread
