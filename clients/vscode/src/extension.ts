// little-coder for VS Code: starts the little-coder language server and gives its sessions a native
// face — code actions, palette commands, a progress notification, a status-bar item, the log, and
// VS Code's refactor preview for reviewing the changes (the server asks for it through change
// annotations that need confirmation).

import * as vscode from 'vscode';
import { COMMANDS, registerCommands } from './commands';
import { ServerConnection } from './connection';
import { Sessions } from './sessions';
import { LAUNCH_SETTINGS, SECTION } from './settings';
import { StatusBar } from './statusBar';

let connection: ServerConnection | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel('little-coder');
  const status = new StatusBar(COMMANDS.showLog);
  const sessions = new Sessions(status, log);
  const server = new ServerConnection(log, status, sessions);
  connection = server;
  context.subscriptions.push(log, status, sessions);
  registerCommands(context, server, log);

  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((event) => {
    if (!event.affectsConfiguration(SECTION)) {
      return;
    }
    const relaunch = LAUNCH_SETTINGS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
    const work = relaunch ? server.restart() : server.pushSettings();
    work.catch((error: unknown) => log.appendLine(`[extension] applying the new settings failed: ${String(error)}`));
  }));

  // Start now, not on the first command, so that code actions are offered from the start. A failure
  // has been shown to the user already; activation itself succeeds so the commands stay usable.
  await server.ensureStarted();
}

export async function deactivate(): Promise<void> {
  const current = connection;
  connection = undefined;
  await current?.dispose();
}
