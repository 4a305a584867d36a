"""The `workspace/executeCommand` names the server registers, and the error a refused command raises.

Kept apart from lc_lsp/commands.py so that the code actions and the server's start-up can name the
commands without importing the agent behind them.
"""

from __future__ import annotations

from pygls.exceptions import JsonRpcException

IMPLEMENT = "littleCoder.implement"
ASK = "littleCoder.ask"
CANCEL = "littleCoder.cancel"
UNDO = "littleCoder.undo"
REVISE = "littleCoder.revise"
STATUS = "littleCoder.status"
REVIEW = "littleCoder.review"
TEST_SELECTION = "littleCoder.testSelection"
ALL = (IMPLEMENT, ASK, CANCEL, UNDO, REVISE, STATUS, REVIEW, TEST_SELECTION)


class CommandError(JsonRpcException):
    """A well-formed call that cannot be carried out (no such session, nothing to undo)."""

    CODE = -32603  # InternalError is what LSP clients show for a failed command
