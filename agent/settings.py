"""Settings: one pydantic model, layered from the user's config, a project file, the environment and arguments.

Precedence (lowest first): defaults < the user's config file < `.little-coder.toml` in the workspace <
`LITTLE_CODER_*` environment variables < explicit overrides (CLI flags, LSP settings). Values left
`None` are filled from the model's profile (agent/profiles.py) when the session starts. Secrets never
live here: the API key is read from the environment variable named by `api_key_env`.

Trust: a project file arrives with the repository, so whoever wrote the repository wrote it. The keys
that can send data somewhere or widen what commands may do (TRUST_REQUIRED) count from it only when
the user has trusted the folder: through `trusted_roots` in their own config file, or through the
editor's workspace trust. Otherwise they are dropped and `LoadedSettings.notice` names them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROJECT_FILE = ".little-coder.toml"
ENV_PREFIX = "LITTLE_CODER_"
# Where the user's own config file is when $XDG_CONFIG_HOME / ~/.config is not the place (tests).
USER_CONFIG_ENV = "LITTLE_CODER_CONFIG"
TRUSTED_ROOTS = "trusted_roots"

Backend = Literal["auto", "ollama", "openai"]
BashPolicy = Literal["ask", "allowlist", "always", "never"]
ReviewMode = Literal["session", "each", "direct"]
TextTools = Literal["auto", "on", "off"]
PromptLayout = Literal["kept", "stable", "rewrite"]
SandboxMode = Literal["on", "required", "off"]
NetworkAccess = Literal["none", "loopback", "host"]

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
DEFAULT_LLAMACPP_URL = "http://127.0.0.1:8080"
# The variables the original read for the same purpose; the `base_url` setting still wins over them.
OLLAMA_URL_ENV = "OLLAMA_BASE_URL"
LLAMACPP_URL_ENV = "LLAMACPP_BASE_URL"


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
    stop_when_stuck: bool = Field(True, description="end a session as 'stuck' when the loop detector fires")
    knowledge_from_instructions: bool = Field(
        True, description="score knowledge entries on the task plus the start of the project's instructions"
    )
    text_tools: TextTools = "auto"
    prompt_layout: PromptLayout = "kept"
    # -1 keeps the model loaded for good, as the original did: a runner unloaded between requests in the
    # middle of a benchmark degraded its results (its docs/benchmark-reproduction.md).
    keep_alive: str | int = -1

    connect_timeout: float = Field(5.0, gt=0)
    stall_timeout: float = Field(
        300.0, gt=0, description="seconds without model output (keep-alives do not count) before giving up"
    )

    bash: BashPolicy = "allowlist"
    bash_allow: list[str] = Field(default_factory=list, description="extra allowed command names")
    bash_timeout: float = Field(120.0, gt=0)
    review: ReviewMode = "session"

    # Containment of the commands the agent runs (agent/sandbox/). `on`: every command runs in the
    # sandbox, and where none can start every command needs the user's consent; `required`: no
    # sandbox, no commands; `off`: the user's explicit choice to run commands on the host.
    sandbox: SandboxMode = "on"
    network: NetworkAccess = Field("none", description="none, loopback (the sandbox's own) or host")
    sandbox_memory_mb: int = Field(4096, ge=64, description="data-segment limit per process (RLIMIT_DATA)")
    sandbox_processes: int = Field(512, ge=8, description="processes alive at once in one command")
    sandbox_file_size_mb: int = Field(2048, ge=1, description="largest file a command may write (RLIMIT_FSIZE)")
    sandbox_cpu_s: int = Field(900, ge=1, description="CPU seconds per process (RLIMIT_CPU)")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("keep_alive")
    @classmethod
    def _keep_alive(cls, value: str | int) -> str | int:
        # "-1" from an environment variable or a flag must reach Ollama as the number -1: as a string it
        # is parsed as a duration ("30m", "1h") and rejected.
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        return value

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(self.api_key_env) or None


_FIELDS = set(Settings.model_fields)


def default_server_urls(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(Ollama URL, llama.cpp URL) to use when no `base_url` is set: $OLLAMA_BASE_URL and
    $LLAMACPP_BASE_URL when they hold something, else the usual local ports. A value without a scheme
    ("localhost:11434", the form OLLAMA_HOST takes) gets http://."""
    env = os.environ if environ is None else environ
    return (_env_url(env, OLLAMA_URL_ENV) or DEFAULT_OLLAMA_URL,
            _env_url(env, LLAMACPP_URL_ENV) or DEFAULT_LLAMACPP_URL)


