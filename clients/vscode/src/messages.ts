// The words of the extension's own error messages, and which buttons a server message gets.
// Pure, so the texts users rely on are unit-tested: each says what went wrong, what to install or
// which setting to change.

import { DISCARDED_REASON } from './editReview';
import { Resolution, ServerLaunch, describeLaunch } from './serverCommand';

export const OPEN_SETTINGS = 'Open Settings';
export const SHOW_LOG = 'Show Log';
export const RETRY = 'Retry';
export const REVISE = 'Revise…';

const INSTALL_HINT = 'Install the little-coder-lsp Python package (`pip install little-coder-lsp`, or '
  + '`pip install -e .` in its checkout) into the project\'s .venv or onto PATH';

/** Why the server could not be found, with what to install and which setting to use. */
export function serverMissingMessage(resolution: Extract<Resolution, { found: false }>): string {
  if (resolution.setting !== undefined) {
    return `little-coder: ${resolution.setting} is "${resolution.value}", which is not an executable file `
      + `or a command on PATH. Point it at ${resolution.setting === 'littleCoder.server.command'
        ? 'the `little-coder` program' : 'a Python that has little-coder-lsp installed'}, or clear it to `
      + 'use `little-coder` from the project\'s .venv or PATH.';
  }
  return `little-coder: its language server was not found (looked for ${resolution.tried.join(', ')}). `
    + `${INSTALL_HINT}, or set littleCoder.server.command (the \`little-coder\` program) or `
    + 'littleCoder.server.pythonPath (a Python that has it installed).';
}

/** How a server process ended, as the extension observed it. */
export interface ProcessEnd {
  code: number | null;
  signal: string | null;
  /** Spawn failure (ENOENT, EACCES): the process never ran. */
  spawnError?: string;
  /** Last lines the server wrote to stderr. */
  stderr: readonly string[];
}

/** The server could not be started or stopped while starting. */
export function serverStartFailedMessage(launch: ServerLaunch, end: ProcessEnd | undefined): string {
  const line = describeLaunch(launch);
  const setting = launch.origin.startsWith('littleCoder.')
    ? launch.origin
    : 'littleCoder.server.command or littleCoder.server.pythonPath';
  if (end?.spawnError !== undefined) {
    return `little-coder: could not run \`${line}\` (${end.spawnError}). Check ${setting}.`;
  }
  const how = end === undefined ? 'did not answer' : `exited ${exitText(end)}`;
  const cause = end ? lastError(end.stderr) : undefined;
  const install = launch.origin === 'littleCoder.server.pythonPath'
    ? `Install little-coder-lsp for that Python (\`${launch.command} -m pip install little-coder-lsp\`)`
    : INSTALL_HINT;
  return `little-coder: the language server \`${line}\` ${how} before it was ready`
    + (cause ? `: ${cause}` : '') + `. ${install}, or fix ${setting}.`;
}

/** The server stopped after it had been running. */
export function serverStoppedMessage(end: ProcessEnd | undefined): string {
  const cause = end ? lastError(end.stderr) : undefined;
  const how = end ? `exited ${exitText(end)}` : 'closed the connection';
  return `little-coder: the language server ${how}` + (cause ? `: ${cause}` : '')
    + '. Run "little-coder: Restart language server" to start it again; the log has the details.';
}

function exitText(end: ProcessEnd): string {
  if (end.signal) {
    return `on signal ${end.signal}`;
  }
  return end.code === null ? 'unexpectedly' : `with code ${end.code}`;
}

/** The most telling stderr line: the last one naming an error, else the last non-empty one. */
export function lastError(stderr: readonly string[]): string | undefined {
  const lines = stderr.map((l) => l.trim()).filter((l) => l.length > 0);
  const named = [...lines].reverse().find((l) => /error|not found|no module|cannot|denied/i.test(l));
  const chosen = named ?? lines[lines.length - 1];
  if (chosen === undefined) {
    return undefined;
  }
  return chosen.length > 200 ? `${chosen.slice(0, 199)}…` : chosen;
}

/** What the user hears after discarding a session's changes in the refactor preview. */
export const DISCARDED_MESSAGE = 'little-coder: changes discarded; your files are as they were. "Revise…" sends '
  + 'them back to the agent with a comment on what to do differently.';

/** Buttons for a server `window/showMessage` and the setting "Open Settings" should show. `hidden`: a
 * message that reads as a failure but reports the user's own Discard, which the extension words itself
 * when the session ends. */
export interface MessageActions {
  buttons: string[];
  settingsQuery?: string;
  hidden?: boolean;
}

export function serverMessageActions(message: string): MessageActions {
  if (message.includes(DISCARDED_REASON)) {
    return { buttons: [], hidden: true };
  }
  if (/no model server answered|cannot connect to|timed out talking to|is not a usable URL/i.test(message)) {
    return { buttons: [OPEN_SETTINGS, SHOW_LOG], settingsQuery: 'littleCoder.baseUrl' };
  }
  const invalid = /invalid setting '([A-Za-z_.]+)'/.exec(message);
  if (invalid) {
    return { buttons: [OPEN_SETTINGS], settingsQuery: `littleCoder.${settingName(invalid[1])}` };
  }
  if (/does not have model '|has no models|lists no models/i.test(message)) {
    return { buttons: [OPEN_SETTINGS, SHOW_LOG], settingsQuery: 'littleCoder.model' };
  }
  return { buttons: [] };
}

/** The VS Code setting behind a server field name (`review` is `reviewMode` in the editor). */
function settingName(field: string): string {
  const camel = field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const renamed: Record<string, string> = { review: 'reviewMode', bash: 'bashPolicy' };
  return renamed[camel] ?? camel;
}

/** What a failed executeCommand request says: the server's own message, without JSON-RPC noise. */
export function commandErrorMessage(command: string, error: unknown): string {
  const raw = error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
  const text = raw.trim() || 'the language server reported an error';
  return text.startsWith('little-coder') ? text : `little-coder: ${command.replace('littleCoder.', '')} failed: ${text}`;
}
