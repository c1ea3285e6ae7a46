"""The modals people have open on the page: a stack per person (views.push adds to it), the top one
shown, with the errors the bot last answered for it.

The Workspace keeps the views themselves (views.open, views.update, views.push store them there);
this keeps who has which open and in what order, from the hub's ``view_opened`` events.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from sandbox.events import Event, EventHub
from sandbox.state import Workspace

__all__ = ["Modals"]


class Modals:
    def __init__(self, workspace: Workspace, hub: EventHub) -> None:
        self.workspace, self.hub = workspace, hub
        self._lock = threading.Lock()
        self._stacks: dict[str, list[str]] = {}  # user -> open view ids, the top one last
        self._errors: dict[str, dict[str, str]] = {}  # view id -> {block_id: error}
        hub.add_listener(self._track)

    def _track(self, event: Event) -> None:
        if event["type"] == "view_opened":
            view = event["view"]
            with self._lock:
                stack = self._stacks.setdefault(view["user"], [])
                if view["id"] not in stack:
                    stack.append(view["id"])

    def shown(self, user_id: str) -> dict[str, Any] | None:
        """The modal ``user_id`` sees (the top of their stack), with the errors it shows."""
        with self._lock:
            stack = list(self._stacks.get(user_id, []))
        with self.workspace.lock:
            while stack and stack[-1] not in self.workspace.views:
                stack.pop()
            if not stack:
                return None
            view = copy.deepcopy(self.workspace.views[stack[-1]])
        with self._lock:
            view["errors"] = dict(self._errors.get(view["id"], {}))
        view["stack_depth"] = len(stack)
        return view

    def show_errors(self, user_id: str, view_id: str, errors: dict[str, str]) -> None:
        """The bot answered ``response_action: errors``: show them under their inputs."""
        with self._lock:
            self._errors[view_id] = errors
        self.hub.publish({"type": "view_errors", "view": {"id": view_id, "user": user_id}})

    def clear_errors(self, view_id: str) -> None:
        with self._lock:
            self._errors.pop(view_id, None)

    def close(self, user_id: str, view_id: str, *, everything: bool = False) -> None:
        """Close ``view_id`` (or, for ``response_action: clear``, the whole stack)."""
        with self._lock:
            stack = self._stacks.get(user_id, [])
            closed = list(stack) if everything else [v for v in stack if v == view_id]
            self._stacks[user_id] = [] if everything else [v for v in stack if v != view_id]
            for closed_id in closed:
                self._errors.pop(closed_id, None)
        for closed_id in closed:
            self.hub.publish({"type": "view_closed", "view": {"id": closed_id, "user": user_id}})
