"""What `:checkhealth little_coder` asks the language server's own Python: its version, whether the
server package imports, whether the editor's settings are valid (judged by the server's own code), and
whether the model server answers and which models it lists. Reads {"root": ..., "settings": {...}} on
stdin, prints one JSON object on stdout. Runs with only the standard library until it knows the package is there."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

MINIMUM = (3, 11)


async def _model_server(settings: Any) -> dict[str, Any]:
    from agent.backend import ModelMemory, connect
    from agent.providers.base import ProviderError

    try:
        backend = await asyncio.wait_for(connect(settings, ModelMemory()), settings.connect_timeout * 3)
    except ProviderError as exc:
        return {"error": exc.user_message()}
    except TimeoutError:
        return {"error": f"no answer within {settings.connect_timeout * 3:.0f} s"}
    # A configured backend and model connect without asking the server anything: listing its models is
    # what proves something answers there.
    try:
        models = await asyncio.wait_for(backend.provider.list_models(), settings.connect_timeout * 3)
    except ProviderError as exc:
        return {"error": exc.user_message()}
    except TimeoutError:
        return {"error": f"{backend.base_url} did not list its models within {settings.connect_timeout * 3:.0f} s"}
    finally:
        await backend.provider.aclose()
    return {"backend": backend.name, "base_url": backend.base_url, "model": backend.model, "models": models}


def main() -> int:
    request = json.loads(sys.stdin.read() or "{}")
    report: dict[str, Any] = {
        "python": ".".join(str(part) for part in sys.version_info[:3]),
        "python_ok": sys.version_info[:2] >= MINIMUM,
        "executable": sys.executable,
    }
    if not report["python_ok"]:
        print(json.dumps(report))
        return 0
    try:
        from importlib.metadata import version

        from agent.settings import SettingsError
        from lc_lsp.settings import EditorSettings, settings_message
    except ImportError as exc:
        report["package_error"] = f"{type(exc).__name__}: {exc}"
        print(json.dumps(report))
        return 0
    try:
        report["package"] = version("little-coder-lsp")
    except Exception:  # a source checkout on PYTHONPATH has no distribution metadata
        report["package"] = "(source checkout)"
    editor = EditorSettings()
    editor.set_initialization_options(request.get("settings") or {})
    root = Path(request["root"]) if request.get("root") else None
    try:
        loaded = editor.resolve(root)
    except SettingsError as exc:
        report["settings_error"] = settings_message(exc)
        print(json.dumps(report))
        return 0
    settings = loaded.settings
    report["settings"] = settings.model_dump(include={"backend", "base_url", "model", "review", "max_turns"})
    if loaded.notice:
        report["settings_notice"] = loaded.notice
    report["model_server"] = asyncio.run(_model_server(settings))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
