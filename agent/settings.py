"""Settings: one pydantic model, layered from a project file, the environment and arguments.

Precedence (lowest first): defaults < `.little-coder.toml` in the workspace < `LITTLE_CODER_*`
environment variables < explicit overrides (CLI flags, LSP settings). Values left `None` are filled
from the model's profile (agent/profiles.py) when the session starts. Secrets never live here: the
API key is read from the environment variable named by `api_key_env`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROJECT_FILE = ".little-coder.toml"
ENV_PREFIX = "LITTLE_CODER_"

Backend = Literal["auto", "ollama", "openai"]
BashPolicy = Literal["ask", "allowlist", "always", "never"]
ReviewMode = Literal["session", "each", "direct"]
TextTools = Literal["auto", "on", "off"]
PromptLayout = Literal["stable", "rewrite"]

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
DEFAULT_LLAMACPP_URL = "http://127.0.0.1:8080"


class SettingsError(ValueError):
    """An invalid setting. `field` names it the way the user wrote it."""

    def __init__(self, field: str, message: str, source: str = "") -> None:
        self.field = field
        self.source = source
        where = f" (from {source})" if source else ""
        super().__init__(f"invalid setting '{field}'{where}: {message}")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    backend: Backend = "auto"
    base_url: str | None = Field(None, description="Model server URL; None picks the backend default")
    model: str | None = Field(None, description="Model name; None asks the server for its first model")
    api_key_env: str = Field("LITTLE_CODER_API_KEY", description="Environment variable holding an API key")

    # Profile-backed values (None = from the model's profile).
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    context_size: int | None = Field(None, ge=512)
    thinking_budget: int | None = Field(None, ge=0, description="0 disables thinking")
    guidance_budget: int | None = Field(None, ge=0, description="tokens of cards + knowledge per call")
    max_output_tokens: int | None = Field(None, ge=16, description="num_predict / max_tokens per call")

    max_turns: int = Field(20, ge=1, le=500)
    finish_warning_turns: int = Field(4, ge=0, description="warn this many turns before the cap")
    max_corrections: int = Field(2, ge=0, le=10, description="consecutive corrective retries")
    loop_limit: int = Field(3, ge=2, description="identical failing calls before outcome 'stuck'")
    text_tools: TextTools = "auto"
    prompt_layout: PromptLayout = "stable"
    keep_alive: str | int = "30m"

    connect_timeout: float = Field(5.0, gt=0)
    stall_timeout: float = Field(300.0, gt=0, description="seconds without a byte before giving up")

    bash: BashPolicy = "allowlist"
    bash_allow: list[str] = Field(default_factory=list, description="extra allowed command names")
    bash_timeout: float = Field(120.0, gt=0)
    review: ReviewMode = "session"

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(self.api_key_env) or None


_FIELDS = set(Settings.model_fields)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in _FIELDS:
            continue  # other LITTLE_CODER_* variables (API keys, cache dirs) are not settings
        out[name] = _parse_env_value(name, raw)
    return out


def _parse_env_value(name: str, raw: str) -> Any:
    annotation = str(Settings.model_fields[name].annotation)
    if "list" in annotation:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw  # pydantic coerces strings to numbers and literals in lax mode


def _normalise_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    """Accept camelCase and kebab-case keys (editor settings, TOML) as well as snake_case."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        snake = "".join("_" + c.lower() if c.isupper() else c for c in key).replace("-", "_")
        out[snake] = value
    return out


def _check(values: dict[str, Any], source: str) -> None:
    for key in values:
        if key not in _FIELDS:
            raise SettingsError(key, f"unknown setting (known: {', '.join(sorted(_FIELDS))})", source)


def load_settings(
    workspace: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Layer the sources and validate once; the first invalid field raises SettingsError."""
    layers: list[tuple[str, dict[str, Any]]] = []
    if workspace is not None:
        path = Path(workspace) / PROJECT_FILE
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise SettingsError(PROJECT_FILE, f"not valid TOML: {exc}", str(path)) from exc
            table = data.get("little-coder", data)
            layers.append((str(path), _normalise_keys(table)))
    layers.append(("environment", _env_overrides(os.environ if environ is None else environ)))
    if overrides:
        layers.append(("arguments", _normalise_keys({k: v for k, v in overrides.items() if v is not None})))

    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for source, values in layers:
        _check(values, source)
        merged.update(values)
        origin.update(dict.fromkeys(values, source))
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        top = str(first["loc"][0]) if first["loc"] else ""
        raise SettingsError(field, first["msg"], origin.get(top, "")) from exc
