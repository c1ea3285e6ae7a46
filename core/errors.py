"""Errors any layer may raise, with messages a person can act on."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(Exception):
    """A setting is missing or wrong. The message names the setting and how to fix it."""
