"""One way to reach Temporal: temporalio.envconfig settings plus the pydantic data converter.

TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE and the
TOML config file all work as the Temporal CLI documents them, so Temporal Cloud and self-hosted
clusters need configuration only.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core import tracing
from core.errors import ConfigError

DEFAULT_ADDRESS = "localhost:7233"


def connect_config() -> dict[str, Any]:
    try:
        config = dict(ClientConfig.load_client_connect_config())
    except Exception as error:  # envconfig raises plain errors for bad TOML or TLS files
        raise ConfigError(f"Temporal client settings are invalid: {error}") from error
    config.setdefault("target_host", DEFAULT_ADDRESS)
    return config


def runtime_with_metrics(bind_address: str) -> Runtime:
    """A Temporal runtime that serves Prometheus metrics at ``http://<bind_address>/metrics``."""
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))
    except Exception as error:  # the address is taken or cannot be bound
        raise ConfigError(
            f"METRICS_BIND_ADDRESS={bind_address} cannot serve metrics ({error}); pick a free host:port"
        ) from error


async def connect(config: dict[str, Any] | None = None, metrics_bind_address: str | None = None) -> Client:
    config = config or connect_config()
    if metrics_bind_address:
        config = {**config, "runtime": runtime_with_metrics(metrics_bind_address)}
    try:
        # The tracing interceptor (when OTEL_* ask for traces) goes to the worker built on this client too.
        return await Client.connect(
            **config, interceptors=tracing.interceptors(), data_converter=pydantic_data_converter
        )
    except Exception as error:
        raise ConfigError(
            f"cannot reach Temporal at {config['target_host']} ({error}); start it with "
            "`researchbot server` or set TEMPORAL_ADDRESS (and TEMPORAL_API_KEY for Temporal Cloud)"
        ) from error
