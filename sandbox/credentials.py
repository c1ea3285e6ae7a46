"""The sandbox's secrets, made afresh for each start.

A fixed default (a bot token or signing secret every checkout knows) would let any page open in the
developer's browser post to the sandbox as the bot, or sign requests to the dev bot. So nothing here
is ever written down: a workspace, and ``researchbot dev``, get random ones unless the operator set them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

__all__ = ["Credentials", "new_app_token", "new_bot_token", "new_signing_secret"]


def _random() -> str:
    # token_urlsafe's "_" becomes "-": the logs redact Slack-token shapes, which allow only [A-Za-z0-9-].
    return secrets.token_urlsafe(32).replace("_", "-")


def new_bot_token() -> str:
    return f"xoxb-{_random()}"


def new_app_token() -> str:
    return f"xapp-1-{_random()}"


def new_signing_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Credentials:
    """What the sandbox and the bot it talks to must share: the Web API's tokens and the signing secret."""

    bot_token: str
    signing_secret: str
    app_token: str

    @classmethod
    def fresh(cls) -> Credentials:
        return cls(bot_token=new_bot_token(), signing_secret=new_signing_secret(), app_token=new_app_token())
