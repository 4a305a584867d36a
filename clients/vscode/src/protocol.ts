// What the little-coder language server (lc_lsp) speaks beyond plain LSP: its commands, their
// arguments and results, and its two notifications. Kept free of `vscode` imports so unit tests run in node.

export const Command = {
  implement: 'littleCoder.implement',
  ask: 'littleCoder.ask',
  cancel: 'littleCoder.cancel',
  undo: 'littleCoder.undo',
  revise: 'littleCoder.revise',
  status: 'littleCoder.status',
} as const;

export const SERVER_COMMAND_PREFIX = 'littleCoder.';

/** `littleCoder/event`: every agent event of a session, as `agent.events` serialises it. */
export const EVENT_NOTIFICATION = 'littleCoder/event';
/** `littleCoder/sessionFinished`: the session's final status, once it has ended (review included). */
export const SESSION_FINISHED_NOTIFICATION = 'littleCoder/sessionFinished';

export interface PositionJson {
  line: number;
  character: number;
}

export interface RangeJson {
  start: PositionJson;
  end: PositionJson;
}

export interface AskArgs {
  instruction: string;
  uri?: string;
  range?: RangeJson;
}

export interface ReviseArgs {
  sessionId: string;
  comment?: string;
}

export type SessionState =
  | 'running'
  | 'reviewing'
  | 'applied'
  | 'partial'
  | 'rejected'
  | 'discarded'
  | 'refused'
  | 'conflicted'
  | 'no_changes'
  | 'cancelled'
  | 'error'
  | 'undone';

/** `littleCoder.status` for one session, and the payload of `littleCoder/sessionFinished`. */
export interface SessionStatus {
  sessionId: string;
  title: string;
  state: SessionState;
  turn: number;
  cap: number;
  outcome: string | null;
  message: string;
  changedFiles: string[];
  accepted: string[];
  rejected: string[];
  /** Hunks the editor did not apply (a partial apply); older servers leave it out. */
  failed?: string[];
  parent: string | null;
  elapsed: number;
}

/** An agent event (snake_case fields, as the Python side dumps them); only `kind` is common to all. */
export interface AgentEvent {
  kind: string;
  session_id?: string;
  [field: string]: unknown;
}

export interface EventNotification {
  sessionId: string;
  event: AgentEvent;
}

/** States after which nothing more happens to a session unless the user undoes or revises it. */
export const FINISHED_STATES: ReadonlySet<SessionState> = new Set<SessionState>([
  'applied', 'partial', 'rejected', 'discarded', 'refused', 'conflicted', 'no_changes', 'cancelled', 'error', 'undone',
]);

export function isSessionStatus(value: unknown): value is SessionStatus {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const v = value as Record<string, unknown>;
  return typeof v.sessionId === 'string' && typeof v.state === 'string' && typeof v.title === 'string';
}

export function isEventNotification(value: unknown): value is EventNotification {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const v = value as Record<string, unknown>;
  const event = v.event as Record<string, unknown> | null | undefined;
  return typeof v.sessionId === 'string' && typeof event === 'object' && event !== null
    && typeof event.kind === 'string';
}
