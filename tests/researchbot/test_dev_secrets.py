"""`researchbot dev`'s stack with the sandbox: the bot and the sandbox share a bot token and a signing
secret made for each start (the operator's when set), and the bot answers only the sandbox: its own
loopback Host, no Origin, before any signature check."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from researchbot.dev import Stack, product_stack
from researchbot.sandbox_cmd import sandbox_credentials
from sandbox.signing import signed_headers
from tests.support.ports import free_port

OLD_PUBLIC_TOKEN, OLD_PUBLIC_SECRET = "xoxb-sandbox-token", "sandbox-signing-secret"
CHALLENGE = json.dumps({"type": "url_verification", "token": "t", "challenge": "c-42"}).encode()


def secrets_of(stack: Stack) -> tuple[str, str]:
    token, secret = stack.settings.slack_bot_token, stack.settings.slack_signing_secret
    assert token is not None and secret is not None
    return token.get_secret_value(), secret.get_secret_value()


async def answers_of_the_bot(bot_url: str, secret: str) -> dict[str, tuple[int, str]]:
    signed = signed_headers(secret, CHALLENGE, content_type="application/json")
    port = urlsplit(bot_url).port
    requests = {
        "the sandbox": signed,
        "a rebound Host": {**signed, "Host": f"evil.example:{port}"},
        "a page's Origin": {**signed, "Origin": "https://evil.example"},
        "the old public secret": signed_headers(OLD_PUBLIC_SECRET, CHALLENGE, content_type="application/json"),
    }
    async with httpx.AsyncClient(timeout=10) as http:
        answers = {name: await http.post(bot_url, content=CHALLENGE, headers=h) for name, h in requests.items()}
    return {name: (answer.status_code, answer.text) for name, answer in answers.items()}


async def test_each_start_has_its_own_secrets_and_the_bot_answers_only_the_sandbox(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    seen: list[tuple[str, str]] = []
    for start in ("first", "second"):  # the same state file: it pins nothing
        settings = Settings(
            _env_file=None,
            research_task_queue=f"dev-secrets-{tmp_path.name}-{start}",
            database_url=f"sqlite:///{tmp_path}/{start}.db",
        )
        async with product_stack(
            env.client, settings, bot_port=free_port(), sandbox_port=free_port(), state_file=tmp_path / "sandbox.json"
        ) as stack:
            assert stack.sandbox is not None
            token, secret = secrets_of(stack)
            assert stack.sandbox.workspace.bot_token == token and stack.sandbox.bot.signing_secret == secret
            worker_client = AsyncWebClient(token=token, base_url=stack.settings.slack_api_url, retry_handlers=[])
            assert (await worker_client.auth_test())["ok"] is True
            answers = await answers_of_the_bot(stack.bot_url, secret)
            seen.append((token, secret))
        assert answers["the sandbox"][0] == 200 and "c-42" in answers["the sandbox"][1]
        assert answers["a rebound Host"][0] == answers["a page's Origin"][0] == 403  # a valid signature or not
        assert "forbidden_host" in answers["a rebound Host"][1]
        assert "forbidden_origin" in answers["a page's Origin"][1]
        assert answers["the old public secret"][0] == 401
    (first_token, first_secret), (second_token, second_secret) = seen
    assert first_token != second_token and first_secret != second_secret
    assert OLD_PUBLIC_TOKEN not in (first_token, second_token) and first_token.startswith("xoxb-")


def test_the_operators_settings_win() -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token=SecretStr("xoxb-operator"),
        slack_signing_secret=SecretStr("operator-secret"),
        slack_app_token=SecretStr("xapp-operator"),
    )
    chosen = sandbox_credentials(settings)
    assert (chosen.bot_token, chosen.signing_secret, chosen.app_token) == (
        "xoxb-operator",
        "operator-secret",
        "xapp-operator",
    )
    unset = Settings(_env_file=None)
    assert sandbox_credentials(unset) != sandbox_credentials(unset)
