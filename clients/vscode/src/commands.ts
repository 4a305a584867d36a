// The palette commands: Ask…, Cancel, Undo last session, Revise with my rejections…, Show log, Restart.
// Their IDs differ from the server's (littleCoder.*), which vscode-languageclient registers itself.

import * as vscode from 'vscode';
import {
  askArguments,
  cancellable,
  newestFirst,
  revisable,
  reviseArguments,
  sessionDescription,
} from './args';
import { ServerConnection } from './connection';
import { Command, SessionStatus, isSessionStatus } from './protocol';
import { Sessions } from './sessions';

export const COMMANDS = {
  ask: 'little-coder.ask',
  cancel: 'little-coder.cancel',
  undo: 'little-coder.undo',
  revise: 'little-coder.revise',
  showLog: 'little-coder.showLog',
  restart: 'little-coder.restart',
} as const;

/** What `littleCoder.undo` answers (lc_lsp/undo.py UndoResult). */
interface UndoReply {
  sessionId?: string;
  state?: string;
  undone?: boolean;
  files?: string[];
  kept?: { path: string; where: string; reason: string }[];
  notUndone?: string[];
  message?: string;
}

interface SessionPick extends vscode.QuickPickItem {
  session?: SessionStatus;
}

export function registerCommands(
  context: vscode.ExtensionContext,
  connection: ServerConnection,
  sessions: Sessions,
  log: vscode.OutputChannel,
): void {
  const register = (id: string, run: () => Promise<unknown>): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, async () => {
      try {
        await run();
      } catch (error) {
        // A command never leaves a rejected promise behind: say what failed instead.
        const reason = error instanceof Error ? error.message : String(error);
        const message = `little-coder: ${id.replace('little-coder.', '')} failed: ${reason}`;
        log.appendLine(`[extension] ${message}`);
        void vscode.window.showErrorMessage(message);
      }
    }));
  };

  register(COMMANDS.ask, async () => {
    const editor = vscode.window.activeTextEditor;
    const hasSelection = editor !== undefined && !editor.selection.isEmpty;
    const instruction = await vscode.window.showInputBox({
      title: 'little-coder: Ask',
      prompt: hasSelection ? 'What should little-coder do with the selected code?' : 'What should little-coder do?',
      placeHolder: 'e.g. Add a --verbose flag to the CLI',
      ignoreFocusOut: true,
    });
    const args = askArguments(instruction, editor === undefined ? undefined : {
      uri: connection.uriFor(editor.document.uri),
      scheme: editor.document.uri.scheme,
      selection: {
        start: { line: editor.selection.start.line, character: editor.selection.start.character },
        end: { line: editor.selection.end.line, character: editor.selection.end.character },
      },
    });
    if (args !== undefined) {
      await connection.execute(Command.ask, [args]);
    }
  });

  register(COMMANDS.cancel, async () => {
    const sessions = await connection.statuses();
    if (sessions === undefined) {
      return;
    }
    const running = newestFirst(cancellable(sessions));
    if (running.length === 0) {
      void vscode.window.showInformationMessage('little-coder: no session is running.');
      return;
    }
    let args: Record<string, unknown> = { sessionId: running[0].sessionId };
    if (running.length > 1) {
      const picks: SessionPick[] = [
        { label: 'All sessions', description: `${running.length} running` },
        ...running.map((s) => ({ label: s.title, description: sessionDescription(s), session: s })),
      ];
      const picked = await vscode.window.showQuickPick(picks, { title: 'little-coder: Cancel which session?' });
      if (picked === undefined) {
        return;
      }
      args = picked.session ? { sessionId: picked.session.sessionId } : { all: true };
    }
    await connection.execute(Command.cancel, [args]);
  });

  register(COMMANDS.undo, async () => {
    // The server says what the undo did, which of your lines it kept and what the editor did not take
    // (`message`, the same words the model is told) and shows it itself (window/showMessage): nothing
    // is added here, so there is one message and it cannot contradict the server's.
    const reply = await connection.execute<UndoReply>(Command.undo, [{}]);
    if (reply?.sessionId !== undefined) {
      const status = await connection.execute(Command.status, [{ sessionId: reply.sessionId }]);
      if (isSessionStatus(status)) {
        sessions.updated(status);
      }
    }
  });

  register(COMMANDS.revise, async () => {
    const sessions = await connection.statuses();
    if (sessions === undefined) {
      return;
    }
    const candidates = newestFirst(revisable(sessions));
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage(
        'little-coder: no session has rejected changes to revise. Reject some changes in the review first.');
      return;
    }
    let session = candidates[0];
    if (candidates.length > 1) {
      const picked = await vscode.window.showQuickPick(
        candidates.map((s): SessionPick => ({ label: s.title, description: sessionDescription(s), session: s })),
        { title: 'little-coder: Revise which session?' },
      );
      if (picked?.session === undefined) {
        return;
      }
      session = picked.session;
    }
    const comment = await vscode.window.showInputBox({
      title: `little-coder: Revise "${session.title}"`,
      prompt: 'What should be different? (optional — the rejected hunks are sent either way)',
      ignoreFocusOut: true,
    });
    if (comment === undefined) {
      return; // Escape
    }
    await connection.execute(Command.revise, [reviseArguments(session.sessionId, comment)]);
  });

  register(COMMANDS.showLog, async () => {
    log.show(true);
  });

  register(COMMANDS.restart, async () => {
    await connection.restart();
  });
}
