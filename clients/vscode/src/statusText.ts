// What the status-bar item says, derived from the server's events. Pure: the extension owns the
// StatusBarItem and the flash timer, this module owns the words and the order of the flashes.

import { DISCARDED_REASON } from './editReview';
import { AgentEvent, SessionStatus } from './protocol';

export const NAME = 'little-coder';
const LOG_HINT = 'click for the log';
/** How long a flash stays: alone, and when more wait behind it (every one is shown, none replaces another). */
export const FLASH_MS = 4000;
export const QUEUED_FLASH_MS = 1500;

/** A status-bar view: codicon + text, and a tooltip. */
export interface StatusView {
  text: string;
  tooltip: string;
}

export type ServerState = 'starting' | 'running' | 'missing' | 'failed' | 'stopped';

const FINISHED_WORDS: Record<string, string> = {
  applied: 'applied',
  partial: 'partly applied',
  rejected: 'all changes rejected',
  discarded: 'discarded',
  refused: 'edit refused by the editor',
  conflicted: 'changes conflicted with yours',
  no_changes: 'finished, no changes',
  cancelled: 'cancelled',
  error: 'failed',
  undone: 'undone',
};

/** How much of a partly applied edit landed: "2 of 3 changes applied, 1 not applied by the editor". */
export function partialDetail(status: SessionStatus): string {
  const accepted = status.accepted.length;
  const failed = status.failed?.length ?? 0;
  const total = accepted + status.rejected.length + failed;
  const parts = [`${accepted} of ${total} change${total === 1 ? '' : 's'} applied`];
  if (status.rejected.length > 0) {
    parts.push(`${status.rejected.length} rejected`);
  }
  if (failed > 0) {
    parts.push(`${failed} not applied by the editor`);
  }
  return parts.join(', ');
}

/** The status-bar icon of a finished session: a failure warns, a partial apply is half a circle (it can
 * still be undone or revised), anything else is done. */
export function finishedIcon(status: SessionStatus): string {
  if (status.state === 'error') {
    return '$(warning)';
  }
  return status.state === 'partial' ? '◐' : '$(check)';
}

/** How a session ended, in a few words. A Discard in the refactor preview reaches the server as an
 * edit that was not applied; the reason tells it apart from a real refusal. */
export function finishedWords(status: SessionStatus): string {
  if (status.state === 'refused' && status.message.includes(DISCARDED_REASON)) {
    return 'discarded';
  }
  return FINISHED_WORDS[status.state] ?? status.state.replace(/_/g, ' ');
}

export function turnText(turn: number, cap: number): string {
  return `${NAME}: turn ${turn}/${cap}`;
}

/** A short line for a budget event (a small-model mechanism firing), or undefined for other events. */
export function budgetFlash(event: AgentEvent): string | undefined {
  switch (event.kind) {
    case 'thinking_budget':
      return `thinking budget ${num(event.budget)} hit`;
    case 'write_guard':
      return `write guard: ${str(event.path)}`;
    case 'repair':
      return `repaired ${withArticle(str(event.name))} call`;
    case 'correction':
      return `correction: ${str(event.reason).replace(/_/g, ' ')}`;
    case 'cap_warning':
      return `turn ${num(event.turn)}/${num(event.cap)}: asked to finish`;
    case 'compaction':
      return `context compacted ${num(event.tokens_before)} → ${num(event.tokens_after)} tokens`;
    default:
      return undefined;
  }
}

/** The live line of a model call, in the server's words ("thinking 812/2048", "writing 240 tok · 38 tok/s"). */
export function progressText(event: AgentEvent): string | undefined {
  return event.kind === 'stream_progress' && typeof event.text === 'string' ? event.text : undefined;
}

