"""Session: one agent run, as an async stream of events.

    session = Session(task, workspace, settings)
    async for event in session.run():
        ...

The loop, per turn: pick guidance for this call, fit the context, call the model (thinking budget
inside), recover tool calls written as text, let the quality monitor judge the reply, then run the
calls one after another and append each result. It stops when the model answers without a tool call,
at the turn cap, on cancel, on error, or stuck: when the loop detector says so, or when the model still
calls a tool that does not exist after its corrections. Every observable goes into the final
`SessionFinished` event.

Cancellation: cancelling the task that iterates `run()` closes the HTTP stream and kills running
commands at once (the final record is still available as `session.result`); `session.cancel()` does the
same and lets `run()` yield the final event itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError

from agent import repair, text_tools
from agent import tokens
from agent.backend import Backend, ModelMemory, connect
from agent.context import ContextAccountant
from agent.discovery import discover
from agent.events import (
    CapWarning,
    ContextCompacted,
    Counters,
    Event,
    GuidanceItem,
    GuidanceSelected,
    Notice,
    QualityCorrection,
    SessionFinished,
    SessionStarted,
    ToolCallFinished,
    ToolCallRepaired,
    ToolCallStarted,
    TurnFinished,
    TurnStarted,
    Usage,
    WriteGuardFired,
)
from agent.fence import fence
from agent.guidance import GuidanceLibrary, Selection, select
from agent.messages import AssistantMessage, Message, ToolCall, ToolMessage, UserMessage
from agent.model_call import CallResult, call_model
from agent.monitor import QualityMonitor, Verdict
from agent.prompt import PROMPT_VERSION, build_messages, guidance_block, keep_note, system_prompt
from agent.providers.base import ChatRequest, ProviderError
from agent.sandbox import containment
from agent.settings import Settings
from agent.tools.base import Tool, ToolContext, ToolResult, validation_message
from agent.tools.registry import default_tools
from agent.workspace import Workspace, WorkspaceError

log = logging.getLogger(__name__)

INSTRUCTIONS_SCORING_CHARS = 4000

TOO_DEEP = (
    "Your tool call could not be used: its arguments are JSON nested too deeply (more than "
    f"{repair.MAX_ARGUMENT_NESTING} levels of lists or objects). Arguments are one flat JSON object of "
    "the tool's parameters, such as " '{"file_path": "src/app.py"}. Send the call again that way.'
)

CAP_WARNING = (
    "Only {left} turns remain before this session stops. Finish now: make the remaining edit, run the "
    "tests once if you have not, and then reply with a short summary and no tool call."
)


class Session:
    def __init__(
        self,
        task: str,
        workspace: Workspace,
        settings: Settings,
        *,
        memory: ModelMemory | None = None,
        tools: Sequence[Tool] | None = None,
        history: Sequence[Message] = (),
        confirm: Callable[[str], Awaitable[bool]] | None = None,
        session_id: str | None = None,
        task_origin: str = "task",
    ) -> None:
        self.id = session_id or uuid.uuid4().hex[:12]
        self.task = task
        self.task_origin = task_origin  # "revise" when the task carries the user's rejections
        self.workspace = workspace
        self.settings = settings
        self.memory = memory if memory is not None else ModelMemory()
        self.tools = {t.name: t for t in (tools if tools is not None else default_tools())}
        # Earlier conversation to continue (benchmark attempt 2, `revise`): kept verbatim as the prefix.
        self.history: list[Message] = list(history)
        self.ctx = ToolContext(workspace=workspace, settings=settings, confirm=confirm)
        self.result: SessionFinished | None = None
        self.backend: Backend | None = None
        self._counters = Counters()
        self._usage = Usage()
        self._tool_counts: Counter[str] = Counter()
        self._turn = 0
        self._final_text = ""
        self._started = 0.0
        self._cancel_requested = False
        self._runner: asyncio.Task[object] | None = None
        self._call_ids: set[str] = {
            c.id for m in self.history if isinstance(m, AssistantMessage) for c in m.tool_calls
        }

    # --- public ---------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop the session from outside the iterating task; run() then yields the final event."""
        self._cancel_requested = True
        if self._runner is not None and not self._runner.done():
            self._runner.cancel()

    async def run(self) -> AsyncIterator[Event]:
        self._started = time.monotonic()
        self._runner = asyncio.current_task()
        try:
            async for event in self._run():
                yield event
        except asyncio.CancelledError:
            final = self._finish("cancelled", "cancelled by the user")
            if not self._cancel_requested:
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            yield final
        except ProviderError as exc:
            yield self._finish("error", exc.user_message())
        except Exception as exc:  # a bug of ours must still end the session cleanly
            log.exception("session %s failed", self.id)
            yield self._finish("error", f"internal error: {type(exc).__name__}: {exc}")
        finally:
            if self.backend is not None:
                await self.backend.provider.aclose()

    # --- the loop -------------------------------------------------------------------------------

    async def _run(self) -> AsyncIterator[Event]:
        settings = self.settings
        # Three waits before the first request, started together: the tokenizer (~0.2 s of CPU, once per
        # process), the trial sandbox (a child process; only a session that may run Bash asks) and the
        # server's probe (network). Threads, so none of them holds up the event loop.
        encoding = asyncio.ensure_future(asyncio.to_thread(tokens.encoding))
        contained = asyncio.ensure_future(asyncio.to_thread(containment, settings)) if "Bash" in self.tools else None
        try:
            self.backend = backend = await connect(settings, self.memory)
            uncontained = (await contained).notice() if contained is not None else None
            await encoding
        finally:
            for waiting in (encoding, contained):
                if waiting is not None:
                    _abandon(waiting)
        config = backend.config
        text_mode = config.text_tools
        self._counters.text_tool_mode = text_mode
        yield SessionStarted(
            session_id=self.id,
            task=self.task,
            workspace=str(self.workspace.root),
            backend=backend.name,
            base_url=backend.base_url,
            model=backend.model,
            max_turns=settings.max_turns,
            text_tools=text_mode,
            prompt_version=PROMPT_VERSION,
            prompt_layout=settings.prompt_layout,
        )
        if uncontained:
            yield Notice(session_id=self.id, message=uncontained)  # said once, at the start
        specs = [t.spec() for t in self.tools.values()]
        system = system_prompt(specs, text_tools_block=text_tools.instructions(specs) if text_mode else None)
        library = GuidanceLibrary.bundled()
        discovered = await discover(self.workspace)
        self._counters.discovery_hinted = bool(discovered)
        # A task line ("implement exercise leap") rarely names the technique; the spec's start does.
        excerpt = await self._instructions_excerpt(discovered) if settings.knowledge_from_instructions else ""
        guidance_topic = self.task + excerpt
        accountant = ContextAccountant(config.context_size, reserve=config.max_output_tokens)
        monitor = QualityMonitor(
            {name: tool.Input for name, tool in self.tools.items()},
            max_corrections=config.max_corrections,
            loop_limit=settings.loop_limit,
        )
        self.history.append(UserMessage(content=self.task, origin=self.task_origin))
        first_turn_index = len(self.history) - 1
        cap = settings.max_turns
        warn_at = cap - settings.finish_warning_turns if 0 < settings.finish_warning_turns < cap - 1 else None
        requests_built = 0

        while True:
            if self._turn >= cap:
                self._counters.cap_hits += 1
                yield self._finish("turn_cap", f"stopped after {cap} turns (the turn cap)")
                return
            self._turn += 1
            turn = self._turn
            yield TurnStarted(session_id=self.id, turn=turn, cap=cap)
            if warn_at is not None and turn == warn_at:
                self._counters.cap_warnings += 1
                self.history.append(UserMessage(content=CAP_WARNING.format(left=cap - turn + 1), origin="cap_warning"))
                yield CapWarning(session_id=self.id, turn=turn, cap=cap)

            selection = select(
                library,
                task=guidance_topic,
                history=self.history[first_turn_index:],
                tool_names=list(self.tools),
                budget=config.guidance_budget,
            )
            guidance = guidance_block(selection, self._unread(discovered), first_turn=turn == 1)
            unchanged = False
            if settings.prompt_layout == "kept":
                # An unchanged note stays where it is, in the cached prefix.
                unchanged = guidance is not None and keep_note(self.history, guidance) is None
                guidance = None
            fit = accountant.fit(self.history, system=system, specs=[] if text_mode else specs,
                                 guidance=guidance, turn=turn)
            if fit.overflow:
                yield self._finish("error", f"the conversation no longer fits the {config.context_size}-token "
                                   "context window, even compacted; raise context_size or split the task")
                return
            if fit.compacted:
                self.history = list(fit.history)
                self._counters.compactions += 1
                yield ContextCompacted(
                    session_id=self.id, turn=turn, tokens_before=fit.tokens_before, tokens_after=fit.tokens_after,
                    snipped_results=fit.snipped_results, dropped_messages=fit.dropped_messages,
                )
            history = text_tools.to_text_mode(self.history) if text_mode else self.history
            requests_built += 1
            yield self._guidance_event(selection, turn, requests_built, config.guidance_budget, unchanged)
            request = ChatRequest(
                model=backend.model,
                messages=build_messages(system, history, guidance, settings.prompt_layout),
                tools=[] if text_mode else specs,
                # A model that cannot think gets no thinking field at all (None): Ollama answers think:true
                # with a 400 for it, and some OpenAI-compatible servers reject chat_template_kwargs.
                think=config.thinking_budget > 0 if backend.thinks else None,
                temperature=config.temperature,
                context_size=config.context_size,
                max_output_tokens=config.max_output_tokens,
                keep_alive=settings.keep_alive if backend.name == "ollama" else None,
            )
            # The client meters thinking unless the server enforces a budget itself (llama.cpp --reasoning-budget).
            metered = config.thinking_budget > 0 and not backend.capabilities.native_reasoning_budget
            budget = config.thinking_budget if metered else None
            results: list[CallResult] = []
            try:
                async for event in call_model(backend.provider, request, budget=budget, turn=turn,
                                              session_id=self.id, result=results,
                                              starts_in_reasoning=backend.capabilities.starts_in_reasoning):
                    yield event
            except ProviderError as exc:
                if exc.kind == "thinking_unsupported" and request.think is not None:
                    # The probe said (or did not say) otherwise; redo the turn without thinking, for the
                    # rest of this session and this host's later sessions.
                    backend.thinking_refused = True
                    self.memory.no_thinking.add(ModelMemory.key(backend.base_url, backend.model))
                    self._turn -= 1
                    yield Notice(session_id=self.id, message=f"{backend.model} does not accept thinking on this "
                                 "server: continuing without thinking")
                    continue
                if exc.kind != "tools_unsupported" or text_mode:
                    raise
                # The server refused native tools: switch this session (and this host's memory of the
                # model) to text-tool mode and redo the turn.
                text_mode = True
                self._counters.text_tool_mode = True
                self.memory.no_native_tools.add(ModelMemory.key(backend.base_url, backend.model))
                system = system_prompt(specs, text_tools_block=text_tools.instructions(specs))
                self._turn -= 1
                yield Notice(session_id=self.id, message=f"{backend.model} does not accept native tool calls: "
                             "switched to text tool calls")
                continue
            except RecursionError:  # tool-call arguments nested past what the JSON parser can read
                for event in self._too_deep(turn, Usage()):
                    yield event
                continue
            call = results[0]
            self._usage.add(call.usage)
            if call.budget_hit is not None:
                self._counters.thinking_budget_fires += 1
            if call.usage.prompt_tokens and not call.usage.estimated:
                accountant.calibrate(accountant.measure(request.messages, request.tools), call.usage.prompt_tokens)

            try:
                reply, repaired = self._recover_calls(call.reply, turn)
                readable = not any(repair.nests_deeper(c.arguments) for c in reply.tool_calls)
            except RecursionError:  # parsed, but too deep to repair
                readable = False
            if not readable:
                for event in self._too_deep(turn, call.usage):
                    yield event
                continue
            for event in repaired:
                yield event
            verdict = monitor.check(reply)
            if not verdict.ok:
                self._counters.corrections += 1
                self._bump_reason(verdict.reason or "other")
                yield QualityCorrection(session_id=self.id, turn=turn, reason=verdict.reason or "other",
                                        detail=verdict.detail)
                self._append_correction(reply, verdict)
                yield TurnFinished(session_id=self.id, turn=turn, usage=call.usage, tool_calls=0)
                continue
            if verdict.accepted and verdict.reason == "unknown_tool":
                # The corrections are spent and the model still calls a tool that does not exist: the
                # call cannot run and the reply is no answer. "stuck", like the loop detector: the model
                # cannot go on (not "done": nothing was finished; not "error": nothing of ours failed).
                yield TurnFinished(session_id=self.id, turn=turn, usage=call.usage, tool_calls=0)
                yield self._finish("stuck", f"the model kept calling tools that do not exist after "
                                   f"{config.max_corrections} corrections: {verdict.detail}")
                return
            if verdict.accepted:
                yield QualityCorrection(session_id=self.id, turn=turn, reason=verdict.reason or "other",
                                        detail=verdict.detail, accepted=True)
            self.history.append(reply)
            if not reply.tool_calls:
                self._final_text = reply.content
                yield TurnFinished(session_id=self.id, turn=turn, usage=call.usage, tool_calls=0)
                yield self._finish("done", "")
                return
            stuck = False
            for tool_call in reply.tool_calls:
                self._tool_counts[tool_call.name] += 1
                yield ToolCallStarted(session_id=self.id, call_id=tool_call.id, name=tool_call.name,
                                      arguments=tool_call.arguments, turn=turn)
                started = time.monotonic()
                result = await self._run_tool(tool_call)
                for event in self._account(tool_call, result, turn, monitor, time.monotonic() - started):
                    yield event
                stuck = monitor.record_result(tool_call, result.is_error, result.content) or stuck
            yield TurnFinished(session_id=self.id, turn=turn, usage=call.usage, tool_calls=len(reply.tool_calls))
            if stuck and settings.stop_when_stuck:
                yield self._finish("stuck", monitor.stuck_detail or "the same failing call kept repeating")
                return

    # --- pieces of a turn -----------------------------------------------------------------------

    def _recover_calls(self, reply: AssistantMessage, turn: int) -> tuple[AssistantMessage, list[Event]]:
        """Tool calls written as text (or with broken native JSON) become real calls."""
        events: list[Event] = []
        calls = list(reply.tool_calls)
        content = reply.content
        if not calls and content:
            found = repair.find_text_calls(content, list(self.tools))
            if found:
                content = repair.strip_calls(content, found)
                for i, f in enumerate(found):
                    calls.append(ToolCall(id=f"call_text_{turn}_{i}", name=f.name, arguments=f.arguments,
                                          raw_arguments=f.raw_arguments))
                    events.append(ToolCallRepaired(session_id=self.id, turn=turn, name=f.name, source=f.source,
                                                   fixes=list(f.fixes)))
        fixed: list[ToolCall] = []
        for call in calls:
            if call.id in self._call_ids:  # servers reuse ids like call_0 every turn; pairing needs unique ones
                call = call.model_copy(update={"id": f"{call.id}_t{turn}_{len(self._call_ids)}"})
            self._call_ids.add(call.id)
            tool = self.tools.get(call.name)
            if tool is None:
                fixed.append(call)
                continue
            raw = call.raw_arguments if call.raw_arguments is not None else call.arguments
            arguments, fixes = repair.repair_arguments(raw, tool.spec().parameters)
            if arguments is not None and fixes:
                call = ToolCall(id=call.id, name=call.name, arguments=arguments)
                events.append(ToolCallRepaired(session_id=self.id, turn=turn, name=call.name,
                                               source="native_arguments", fixes=list(fixes)))
            fixed.append(call)
        self._counters.repairs += sum(isinstance(e, ToolCallRepaired) for e in events)
        return reply.model_copy(update={"content": content, "tool_calls": tuple(fixed)}), events

    def _guidance_event(self, selection: Selection, turn: int, call: int, budget: int,
                        unchanged: bool) -> GuidanceSelected:
        self._counters.guidance_tokens += selection.tokens
        return GuidanceSelected(
            session_id=self.id, turn=turn, call=call, tokens=selection.tokens, budget=budget, unchanged=unchanged,
            cards=[GuidanceItem(name=c.name, tokens=c.section_tokens) for c in selection.cards],
            knowledge=[GuidanceItem(name=k.name, tokens=k.section_tokens) for k in selection.knowledge],
        )

    def _too_deep(self, turn: int, usage: Usage) -> list[Event]:
        """Drop a reply whose arguments are nested too deeply to handle and tell the model why. Its
        calls stay out of history: serialising them for the next request would fail the same way."""
        self._counters.corrections += 1
        self._bump_reason("malformed_arguments")
        self.history.append(UserMessage(content=TOO_DEEP, origin="correction"))
        return [QualityCorrection(session_id=self.id, turn=turn, reason="malformed_arguments",
                                  detail="tool-call arguments nested too deeply to read"),
                TurnFinished(session_id=self.id, turn=turn, usage=usage, tool_calls=0)]

    def _append_correction(self, reply: AssistantMessage, verdict: Verdict) -> None:
        """Tell the model what was wrong. A reply with calls keeps its calls, each answered by the
        correction as an error result, so call/result pairs stay intact; an empty reply gets a user
        message instead (empty assistant turns confuse some chat templates)."""
        text = verdict.correction or verdict.detail
        if reply.tool_calls:
            self.history.append(reply)
            for call in reply.tool_calls:
                self.history.append(ToolMessage(tool_call_id=call.id, name=call.name, content=text, is_error=True))
        else:
            self.history.append(UserMessage(content=text, origin="correction"))

    def _account(self, call: ToolCall, result: ToolResult, turn: int, monitor: QualityMonitor,
                 elapsed: float) -> list[Event]:
        """Record a tool result in history and counters; the events that report it."""
        events: list[Event] = []
        if result.is_error:
            self._counters.tool_errors += 1
        if result.guard == "write_guard":
            self._counters.write_guard_fires += 1
            path = result.path or str(call.arguments.get("file_path", ""))
            events.append(WriteGuardFired(session_id=self.id, turn=turn, path=path))
        elif result.guard == "path_refused":
            self._counters.path_refusals += 1
        elif result.guard == "bash_refused":
            self._counters.bash_refusals += 1
        if not result.is_error and call.name in ("Write", "Edit", "Bash"):
            # A successful command may have changed files too (formatters, generators): re-running the
            # tests afterwards is progress, not a loop.
            monitor.note_workspace_change()
        # A file that was read is fenced as that file; everything else a tool returns as its output.
        shown = result.path if call.name == "Read" and not result.is_error else None
        self.history.append(ToolMessage(tool_call_id=call.id, name=call.name, is_error=result.is_error,
                                        content=fence(result.content, tool=call.name, path=shown)))
        events.append(ToolCallFinished(session_id=self.id, call_id=call.id, name=call.name, ok=not result.is_error,
                                       summary=result.summary or call.name, path=result.path,
                                       duration_s=round(elapsed, 4)))
        return events

    async def _run_tool(self, call: ToolCall) -> ToolResult:
        tool = self.tools[call.name]  # the loop ends the session before running an unknown name
        try:
            args = tool.parse(call.arguments)
        except ValidationError as exc:
            return ToolResult(validation_message(tool.name, exc), is_error=True, summary=f"{tool.name}: bad arguments")
        return await tool.run(args, self.ctx)

    async def _instructions_excerpt(self, discovered: list[str]) -> str:
        """The start of the project's instruction files, used only to pick knowledge entries: a first
        attempt's task line ("implement exercise leap") rarely names the algorithm, the spec does."""
        parts: list[str] = []
        for path in discovered[:2]:
            try:
                parts.append((await self.workspace.read_text(path))[:INSTRUCTIONS_SCORING_CHARS])
            except WorkspaceError:
                continue
        return "\n" + "\n".join(parts) if parts else ""

    def _unread(self, discovered: list[str]) -> list[str]:
        return [p for p in discovered if p not in self.ctx.read_paths]

    def _bump_reason(self, reason: str) -> None:
        by = self._counters.corrections_by_reason
        by[reason] = by.get(reason, 0) + 1

    def _finish(self, outcome: str, message: str) -> SessionFinished:
        if self.result is not None:
            return self.result
        self.result = SessionFinished(
            session_id=self.id,
            outcome=outcome,  # type: ignore[arg-type]
            message=message,
            turns=self._turn,
            usage=self._usage,
            tool_counts=dict(self._tool_counts),
            counters=self._counters,
            changed_files=self.workspace.changes.paths(),
            duration_s=round(time.monotonic() - self._started, 3),
            model=self.backend.model if self.backend else (self.settings.model or ""),
            final_text=self._final_text,
        )
        return self.result


def _abandon(waited: asyncio.Future[Any]) -> None:
    """Let go of a wait the session no longer needs: its thread ends on its own; an error it ended with
    is left to what failed first (the probe, say), not logged as never retrieved."""
    if not waited.done():
        waited.cancel()
    elif not waited.cancelled():
        waited.exception()
