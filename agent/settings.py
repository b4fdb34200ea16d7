"""The one settings class: environment variables (KEEL_*) over `keel.toml` over defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEEL_", toml_file="keel.toml", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".keel", description="data directory (KEEL_HOME)")
    autonomy: int = Field(3, ge=0, le=5, description="autonomy level 0 (manual) .. 5 (full)")
    tokens: str = Field("", description="bearer tokens as token=role,token=role (viewer, operator, approver)")
    slack_signing_secret: str = ""
    slack_webhook_url: str = ""
    # agent service and HTTP API
    queue_size: int = Field(16, ge=1, le=10_000, description="conversation turns admitted at once; more get 429")
    max_request_bytes: int = Field(65_536, ge=1024, description="largest accepted HTTP request body")
    step_limit: int = Field(8, ge=1, le=64, description="tool calls per turn before the agent answers")
    checkpoint_db: Path | None = Field(None, description="LangGraph checkpoint SQLite file (default $KEEL_HOME)")
    sim_tick_s: float = Field(2.0, gt=0, description="real seconds per simulated minute under `keel serve`")
    planner: str = Field("llama", description="planner backend passed to agent.planner.load_planner")
    planner_adapter: str = Field("default", description="planner adapter name")

    @field_validator("home", mode="before")
    @classmethod
    def _expand(cls, v: Any) -> Any:
        return Path(v).expanduser() if isinstance(v, str) else v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint_db or self.home / "checkpoints.sqlite"

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
