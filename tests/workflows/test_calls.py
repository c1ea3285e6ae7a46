"""The workflow's typed activity calls match the activities: one ``@activity.defn`` per name, same types."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from temporalio import activity

import activities
import workflows
from workflows import calls

Signature = tuple[tuple[Any, ...], Any]  # argument types, result type


def signature(fn: Callable[..., Any], *, skip_self: bool = False) -> Signature:
    """The positional argument types and the result type (keyword-only options of a call are not the activity's)."""
    hints = typing.get_type_hints(fn)
    positional = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is not p.KEYWORD_ONLY]
    params = positional[1 if skip_self else 0 :]
    return tuple(hints[name] for name in params), hints["return"]


def defined_activities() -> dict[str, list[tuple[str, Signature]]]:
    """Every ``@activity.defn`` in the activities package, by activity name."""
    found: dict[str, list[tuple[str, Signature]]] = defaultdict(list)
    for info in pkgutil.walk_packages(activities.__path__, "activities."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for cls in (c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == module.__name__):
            for attr in vars(cls).values():
                # The SDK's own reading of the decorator, as the worker registers it.
                if (defn := activity._Definition.from_callable(attr)) is not None:
                    assert defn.name is not None
                    found[defn.name].append((f"{cls.__qualname__}.{attr.__name__}", signature(attr, skip_self=True)))
    return found


def typed_calls() -> dict[str, Signature]:
    return {
        name: signature(fn)
        for name, fn in vars(calls).items()
        if inspect.iscoroutinefunction(fn) and fn.__module__ == calls.__name__
    }


def test_every_call_has_exactly_one_activity_with_its_types() -> None:
    defined = defined_activities()
    wrappers = typed_calls()
    assert set(wrappers) == set(defined)
    for name, wrapper in wrappers.items():
        assert len(defined[name]) == 1, f"{name} is defined by {[where for where, _ in defined[name]]}"
        where, implemented = defined[name][0]
        assert implemented == wrapper, f"{name}: the workflow calls {wrapper}, {where} takes {implemented}"


def test_each_call_uses_its_own_activity_name() -> None:
    """A wrapper is named after the activity it calls: the name constant it passes is its own name."""
    constants = {
        value: name for name, value in vars(workflows).items() if name.isupper() and name != "DEFAULT_TASK_QUEUE"
    }
    for name in typed_calls():
        assert f"({constants[name]}, " in inspect.getsource(getattr(calls, name)), name


def test_every_kind_of_call_has_a_schedule_to_close_bound() -> None:
    """Nothing outside (a page, a provider answering 429 for ever, a hung model) can hold a run: each
    kind of call ends within its bound (the essential posts' bound is set by the caller)."""
    configs = {name: value for name, value in vars(calls).items() if name.isupper() and isinstance(value, dict)}
    assert {"VERIFY", "LLM", "SEARCH_CONFIG", "READ", "PROGRESS", "STORE", "ESSENTIAL"} <= set(configs)
    unbounded = [name for name, config in configs.items() if "schedule_to_close_timeout" not in config]
    assert unbounded == ["ESSENTIAL"]
    assert calls.READ["schedule_to_close_timeout"].total_seconds() <= 120
