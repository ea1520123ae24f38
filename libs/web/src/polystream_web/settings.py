"""The settings every polystream HTTP API shares, on top of the consumer service's: where it
serves, its Redis (the look-aside cache), its per-client rate limits, the API key of its guarded
routes (required outside development) and how long ``/readyz`` waits for each dependency.

Both APIs are consumer services too (recsys-api consumes cache invalidations, shop-api's
``catalog`` command the product catalog), so this extends :class:`ConsumerServiceSettings`."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from polystream_common.settings import ConsumerServiceSettings, Environment, RedisSettings
from polystream_web.security import RateLimitSettings


class ApiServiceSettings(ConsumerServiceSettings):
    """Subclasses set ``env_prefix``, ``service_name`` and ``port`` (each API its own)."""

    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    redis: RedisSettings = RedisSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    api_key: SecretStr | None = Field(
        default=None,
        description="when set, the guarded routes (analytics, admin) want it in the X-API-Key"
        " header; required outside development",
    )
    readiness_timeout_s: float = Field(
        default=2.0, gt=0, description="how long /readyz waits for each dependency"
    )

    @model_validator(mode="after")
    def _api_key_outside_development(self) -> ApiServiceSettings:
        if self.environment is not Environment.DEVELOPMENT and self.api_key is None:
            prefix = self.model_config.get("env_prefix", "")
            raise ValueError(
                f"{prefix}API_KEY must be set in {self.environment.value}: the guarded routes"
                " are open without it"
            )
        return self


__all__ = ["ApiServiceSettings"]
