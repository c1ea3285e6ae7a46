"""Activities declared here in workflows/, implemented in activities/, called by reference.

The layers run one way: activities/ import workflows/ (for the inputs and outputs), so the workflow cannot
name the methods that implement its activities. It names their declarations instead (workflows/calls.py):
a ``@declared(options)`` method carries the activity's name as history knows it, its input and result
types and its options. ``@implements(declaration)`` on the activity method registers it under the same
name and checks, when activities/ is imported, that it takes and returns the declared types.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio import activity, workflow

In = TypeVar("In")
Out = TypeVar("Out")
Fn = TypeVar("Fn", bound=Callable[..., Any])

_DECLARED = "__researchbot_declared__"
_IMPLEMENTS = "__researchbot_implements__"


@dataclass(frozen=True)
class Declared:
    name: str  # the activity's type in history: never change it for a run that may be in flight
    options: workflow.ActivityConfig
    where: str  # the declaration's qualified name, for messages


def declared(options: workflow.ActivityConfig, *, name: str | None = None) -> Callable[[Fn], Fn]:
    """Declares an activity the workflow calls, with the options every call uses. ``name`` (the method's
    name by default) is its type in history."""

    def declare(fn: Fn) -> Fn:
        activity_name = name or fn.__name__
        activity.defn(name=activity_name)(fn)  # so execute_activity_method knows its name and result type
        setattr(fn, _DECLARED, Declared(activity_name, options, fn.__qualname__))
        return fn

    return declare


def declaration(fn: Callable[..., Any]) -> Declared | None:
    """What ``fn`` declares, if it is a declaration."""
    found = getattr(fn, _DECLARED, None)
    return found if isinstance(found, Declared) else None


def implemented(fn: Callable[..., Any]) -> Declared | None:
    """The declaration ``fn`` implements, if it is marked ``@implements``."""
    found = getattr(fn, _IMPLEMENTS, None)
    return found if isinstance(found, Declared) else None


def _types(fn: Callable[..., Any]) -> tuple[tuple[Any, ...], Any]:
    """The argument types after ``self`` and the result type."""
    hints = typing.get_type_hints(fn)
    params = list(inspect.signature(fn).parameters)[1:]
    return tuple(hints.get(p) for p in params), hints.get("return")


def implements(declared_call: Callable[..., Any]) -> Callable[[Fn], Fn]:
    """Marks an activity method as the implementation of ``declared_call`` and registers it under the
    declared name. Raises TypeError at once if its argument or result types differ from the declaration's."""
    target = declaration(declared_call)
    if target is None:
        raise TypeError(f"{declared_call.__qualname__} is not a declaration (@declared in workflows/calls.py)")

    def mark(fn: Fn) -> Fn:
        wanted, got = _types(declared_call), _types(fn)
        is_async = inspect.iscoroutinefunction(fn)
        if got != wanted or not is_async:
            raise TypeError(
                f"{fn.__module__}.{fn.__qualname__} implements {target.where} ({target.name!r}) but takes"
                f" {_shown(got)}{'' if is_async else ', not async'}; the declaration takes {_shown(wanted)}"
            )
        activity.defn(name=target.name)(fn)
        setattr(fn, _IMPLEMENTS, target)
        return fn

    return mark


def _shown(types: tuple[tuple[Any, ...], Any]) -> str:
    args, result = types
    return f"({', '.join(_named(t) for t in args)}) -> {_named(result)}"


def _named(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) and not typing.get_args(hint) else str(hint)


async def call(
    declared_call: Callable[[Any, In], Awaitable[Out]], arg: In, *, options: workflow.ActivityConfig | None = None
) -> Out:
    """Runs a declared activity with its declared options, or with ``options`` instead (whole, not merged).
    The result is decoded as the declaration's result type. Workflow context only."""
    target = declaration(declared_call)
    if target is None:
        raise TypeError(f"{declared_call.__qualname__} is not a declaration (@declared in workflows/calls.py)")
    return await workflow.execute_activity_method(
        declared_call, arg, **(target.options if options is None else options)
    )
