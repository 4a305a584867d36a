"""LcProtocol: two fixes to pygls 2.1.1's JSON-RPC handling, both on private methods (hence the exact pin).

1. `$/cancelRequest` for `workspace/executeCommand` only cancels pygls's outer future: the client gets
   -32800 but the command coroutine runs on. A command that keeps its request open (`"wait": true`)
   registers a canceller under its request id; we call it here so the session stops too.
2. pygls #621 (fixed upstream after 2.1.1): when the task awaiting a server→client request (applyEdit,
   showMessageRequest) is cancelled, the client's late reply hits a cancelled future, raises
   InvalidStateError and pygls shows the user "Error in server". Such replies are dropped instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lsprotocol.types import ResponseError
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import MsgId

log = logging.getLogger(__name__)


class LcProtocol(LanguageServerProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Request id → what stops the work behind it; owned by the protocol because ids are its business.
        self.request_cancellers: dict[MsgId, Callable[[], object]] = {}

    def _handle_cancel_notification(self, msg_id: MsgId) -> None:
        super()._handle_cancel_notification(msg_id)
        cancel = self.request_cancellers.pop(msg_id, None)
        if cancel is not None:
            log.info("request %s cancelled by the client: stopping its session", msg_id)
            cancel()

    def _handle_response(self, msg_id: MsgId, result: Any | None = None, error: ResponseError | None = None) -> None:
        future = self._request_futures.get(msg_id)
        if future is not None and future.cancelled():
            self._request_futures.pop(msg_id, None)
            log.debug("dropped a late reply to cancelled request %s", msg_id)
            return
        super()._handle_response(msg_id, result, error)
