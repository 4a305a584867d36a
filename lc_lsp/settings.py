"""Editor settings → agent Settings.

Two editor sources feed `agent.settings.load_settings` as its highest layer: `initializationOptions`
(sent once at start) and the `littleCoder` section of `workspace/configuration` (pulled after
`initialized` and again on `workspace/didChangeConfiguration`; it wins over the former). Both may hold
a `littleCoder` object or the keys flat, in camelCase or snake_case. Unset editor settings arrive as
null and are dropped, so they never mask the project file or the environment.

Secrets are refused here: an API key only ever comes from the environment variable named by
`apiKeyEnv`, so it cannot end up in a settings file that gets committed or synced.

The editor's own workspace trust arrives beside the section, as `workspaceTrusted` at the top of
`initializationOptions` (VS Code's `workspace.isTrusted`; Neovim's `vim.secure.read` of the project
file). It decides, with the user's `trusted_roots`, whether the project file may set the keys in
agent.settings.TRUST_REQUIRED.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.settings import LoadedSettings, Settings, SettingsError, load_settings

SECTION = "littleCoder"
TRUST_KEY = "workspaceTrusted"
# A key named like a credential: apiKey, token, authToken, clientSecret, password, ... (snake_case form).
_SECRET_NAME = re.compile(r"(?:^|_)(?:api_?key|key|token|secret|password|credentials?)$")


class EditorSettings:
    """What the editor told us, and the agent Settings it resolves to for a workspace root."""

    def __init__(self) -> None:
        self._initial: dict[str, Any] = {}
        self._pulled: dict[str, Any] = {}
        self._reported: str | None = None
        self._noticed: set[str] = set()
        self._workspace_trusted: bool | None = None

    def set_initialization_options(self, options: Any) -> None:
        self._initial = section_of(options)
        trusted = options.get(TRUST_KEY) if isinstance(options, Mapping) else None
        # Only an explicit boolean counts; anything else is "the editor did not say".
        self._workspace_trusted = trusted if isinstance(trusted, bool) else None

    def set_pulled(self, value: Any) -> None:
        self._pulled = section_of(value)

    def overrides(self) -> dict[str, Any]:
        merged = {**self._initial, **self._pulled}
        return {key: value for key, value in merged.items() if value is not None}

    def resolve(self, root: Path | None) -> LoadedSettings:
        """Raises SettingsError naming the field the way the user wrote it."""
        overrides = self.overrides()
        for key in overrides:
            if is_secret_key(key):
                raise SettingsError(
                    key,
                    "secrets are not read from editor settings; put the key in an environment variable and "
                    "name it with apiKeyEnv (default LITTLE_CODER_API_KEY)",
                    "editor settings",
                )
        return load_settings(root, overrides, workspace_trusted=self._workspace_trusted)

    def problem(self, root: Path | None) -> str | None:
        """The message to show for invalid settings, or None. A message is returned only once per
        distinct problem, so re-pulling unchanged settings does not nag the user."""
        try:
            self.resolve(root)
        except SettingsError as exc:
            text = settings_message(exc)
            if text == self._reported:
                return None
            self._reported = text
            return text
        self._reported = None
        return None

    def notice(self, loaded: LoadedSettings) -> str | None:
        """The trust notice of `loaded` the first time this server sees that text, else None."""
        text = loaded.notice
        if text is None or text in self._noticed:
            return None
        self._noticed.add(text)
        return text


def section_of(options: Any) -> dict[str, Any]:
    """The littleCoder settings inside an editor payload: a `littleCoder` object, or the keys flat."""
    if not isinstance(options, Mapping):
        return {}
    inner = options.get(SECTION)
    if isinstance(inner, Mapping):
        return dict(inner)
    return {str(key): value for key, value in options.items() if key != TRUST_KEY}


def is_secret_key(key: str) -> bool:
    snake = "".join("_" + c.lower() if c.isupper() else c for c in key).replace("-", "_").lstrip("_")
    return snake not in Settings.model_fields and bool(_SECRET_NAME.search(snake))


def settings_message(exc: SettingsError) -> str:
    """One line for window/showMessage: which field, what is wrong, where to fix it."""
    field = camel(exc.field)
    prefix = f"invalid setting '{exc.field}'" + (f" (from {exc.source})" if exc.source else "") + ": "
    reason = str(exc).removeprefix(prefix)
    source = exc.source
    if source in ("arguments", "", "editor settings"):
        where = "fix it in your editor's littleCoder settings"
    elif source == "environment":
        where = f"fix the LITTLE_CODER_{exc.field.upper()} environment variable"
    else:
        where = f"fix it in {source}"
    return f"little-coder: invalid setting '{field}': {reason} — {where}"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
