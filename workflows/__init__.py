"""Deterministic orchestration of research runs. Nothing in this package does I/O."""

DEFAULT_TASK_QUEUE = "research"