def _env_url(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    if not value:
        return None
    if "://" not in value:
        value = f"http://{value}"
    return value.rstrip("/")


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


# Keys a repository's own file may not set for itself: where requests go and with which key, and how
# far the commands the agent runs may reach. The user's config, environment and flags always may.
TRUST_REQUIRED: tuple[str, ...] = (
    "backend", "base_url", "api_key_env", "bash", "bash_allow", "review", "network", "sandbox",
    "sandbox_memory_mb", "sandbox_processes", "sandbox_file_size_mb", "sandbox_cpu_s",
)


@dataclass(frozen=True)
class LoadedSettings:
    """The settings, and what the trust check did to the project file on the way."""

    settings: Settings
    workspace: Path | None  # resolved
    project_file: Path | None  # the workspace's `.little-coder.toml`, when there is one
    trusted: bool  # whether the workspace's folder is trusted (by trusted_roots or the editor)
    ignored: tuple[str, ...]  # TRUST_REQUIRED keys the project file set, dropped as untrusted
    user_config: Path | None  # where the user's config file is (or would be)
    editor_trust: bool | None = None  # the editor's own verdict, when an editor gave one

    def how_to_trust(self) -> str:
        how = f"add \"{self.workspace}\" to {TRUSTED_ROOTS} in {self.user_config or 'your config file'}"
        return f"trust the workspace in your editor or {how}" if self.editor_trust is not None else how

    @property
    def notice(self) -> str | None:
        """One line for the user when keys were dropped: which, from where, and how to trust the folder."""
        if not self.ignored:
            return None
        return (f"little-coder: {self.project_file} sets {', '.join(self.ignored)}; ignored because this folder "
                f"is not trusted. To use them, {self.how_to_trust()}.")


def user_config_path(environ: Mapping[str, str]) -> Path | None:
    """The user's own config file: $LITTLE_CODER_CONFIG, else $XDG_CONFIG_HOME/little-coder/config.toml,
    else ~/.config/little-coder/config.toml; None when the environment names no home at all."""
    if explicit := environ.get(USER_CONFIG_ENV):
        return Path(explicit).expanduser()
    if xdg := environ.get("XDG_CONFIG_HOME"):
        return Path(xdg) / "little-coder" / "config.toml"
    if home := environ.get("HOME") or environ.get("USERPROFILE"):
        return Path(home) / ".config" / "little-coder" / "config.toml"
    return None


def _read_table(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(path.name, f"not valid TOML: {exc}", str(path)) from exc
    table = data.get("little-coder", data)
    return _normalise_keys(table) if isinstance(table, dict) else {}


def _trusted_roots(value: Any, source: str) -> list[Path]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(TRUSTED_ROOTS, "must be a list of folder paths", source)
    roots = [Path(item).expanduser() for item in value]
    for root in roots:
        if not root.is_absolute():
            raise SettingsError(TRUSTED_ROOTS, f"{str(root)!r} is not an absolute path", source)
    return [root.resolve() for root in roots]


def load_settings(
    workspace: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    workspace_trusted: bool | None = None,
) -> LoadedSettings:
    """Layer the sources and validate once; the first invalid field raises SettingsError.

    `workspace_trusted` is the editor's own trust in the workspace (None without an editor): either it
    or a matching `trusted_roots` entry lets the project file set the TRUST_REQUIRED keys."""
    env = os.environ if environ is None else environ
    layers: list[tuple[str, dict[str, Any]]] = []
    roots: list[Path] = []
    config = user_config_path(env)
    if config is not None and config.is_file():
        values = _read_table(config)
        if TRUSTED_ROOTS in values:
            roots = _trusted_roots(values.pop(TRUSTED_ROOTS), str(config))
        layers.append((str(config), values))

    root = Path(workspace).resolve() if workspace is not None else None
    project: Path | None = None
    # Trusted roots cover the folders inside them; both sides have their symlinks resolved.
    trusted = bool(workspace_trusted) or (root is not None and any(root.is_relative_to(r) for r in roots))
    ignored: tuple[str, ...] = ()
    if root is not None:
        path = root / PROJECT_FILE
        if path.is_file():
            project = path
            values = _read_table(path)
            if TRUSTED_ROOTS in values:
                raise SettingsError(TRUSTED_ROOTS, f"a project cannot trust itself; {TRUSTED_ROOTS} belongs in "
                                    f"{config or 'your own config file'}", str(path))
            if not trusted:
                ignored = tuple(key for key in TRUST_REQUIRED if key in values)
                values = {key: value for key, value in values.items() if key not in ignored}
            layers.append((str(path), values))
    layers.append(("environment", _env_overrides(env)))
    if overrides:
        layers.append(("arguments", _normalise_keys({k: v for k, v in overrides.items() if v is not None})))

    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for source, values in layers:
        _check(values, source)
        merged.update(values)
        origin.update(dict.fromkeys(values, source))
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        top = str(first["loc"][0]) if first["loc"] else ""
        raise SettingsError(field, first["msg"], origin.get(top, "")) from exc
    return LoadedSettings(settings=settings, workspace=root, project_file=project, trusted=trusted, ignored=ignored,
                          user_config=config, editor_trust=workspace_trusted)
