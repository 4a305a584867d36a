// Arguments for the server's commands, built from what the user typed and where the cursor is.
// Pure functions (no `vscode` import): the extension converts editor state to these plain shapes.

import { AskArgs, FINISHED_STATES, RangeJson, ReviseArgs, SessionStatus } from './protocol';

/** The active editor as the Ask command sees it: a file URI and the selection, if any. */
export interface EditorContext {
  uri: string;
  scheme: string;
  selection: RangeJson;
}

/** `littleCoder.ask` arguments, or undefined when the instruction is blank (the user gave up).
 * The server reads files from disk, so only `file:` editors are named; an empty selection names the
 * file alone. */
export function askArguments(instruction: string | undefined, editor?: EditorContext): AskArgs | undefined {
  const text = instruction?.trim();
  if (!text) {
    return undefined;
  }
  const args: AskArgs = { instruction: text };
  if (editor === undefined || editor.scheme !== 'file') {
    return args;
  }
  args.uri = editor.uri;
  if (!isEmpty(editor.selection)) {
    args.range = editor.selection;
  }
  return args;
}

export function isEmpty(range: RangeJson): boolean {
  return range.start.line === range.end.line && range.start.character === range.end.character;
}

/** Sessions that Cancel can stop: still working, or waiting for the user's review. */
export function cancellable(sessions: readonly SessionStatus[]): SessionStatus[] {
  return sessions.filter((s) => !FINISHED_STATES.has(s.state));
}

/** Sessions with something to revise: hunks the user turned down (or that collided with their edits). */
export function revisable(sessions: readonly SessionStatus[]): SessionStatus[] {
  return sessions.filter((s) => s.rejected.length > 0 || (s.failed?.length ?? 0) > 0
    || s.state === 'conflicted' || s.state === 'refused');
}

/** `littleCoder.revise` arguments; a blank comment is left out. */
export function reviseArguments(sessionId: string, comment: string | undefined): ReviseArgs {
  const text = comment?.trim();
  return text ? { sessionId, comment: text } : { sessionId };
}

/** One line for a quick pick: what the session did and what became of its hunks. */
export function sessionDescription(session: SessionStatus): string {
  const failed = session.failed?.length ?? 0;
  const hunks = session.accepted.length + session.rejected.length + failed;
  const parts = [session.state.replace('_', ' ')];
  if (hunks > 0) {
    parts.push(`${session.rejected.length} of ${hunks} hunks rejected`);
  }
  if (failed > 0) {
    parts.push(`${failed} not applied by the editor`);
  }
  if (session.changedFiles.length > 0) {
    parts.push(session.changedFiles.join(', '));
  }
  return parts.join(' · ');
}

/** Newest first: the server lists sessions in start order. */
export function newestFirst(sessions: readonly SessionStatus[]): SessionStatus[] {
  return [...sessions].reverse();
}
