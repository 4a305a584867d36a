"""Which servers hand over a reply that starts inside `<think>`: read from llama-server's /props."""

from __future__ import annotations

from typing import Any

import pytest

from agent.providers.probe import Capabilities, _read_props

QWQ = ("{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n<think>\\n' }}\n{%- endif %}")
R1 = "{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
# Qwen3 (hybrid): the opening tag is only written, closed at once, when thinking is switched off.
QWEN3 = ("{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n    {%- if enable_thinking is "
         "defined and enable_thinking is false %}\n        {{- '<think>\\n\\n</think>\\n\\n' }}\n    {%- endif %}\n"
         "{%- endif %}")


def _props(template: str, reasoning_format: str | None) -> dict[str, Any]:
    params = {} if reasoning_format is None else {"reasoning_format": reasoning_format}
    return {"chat_template": template, "default_generation_settings": {"n_ctx": 4096, "params": params}}


@pytest.mark.parametrize(("template", "reasoning_format", "expected"), [
    (QWQ, "none", True),
    (R1, "none", True),
    (QWQ, None, True),  # an older build that does not say: the content is taken as raw
    (QWQ, "deepseek", False),  # llama-server takes the forced-open block out of the content itself
    (QWQ, "auto", False),
    (QWEN3, "none", False),
    ("{{ messages }}<|im_start|>assistant\n", "none", False),
])
def test_starts_in_reasoning(template: str, reasoning_format: str | None, expected: bool) -> None:
    caps = Capabilities()
    _read_props(_props(template, reasoning_format), caps)
    assert caps.starts_in_reasoning is expected
    assert caps.thinking is (True if "<think>" in template else None)
