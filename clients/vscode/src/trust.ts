// Workspace trust, as the server and the settings see it. Pure: VS Code's trust state comes in as a boolean.
//
// A repository can carry its own `.vscode/settings.json` and `.little-coder.toml`. In Restricted Mode
// (an untrusted folder) neither may say where the agent's requests go, with which key, or what its
// commands may do: VS Code drops the workspace values of RESTRICTED_SETTINGS (package.json
// `restrictedConfigurations`, repeated here so what is sent never rests on how inspect() treats
// them), and the server
// ignores the same keys in the project file when initializationOptions say the folder is not trusted.

import { Inspected, SECTION } from './settings';

/** The initializationOptions key the server reads the editor's trust from (lc_lsp/settings.py). */
export const TRUST_KEY = 'workspaceTrusted';

/** littleCoder.* settings whose workspace values count only in a trusted folder. */
export const RESTRICTED_SETTINGS: readonly string[] = [
  'server.command', 'server.pythonPath', 'backend', 'baseUrl', 'bashPolicy', 'bashAllow', 'reviewMode',
  'sandbox', 'network',
];

/** The payload of initializationOptions: the settings, and whether the user trusts the workspace. */
export function initializationOptions(settings: Record<string, unknown>, trusted: boolean): Record<string, unknown> {
  return { [SECTION]: settings, [TRUST_KEY]: trusted };
}

/** `inspected` without the values a repository could have set, for a restricted setting in an untrusted folder. */
export function trustedValues(key: string, inspected: Inspected | undefined, trusted: boolean): Inspected | undefined {
  if (trusted || inspected === undefined || !RESTRICTED_SETTINGS.includes(key)) {
    return inspected;
  }
  return { globalValue: inspected.globalValue };
}
