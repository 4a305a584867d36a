"""Prompt-cache reuse on a real llama-server: our three prompt layouts, the original's among them.

llama-server keeps the KV cache of a slot's last prompt and evaluates only what follows the longest
common prefix with the next one (`timings.cache_n` reused, `timings.prompt_n` evaluated). All our
layouts keep the system prompt fixed; they differ in where the per-call guidance note goes
(agent/prompt.py): `kept` (the default) appends it to the history only when it changed, `stable`
sends a fresh one at the tail of every call, and `rewrite` is the original's placement, inside the
system prompt, so a change invalidates the whole cached conversation.

One fixed session is replayed through the real prompt pipeline (system_prompt, guidance selection,
keep_note, text_tools.to_text_mode when the model lacks native tools, build_messages) and the real
OpenAI provider, once per layout, on a fresh server each time (or an erased slot when --base-url is
given). The session is the bundled leap exercise: 7 tool turns whose results come from running our
real tools once on a temporary copy, so every layout sends exactly the same conversation. Every call
asks for one token (max_output_tokens = 1), so the time measured is prompt evaluation.

Per call >= 2 it reports, in the server's own tokens (its chat template and tokenizer via POST
/apply-template and /tokenize), two things apart:

- `growth`: what the conversation gained since the previous call (the new assistant turn and its tool
  results), measured on the prompt without any guidance, so it is the same for every layout;
- `guidance`: the size of this call's guidance note (the tokens it adds to the prompt), and whether it
  changed since the previous call;

then `evaluated` (the server's timings.prompt_n; `cache_n` is what it reused), the ratio evaluated /
(growth + guidance), and `ratio_to_added`: evaluated / (growth + the note only where it changed).
For calls whose guidance did not change, each layout reports the share of the note the server reused
(1 - max(0, evaluated - growth) / guidance). Goal, for the default layout (`kept`): every call >= 2
evaluates at most 1.1 x (growth + guidance), and most of an unchanged note is reused (share >= 0.5).

    python bench/kv_cache_reuse.py [--base-url URL | --chat-template NAME --cache-reuse N] [--profile NAME] [--out FILE]

Without --base-url it starts the embedded server (scripts/deps/llama.sh builds it) with one slot,
the given --cache-reuse (default 0: prefix reuse only, as a default llama-server does) and, with
--chat-template Qwen3.5-4B, the reference model's chat template instead of SmolLM2's (native tool
calls then go through the template as they would for Qwen3.5). The budgets (guidance per call) come
from --profile, by default the paper's model qwen3.5:9b; whether tools are native or text follows
what the server reports, as in a session.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent import text_tools
from agent.embedded import DEFAULT_CONTEXT, EmbeddedServer, chat_template
from agent.guidance import GuidanceLibrary, select
from agent.messages import AssistantMessage, Message, ToolCall, ToolMessage, UserMessage
from agent.profiles import Effective, effective
from agent.prompt import build_messages, guidance_block, keep_note, system_prompt
from agent.providers.base import ChatRequest, StreamEnd, ToolSpec
from agent.providers.openai_compat import OpenAICompatProvider, chat_body
from agent.providers.probe import Capabilities, probe
from agent.settings import PromptLayout, Settings
from agent.tools.base import ToolContext
from agent.tools.registry import default_tools
from agent.workspace import DiskWorkspace
from bench.support import own_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "leap"
TASK = "Implement is_leap in leap.py so that the tests in test_leap.py pass."
INSTRUCTIONS = ".docs/instructions.md"
GOAL_RATIO = 1.1
LAYOUTS: tuple[PromptLayout, ...] = ("kept", "stable", "rewrite")
DEFAULT_LAYOUT: PromptLayout = "kept"
GOAL_REUSED_SHARE = 0.5  # "most" of an unchanged note is reused
QUICK_TURNS = 3  # --quick: the first 4 calls (both of the session's unchanged-guidance calls included)

# The scripted agent: what it says and which call it makes, turn by turn. The first implementation
# misses the century rule, so the tests fail once and the session goes through a recovery.
WRONG = "    return year % 4 == 0"
RIGHT = "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)"
SCRIPT: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("I'll start with the project's instructions.", "Read", {"file_path": INSTRUCTIONS}),
    ("Now the stub I have to fill in.", "Read", {"file_path": "leap.py"}),
    ("And the tests it must pass.", "Read", {"file_path": "test_leap.py"}),
    ("A leap year is divisible by 4.", "Edit",
     {"file_path": "leap.py", "old_string": "    raise NotImplementedError", "new_string": WRONG}),
    ("Let me run the tests.", "Bash", {"command": "python -m pytest -q -p no:cacheprovider"}),
    ("The century rule is missing: divisible by 100 is not leap unless divisible by 400.", "Edit",
     {"file_path": "leap.py", "old_string": WRONG, "new_string": RIGHT}),
    ("Running the tests again.", "Bash", {"command": "python -m pytest -q -p no:cacheprovider"}),
)


@dataclass
class Turn:
    reply: AssistantMessage
    results: list[ToolMessage]
    read: list[str] = field(default_factory=list)  # paths this turn Read


async def record_session(workdir: Path) -> list[Turn]:
    """Run the script's calls with the real tools on a copy of the example, once: both layouts then
    replay these exact messages (pytest's timing line would differ between two live runs)."""
    shutil.copytree(EXAMPLE, workdir)
    tools = {tool.name: tool for tool in default_tools()}
    ctx = ToolContext(workspace=DiskWorkspace(workdir), settings=Settings.model_validate({"bash": "always"}))
    turns: list[Turn] = []
    for index, (text, name, arguments) in enumerate(SCRIPT):
        call = ToolCall(id=f"call_{index}", name=name, arguments=arguments)
        tool = tools[name]
        result = await tool.run(tool.parse(arguments), ctx)
        message = ToolMessage(tool_call_id=call.id, name=name, content=result.content, is_error=result.is_error)
        read = [arguments["file_path"]] if name == "Read" else []
        turns.append(Turn(AssistantMessage(content=text, tool_calls=(call,)), [message], read))
    return turns


@dataclass
class Call:
    messages: list[Message]
    guidance: str | None
    conversation: list[Message]  # the same call without its guidance note: what growth is measured on


def calls_for(layout: PromptLayout, turns: Sequence[Turn], specs: list[ToolSpec], config: Effective) -> list[Call]:
    """The message list of every model call of the session, built the way Session builds it."""
    library = GuidanceLibrary.bundled()
    system = system_prompt(specs, text_tools_block=text_tools.instructions(specs) if config.text_tools else None)
    history: list[Message] = [UserMessage(content=TASK, origin="task")]
    kept = list(history)  # layout `kept`: the same conversation with its notes in it
    read: set[str] = set()
    calls: list[Call] = []

    def shown(messages: list[Message]) -> list[Message]:
        return text_tools.to_text_mode(messages) if config.text_tools else messages

    for number in range(len(turns) + 1):
        if number:
            turn = turns[number - 1]
            history += [turn.reply, *turn.results]
            kept += [turn.reply, *turn.results]
            read.update(turn.read)
        selection = select(library, task=TASK, history=history, tool_names=[s.name for s in specs],
                           budget=config.guidance_budget)
        unread = [] if INSTRUCTIONS in read else [INSTRUCTIONS]
        guidance = guidance_block(selection, unread, first_turn=number == 0)
        bare = build_messages(system, shown(history), None, "stable")
        if layout == "kept":
            keep_note(kept, guidance)
            calls.append(Call(build_messages(system, shown(kept), None, layout), guidance, bare))
        else:
            calls.append(Call(build_messages(system, shown(history), guidance, layout), guidance, bare))
    return calls


def request_for(messages: list[Message], model: str, specs: list[ToolSpec], config: Effective) -> ChatRequest:
    return ChatRequest(model=model, messages=messages, tools=[] if config.text_tools else specs, think=False,
                       temperature=0.0, context_size=config.context_size, max_output_tokens=1)


async def prompt_tokens(client: httpx.AsyncClient, base_url: str, request: ChatRequest) -> list[int]:
    """The request's prompt in the server's own tokens: its chat template, then its tokenizer."""
    body = chat_body(request)
    body.pop("stream", None)
    body.pop("stream_options", None)
    templated = (await client.post(f"{base_url}/apply-template", json=body)).raise_for_status().json()
    tokenized = await client.post(f"{base_url}/tokenize",
                                  json={"content": templated["prompt"], "add_special": True, "parse_special": True})
    return [int(t) for t in tokenized.raise_for_status().json()["tokens"]]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class Sizes:
    """Per call, layout-independent: the conversation's growth and the guidance note's size."""
    growth: list[int]
    guidance: list[int]
    changed: list[bool]


async def sizes(base_url: str, model: str, turns: Sequence[Turn], specs: list[ToolSpec], config: Effective) -> Sizes:
    """Growth: tokens of call n's guidance-free prompt after the prefix it shares with call n-1's.
    Guidance: call n's stable prompt minus its guidance-free prompt (the note with its template wrapping)."""
    growth: list[int] = []
    guidance: list[int] = []
    changed: list[bool] = []
    previous: list[int] = []
    previous_note: str | None = None
    async with httpx.AsyncClient(timeout=60.0) as client:
        for call in calls_for("stable", turns, specs, config):
            bare = await prompt_tokens(client, base_url, request_for(call.conversation, model, specs, config))
            full = await prompt_tokens(client, base_url, request_for(call.messages, model, specs, config))
            growth.append(len(bare) - common_prefix(bare, previous))
            guidance.append(len(full) - len(bare))
            changed.append(call.guidance != previous_note)
            previous, previous_note = bare, call.guidance
    return Sizes(growth, guidance, changed)


async def measure(layout: PromptLayout, base_url: str, model: str, turns: Sequence[Turn], specs: list[ToolSpec],
                  config: Effective, size: Sizes) -> dict[str, Any]:
    provider = OpenAICompatProvider(base_url, connect_timeout=10.0, stall_timeout=600.0)
    rows: list[dict[str, Any]] = []
    try:
        for number, call in enumerate(calls_for(layout, turns, specs, config), start=1):
            request = request_for(call.messages, model, specs, config)
            started = time.monotonic()
            end: StreamEnd | None = None
            async for delta in provider.stream(request):
                if isinstance(delta, StreamEnd):
                    end = delta
            wall = time.monotonic() - started
            assert end is not None
            timings = end.usage.timings
            evaluated = int(timings["prompt_n"])
            growth, guidance = size.growth[number - 1], size.guidance[number - 1]
            row: dict[str, Any] = {
                "call": number,
                "growth": growth,
                "guidance": guidance,
                "guidance_changed": size.changed[number - 1],
                "evaluated": evaluated,
                "cache_n": int(timings.get("cache_n", 0)),
                "prompt_tokens": evaluated + int(timings.get("cache_n", 0)),
                "ratio": round(evaluated / max(growth + guidance, 1), 3),
                # Against what the call truly added: the growth, and the note only where it changed.
                "ratio_to_added": round(evaluated / max(growth + (guidance if size.changed[number - 1] else 0), 1), 3),
                "prompt_ms": round(float(timings["prompt_ms"]), 1),
                "wall_ms": round(wall * 1000, 1),
            }
            if number > 1 and not size.changed[number - 1] and guidance:
                row["guidance_reused_share"] = round(1 - min(max(evaluated - growth, 0), guidance) / guidance, 3)
            rows.append(row)
            print(f"[{layout}] call {number}: growth {growth}, guidance {guidance}"
                  f"{'' if size.changed[number - 1] else ' (unchanged)'}, evaluated {evaluated}, "
                  f"cache_n {row['cache_n']}, {row['prompt_ms']} ms", file=sys.stderr)
    finally:
        await provider.aclose()
    later = rows[1:]
    unchanged = [r["guidance_reused_share"] for r in later if "guidance_reused_share" in r]
    return {
        "calls": rows,
        "total_evaluated": sum(r["evaluated"] for r in rows),
        # What the layout costs in context: `kept` carries its superseded notes along.
        "prompt_tokens_last_call": rows[-1]["prompt_tokens"],
        "total_prompt_ms": round(sum(r["prompt_ms"] for r in rows), 1),
        "evaluated_calls_2_on": sum(r["evaluated"] for r in later),
        "growth_calls_2_on": sum(r["growth"] for r in later),
        "guidance_calls_2_on": sum(r["guidance"] for r in later),
        "prompt_ms_calls_2_on": round(sum(r["prompt_ms"] for r in later), 1),
        "max_ratio_calls_2_on": max((r["ratio"] for r in later), default=0.0),
        "max_ratio_to_added_calls_2_on": max((r["ratio_to_added"] for r in later), default=0.0),
        "unchanged_guidance_calls": len(unchanged),
        "unchanged_guidance_reused_share": round(sum(unchanged) / len(unchanged), 3) if unchanged else None,
    }


@dataclass
class Target:
    base_url: str
    model: str
    capabilities: Capabilities
    props: dict[str, Any]


async def identify(base_url: str) -> Target:
    async with httpx.AsyncClient(timeout=10.0) as client:
        models = (await client.get(f"{base_url}/v1/models")).raise_for_status().json()["data"]
        props = (await client.get(f"{base_url}/props")).raise_for_status().json()
    model = str(models[0]["id"])
    return Target(base_url, model, await probe("openai", base_url, model, timeout=10.0), props)


async def erase_slots(base_url: str, slots: int) -> bool:
    """Forget what an external server has cached, so the layout measured second gets no head start
    on its first call. llama-server allows it only when started with --slot-save-path; without it
    only call 1 of the second layout can profit (calls >= 2 reuse their own previous call either way)."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        for slot in range(slots):
            response = await client.post(f"{base_url}/slots/{slot}", params={"action": "erase"})
            if response.status_code >= 400:
                return False
    return True


def configure(target: Target, profile: str) -> Effective:
    """The profile's budgets, the server's window and tool support."""
    return effective(Settings.model_validate({}), profile, server_context=target.capabilities.context_size,
                     native_tools=target.capabilities.native_tools)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    specs = [tool.spec() for tool in default_tools()]
    with tempfile.TemporaryDirectory() as tmp:
        turns = await record_session(Path(tmp) / "leap")
    if args.quick:
        turns = turns[:QUICK_TURNS]
    cpu_started = own_cpu_seconds()
    layouts: dict[str, Any] = {}
    size: Sizes | None = None
    server: dict[str, Any] = {}
    setup: dict[str, Any] = {}
    erased: dict[str, bool] = {}
    for layout in LAYOUTS:
        embedded: EmbeddedServer | None = None
        if args.base_url:
            base_url = args.base_url.rstrip("/")
        else:
            template = None
            if args.chat_template:
                template = chat_template(args.chat_template)
                if template is None:
                    raise SystemExit(f"no chat template {args.chat_template!r} beside llama-server: run "
                                     "scripts/deps/llama.sh")
            embedded = EmbeddedServer.installed(context_size=args.context_size, slots=1, cache_reuse=args.cache_reuse,
                                                threads=args.threads, chat_template_file=template)
            base_url = await embedded.start()
        try:
            target = await identify(base_url)
            slots = int(target.props.get("total_slots", 1))
            if args.base_url:
                erased[layout] = await erase_slots(base_url, slots)
            config = configure(target, args.profile)
            if size is None:
                size = await sizes(base_url, target.model, turns, specs, config)
                server = {
                    "base_url": base_url if args.base_url else "embedded",
                    "build_info": target.props.get("build_info"),
                    "model": target.model,
                    "n_ctx": target.capabilities.context_size,
                    "total_slots": slots,
                    "cache_reuse": None if args.base_url else args.cache_reuse,
                    "chat_template": args.chat_template or "the model's own",
                    "started_fresh_per_layout": not args.base_url,
                    "command": embedded.command(embedded.port)[1:] if embedded else None,
                }
                setup = {
                    "calls": len(turns) + 1,
                    "profile": config.profile,
                    "text_tools": config.text_tools,
                    "guidance_budget": config.guidance_budget,
                    "quick": args.quick,
                    "guidance_tokens_per_call": size.guidance,
                    "growth_tokens_per_call": size.growth,
                    "guidance_changed_per_call": size.changed,
                    "max_output_tokens": 1,
                }
            layouts[layout] = await measure(layout, base_url, target.model, turns, specs, config, size)
        finally:
            if embedded is not None:
                await embedded.stop()
    if erased:
        server["slots_erased_before_each_layout"] = all(erased.values())
    kept, stable, rewrite = layouts["kept"], layouts["stable"], layouts["rewrite"]
    default = layouts[DEFAULT_LAYOUT]
    reused = default["unchanged_guidance_reused_share"]
    return {
        "bench": "kv_cache_reuse",
        "server": server,
        "session": setup,
        "default_layout": DEFAULT_LAYOUT,
        "layouts": layouts,
        "over_kept": {name: {
            "evaluated_calls_2_on": _ratio(other["evaluated_calls_2_on"], kept["evaluated_calls_2_on"]),
            "prompt_ms_calls_2_on": _ratio(other["prompt_ms_calls_2_on"], kept["prompt_ms_calls_2_on"]),
            "total_evaluated": _ratio(other["total_evaluated"], kept["total_evaluated"]),
            "total_prompt_ms": _ratio(other["total_prompt_ms"], kept["total_prompt_ms"]),
        } for name, other in (("stable", stable), ("rewrite", rewrite))},
        # Prompt evaluation runs in the server: its own prompt_ms above is the CPU that matters; this is
        # the bench's (templating, tokenizing and streaming requests).
        "bench_cpu_s": round(own_cpu_seconds() - cpu_started, 2),
        "goal": {
            "evaluated_at_most_x_growth_plus_guidance_on_calls_2_on": GOAL_RATIO,
            "max_ratio": default["max_ratio_calls_2_on"],
            "unchanged_guidance_reused_share_at_least": GOAL_REUSED_SHARE,
            "unchanged_guidance_reused_share": reused,
            "goal_met": default["max_ratio_calls_2_on"] <= GOAL_RATIO
            and (reused is None or reused >= GOAL_REUSED_SHARE),
        },
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="an already running llama-server (default: start the embedded one)")
    parser.add_argument("--context-size", type=int, default=DEFAULT_CONTEXT, help="embedded server's -c")
    parser.add_argument("--cache-reuse", type=int, default=0, help="embedded server's --cache-reuse (0: off)")
    parser.add_argument("--threads", type=int, help="embedded server's -t")
    parser.add_argument("--chat-template", help="embedded server's template, one llama.cpp ships (e.g. Qwen3.5-4B)")
    parser.add_argument("--profile", default="qwen3.5:9b", help="the profile whose budgets the session uses")
    parser.add_argument("--quick", action="store_true", help=f"only the first {QUICK_TURNS + 1} calls")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    # The scripted Bash calls run `python -m pytest`: this interpreter's, which has pytest.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    report = asyncio.run(run(args))
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0 if report["goal"]["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
