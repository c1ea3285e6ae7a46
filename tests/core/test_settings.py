"""Settings refuse what they cannot use, with a message naming the setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.runs import build_request
from core.settings import Settings

ONLINE = {"openai_base_url": "http://127.0.0.1:9/v1", "openai_api_key": "sk-test"}


@pytest.mark.parametrize("value", ["-0.5", "abc", "nan", "inf"])
def test_a_bad_price_is_refused_naming_the_setting(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PRICE_INPUT_PER_MTOK", value)
    monkeypatch.setenv("LLM_PRICE_OUTPUT_PER_MTOK", "0.6")
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)
    assert "LLM_PRICE_INPUT_PER_MTOK must be" in str(refused.value)


def test_one_price_without_the_other_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PRICE_OUTPUT_PER_MTOK", "0.6")
    monkeypatch.delenv("LLM_PRICE_INPUT_PER_MTOK", raising=False)
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)
    assert "set both LLM_PRICE_INPUT_PER_MTOK and LLM_PRICE_OUTPUT_PER_MTOK" in str(refused.value)


def test_prices_reach_the_request_of_a_run_on_a_real_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PRICE_INPUT_PER_MTOK", "0.15")
    monkeypatch.setenv("LLM_PRICE_OUTPUT_PER_MTOK", "0")
    request = build_request(Settings(_env_file=None, **ONLINE), "What is Temporal?", requested_by="U1")
    assert (request.prices.input_per_mtok, request.prices.output_per_mtok) == (0.15, 0.0)


def test_no_prices_or_the_offline_model_count_tokens_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLM_PRICE_INPUT_PER_MTOK", "LLM_PRICE_OUTPUT_PER_MTOK", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    unpriced = build_request(Settings(_env_file=None, **ONLINE), "What is Temporal?", requested_by="U1")
    assert unpriced.prices.input_per_mtok is None and unpriced.prices.output_per_mtok is None
    offline = Settings(_env_file=None, llm_price_input_per_mtok=1, llm_price_output_per_mtok=2)
    assert build_request(offline, "What is Temporal?", requested_by="U1").prices.input_per_mtok is None