/** "an Edit", "a Write". */
function withArticle(word: string): string {
  return `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
}

/** Flashes waiting their turn: each is shown in order, for less time when others wait behind it. */
export class FlashQueue {
  private readonly waiting: string[] = [];

  push(text: string): void {
    this.waiting.push(text);
  }

  /** The next flash and how long to show it, or undefined when none waits. */
  next(): { text: string; ms: number } | undefined {
    const text = this.waiting.shift();
    if (text === undefined) {
      return undefined;
    }
    return { text, ms: this.waiting.length > 0 ? QUEUED_FLASH_MS : FLASH_MS };
  }

  get size(): number {
    return this.waiting.length;
  }
}

function num(value: unknown): string {
  return typeof value === 'number' ? String(value) : '?';
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '?';
}

interface Running {
  title: string;
  turn: number;
  cap: number;
  reviewing: boolean;
  activity?: string; // what the model does now: "thinking 812/2048", a tool call
  mechanisms: string[]; // every mechanism that fired, for the tooltip (a flash passes, these stay)
}

const MECHANISMS_SHOWN = 8;

/** The sessions the status bar speaks for, in start order, and the last one that ended. */
export class StatusModel {
  private readonly running = new Map<string, Running>();
  private readonly ended = new Set<string>();
  private last: SessionStatus | undefined;
  private lastMechanisms: string[] = [];
  private server: ServerState = 'starting';

  setServer(state: ServerState): void {
    this.server = state;
  }

  /** A session the extension started (the command's reply), before its first event. */
  started(sessionId: string, title: string): void {
    if (!this.running.has(sessionId) && !this.ended.has(sessionId)) {
      this.running.set(sessionId, { title, turn: 0, cap: 0, reviewing: false, mechanisms: [] });
    }
  }

  titled(sessionId: string, title: string): void {
    if (!this.ended.has(sessionId)) {
      this.ensure(sessionId).title = title;
    }
  }

  /** Feed an event; returns the text to flash for a budget event. */
  event(sessionId: string, event: AgentEvent): string | undefined {
    if (this.ended.has(sessionId)) {
      return undefined;
    }
    if (event.kind === 'session_finished') {
      // The review may still follow: the session counts as running until littleCoder/sessionFinished.
      this.ensure(sessionId).reviewing = true;
      return undefined;
    }
    const session = this.ensure(sessionId);
    if (event.kind === 'turn_started' && typeof event.turn === 'number' && typeof event.cap === 'number') {
      session.turn = event.turn;
      session.cap = event.cap;
      session.activity = undefined;
    } else if (event.kind === 'tool_call_started') {
      session.activity = str(event.name);
    } else if (event.kind === 'stream_progress') {
      session.activity = progressText(event);
    }
    const flash = budgetFlash(event);
    if (flash === undefined) {
      return undefined;
    }
    session.mechanisms.push(flash);
    return `${NAME}: ${flash}`;
  }

  finished(status: SessionStatus): void {
    this.lastMechanisms = this.running.get(status.sessionId)?.mechanisms ?? [];
    this.running.delete(status.sessionId);
    this.ended.add(status.sessionId);
    this.last = status;
  }

  runningIds(): string[] {
    return [...this.running.keys()];
  }

  view(): StatusView {
    const tooltip = 'little-coder: click to show the log';
    if (this.server === 'missing') {
      return { text: `$(error) ${NAME}: server not found`, tooltip: `${NAME}: the language server was not found — ${LOG_HINT}` };
    }
    if (this.server === 'failed') {
      return { text: `$(error) ${NAME}: server failed`, tooltip: `${NAME}: the language server failed — ${LOG_HINT}` };
    }
    if (this.server === 'stopped') {
      return { text: `$(circle-slash) ${NAME}: stopped`, tooltip };
    }
    const ids = [...this.running.keys()];
    if (ids.length > 0) {
      const current = this.running.get(ids[ids.length - 1]) as Running;
      const more = ids.length > 1 ? ` (+${ids.length - 1})` : '';
      const fired = mechanismLines(current.mechanisms);
      if (current.reviewing) {
        return { text: `$(diff) ${NAME}: review${more}`, tooltip: `little-coder: ${current.title} — review the changes${fired}` };
      }
      let text = current.cap > 0 ? turnText(current.turn, current.cap) : `${NAME}: starting`;
      if (current.activity !== undefined) {
        text += ` · ${current.activity}`;
      }
      return { text: `$(sync~spin) ${text}${more}`, tooltip: `little-coder: ${current.title} — click to show the log${fired}` };
    }
    if (this.server === 'starting') {
      return { text: `$(sync~spin) ${NAME}: starting server`, tooltip };
    }
    if (this.last !== undefined) {
      const last = this.last;
      const words = finishedWords(last);
      const counts = last.state === 'partial' ? ` (${partialDetail(last)})` : '';
      // The server's own message: the same words it showed, and that the model is told.
      const detail = last.message ? ` — ${last.message}` : '';
      return {
        text: `${finishedIcon(last)} ${NAME}: ${words}`,
        tooltip: `little-coder: ${last.title}: ${words}${counts}${detail}${mechanismLines(this.lastMechanisms)}`,
      };
    }
    return { text: `$(hubot) ${NAME}`, tooltip };
  }

  private ensure(sessionId: string): Running {
    let session = this.running.get(sessionId);
    if (session === undefined) {
      // A session started by another route (a code action, a revise): it announces itself by its events.
      session = { title: 'session', turn: 0, cap: 0, reviewing: false, mechanisms: [] };
      this.running.set(sessionId, session);
    }
    return session;
  }
}

/** The mechanisms that fired, one a line under the tooltip's first line (the latest few, with a count). */
function mechanismLines(mechanisms: string[]): string {
  if (mechanisms.length === 0) {
    return '';
  }
  const shown = mechanisms.slice(-MECHANISMS_SHOWN);
  const earlier = mechanisms.length - shown.length;
  return `\n${earlier > 0 ? `(${earlier} earlier)\n` : ''}${shown.join('\n')}`;
}
