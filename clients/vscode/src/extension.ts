// little-coder for VS Code: starts the little-coder language server and gives its sessions a native
// face — code actions, palette commands, a progress notification, a status-bar item, the log, and the
// review of a session's changes in the editor (littleCoder/review, src/review.ts).

import * as vscode from 'vscode';
import { COMMANDS, registerCommands } from './commands';
import { ServerConnection } from './connection';
import { Log } from './log';
import { Reviews } from './review';
import { Sessions } from './sessions';
import { LAUNCH_SETTINGS, SECTION } from './settings';
import { StatusBar } from './statusBar';

// deactivate() gets no context: it reaches the one connection activate() made in this extension host.
let connection: ServerConnection | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const log = new Log('little-coder');
  const status = new StatusBar(COMMANDS.showLog);
  const sessions = new Sessions(status, log);
  const server = new ServerConnection(log, status, sessions);
  connection = server;
  // The log goes last, once the server has stopped and cannot write to it any more.
  context.subscriptions.push(status, sessions, {
    dispose: () => void server.dispose().catch(() => undefined).then(() => log.dispose()),
  });
  const reviews = new Reviews((command, args) => server.execute(command, args), sessions, log);
  server.reviews = reviews;
  context.subscriptions.push(reviews);
  reviews.registerCommands(context);
  registerCommands(context, server, sessions, log);

  // Registered now, before the server runs: a Ctrl+. while it starts waits for it instead of finding
  // no provider at all ("No code actions available").
  context.subscriptions.push(vscode.languages.registerCodeActionsProvider({ scheme: 'file' }, {
    provideCodeActions: (document, range, actionContext, token) =>
      server.codeActions(document, range, actionContext, token),
  }, { providedCodeActionKinds: [vscode.CodeActionKind.RefactorRewrite, vscode.CodeActionKind.QuickFix] }));

  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((event) => {
    if (!event.affectsConfiguration(SECTION)) {
      return;
    }
    const relaunch = LAUNCH_SETTINGS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
    const work = relaunch ? server.restart() : server.pushSettings();
    work.catch((error: unknown) => log.appendLine(`[extension] applying the new settings failed: ${String(error)}`));
  }));

  // The server learns of trust at initialize (and the workspace's .venv may now be used): start it afresh.
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => {
    server.restart().catch((error: unknown) => log.appendLine(`[extension] restarting after trust failed: ${String(error)}`));
  }));

  // Start now, not on the first command, so that code actions are offered from the start; without
  // waiting, so a slow server never holds up activation. A failure is shown to the user by
  // ensureStarted itself, and the commands stay usable (they try again).
  server.ensureStarted().catch((error: unknown) => log.appendLine(`[extension] starting the server failed: ${String(error)}`));
}

export async function deactivate(): Promise<void> {
  const current = connection;
  connection = undefined;
  await current?.dispose();
}
