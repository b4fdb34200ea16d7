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

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
