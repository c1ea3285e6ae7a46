"""Each Web API method module keeps its own table; the server answers every method of every table, once."""

from __future__ import annotations

import pytest

from sandbox import assistant, canvases, files, methods, slack_api, streams
from sandbox.method_kit import joined


def test_the_server_answers_every_method_of_every_module() -> None:
    tables = [module.METHODS for module in (methods, streams, assistant, canvases, files)]
    assert all(table and table.items() <= slack_api.METHODS.items() for table in tables)
    assert len(slack_api.METHODS) == sum(len(table) for table in tables)


def test_a_method_in_two_tables_is_refused() -> None:
    with pytest.raises(ValueError, match=r"chat\.update"):
        joined(methods.METHODS, {"chat.update": methods.METHODS["chat.update"]})
