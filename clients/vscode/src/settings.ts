// The littleCoder.* settings the server receives. Pure: VS Code's `inspect()` results come in as data.
//
// Only values the user set (user, workspace or folder settings) are sent: a default shown in the
// Settings UI must not mask the project's .little-coder.toml or LITTLE_CODER_* variables, which the
// server layers below editor settings. Editor-only settings (how to start the server, tracing) are
// never sent — the server rejects keys it does not know.

export const SECTION = 'littleCoder';

/** VS Code setting (under littleCoder.) → the server's setting name (lc_lsp accepts camelCase). */
export const SERVER_SETTINGS: Readonly<Record<string, string>> = {
  backend: 'backend',
  baseUrl: 'baseUrl',
  model: 'model',
  maxTurns: 'maxTurns',
  thinkingBudget: 'thinkingBudget',
  reviewMode: 'review',
  bashPolicy: 'bash',
  bashAllow: 'bashAllow',
  sandbox: 'sandbox',
  network: 'network',
};

/** Settings that change how the server process is started: a change restarts it. */
export const LAUNCH_SETTINGS = ['server.command', 'server.pythonPath'] as const;

export interface Inspected {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/** The most specific value the user set, or undefined. */
export function userValue(inspected: Inspected | undefined): unknown {
  if (inspected === undefined) {
    return undefined;
  }
  for (const value of [inspected.workspaceFolderValue, inspected.workspaceValue, inspected.globalValue]) {
    if (value !== undefined) {
      return value;
    }
  }
  return undefined;
}

/** The payload for initializationOptions, workspace/configuration and didChangeConfiguration. */
export function serverSettings(inspect: (key: string) => Inspected | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, serverKey] of Object.entries(SERVER_SETTINGS)) {
    const value = userValue(inspect(key));
    if (value === undefined || value === null) {
      continue;
    }
    if (typeof value === 'string' && value.trim() === '') {
      continue; // an emptied text box means "not set"
    }
    out[serverKey] = typeof value === 'string' ? value.trim() : value;
  }
  return out;
}
