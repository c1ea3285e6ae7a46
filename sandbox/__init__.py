"""A local Slack: a workspace's state and a Web API server over it, for tests and local runs."""

from sandbox.slack_api import RATE_LIMITS, Call, RateLimit, SlackApiServer, create_app
from sandbox.state import Channel, User, Workspace

__all__ = ["RATE_LIMITS", "Call", "Channel", "RateLimit", "SlackApiServer", "User", "Workspace", "create_app"]
