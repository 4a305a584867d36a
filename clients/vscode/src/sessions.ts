// Running sessions as the user sees them: a progress notification per session carrying the server's
// `$/progress` messages with a Cancel button, the status bar, and a word when a session ends.
//
// vscode-languageclient shows server-created progress in the status bar only (ProgressLocation.Window,
// where Cancel cannot be offered), so the extension answers window/workDoneProgress/create itself.

import * as vscode from 'vscode';
import {
  LanguageClient,
  WorkDoneProgress,
  WorkDoneProgressBegin,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressReport,
  ProgressToken,
} from 'vscode-languageclient/node';
import { DISCARDED_MESSAGE, REVISE } from './messages';
import { EventNotification, SessionStatus } from './protocol';
import { StatusBar } from './statusBar';
import { finishedWords, partialDetail } from './statusText';

const TOKEN_PREFIX = 'littleCoder/';
const REVISE_COMMAND = 'little-coder.revise';

class NotificationProgress {
  private reported = 0;
  private progress: vscode.Progress<{ message?: string; increment?: number }> | undefined;
  private finish: (() => void) | undefined;
  private ended = false;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly client: LanguageClient,
    private readonly token: ProgressToken,
    private readonly onBegin: (title: string) => void,
    private readonly onEnd: () => void,
    private readonly log: (message: string) => void,
  ) {
    this.subscription = client.onProgress(WorkDoneProgress.type, token, (value) => {
      if (value.kind === 'begin') {
        this.begin(value);
      } else if (value.kind === 'report') {
        this.report(value);
      } else {
        this.end();
      }
    });
  }

  end(): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    this.subscription.dispose();
    this.finish?.();
    this.finish = undefined;
    this.onEnd();
  }

  private begin(value: WorkDoneProgressBegin): void {
    this.onBegin(value.title);
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: value.title, cancellable: value.cancellable ?? false },
      (progress, cancellation) => {
        if (this.ended) {
          return Promise.resolve();
        }
        this.progress = progress;
        cancellation.onCancellationRequested(() => {
          this.log(`[extension] cancel requested for ${String(this.token)}`);
          this.client.sendNotification(WorkDoneProgressCancelNotification.type, { token: this.token })
            .catch((error: unknown) => this.log(`[extension] could not send the cancel: ${String(error)}`));
        });
        this.report(value);
        return new Promise<void>((resolve) => { this.finish = resolve; });
      },
    );
  }

  private report(value: WorkDoneProgressBegin | WorkDoneProgressReport): void {
    if (this.progress === undefined) {
      return;
    }
    let increment: number | undefined;
    if (typeof value.percentage === 'number') {
      const percentage = Math.max(0, Math.min(100, value.percentage));
      increment = Math.max(0, percentage - this.reported);
      this.reported += increment;
    }
    this.progress.report({ message: value.message, increment });
  }
}

export class Sessions implements vscode.Disposable {
  private readonly progress = new Map<string, NotificationProgress>();
  // Sessions reviewed in the editor: the server's own summary says what became of them.
  private readonly reviewedInEditor = new Set<string>();

  constructor(private readonly status: StatusBar, private readonly log: vscode.OutputChannel) {}

  /** The answer to window/workDoneProgress/create. */
  progressCreated(client: LanguageClient, token: ProgressToken): void {
    const key = String(token);
    this.progress.get(key)?.end();
    const sessionId = key.startsWith(TOKEN_PREFIX) ? key.slice(TOKEN_PREFIX.length) : undefined;
    const part = new NotificationProgress(
      client,
      token,
      (title) => {
        if (sessionId !== undefined) {
          this.status.titled(sessionId, title.replace(/^little-coder: /, ''));
        }
      },
      () => this.progress.delete(key),
      (message) => this.log.appendLine(message),
    );
    this.progress.set(key, part);
  }

  markReviewedInEditor(sessionId: string): void {
    this.reviewedInEditor.add(sessionId);
  }

  started(sessionId: string): void {
    this.status.started(sessionId, 'session');
  }

  event(notification: EventNotification): void {
    this.status.event(notification.sessionId, notification.event);
  }

  finished(status: SessionStatus): void {
    this.progress.get(`${TOKEN_PREFIX}${status.sessionId}`)?.end();
    this.status.finished(status);
    // A partial apply is not a success: the server has said so (window/showMessage); the log says how much.
    const counts = status.state === 'partial' ? ` (${partialDetail(status)})` : '';
    this.log.appendLine(`[extension] session ${status.sessionId} (${status.title}): ${status.state}${counts}`
      + (status.message ? ` — ${status.message}` : ''));
    if (status.state === 'no_changes') {
      void vscode.window.showInformationMessage(`little-coder: ${status.title}: finished without changing any file.`);
    } else if (finishedWords(status) === 'discarded' && !this.reviewedInEditor.has(status.sessionId)) {
      Promise.resolve(vscode.window.showInformationMessage(DISCARDED_MESSAGE, REVISE))
        .then((picked) => (picked === REVISE ? vscode.commands.executeCommand(REVISE_COMMAND) : undefined))
        .catch((error: unknown) => this.log.appendLine(`[extension] ${String(error)}`));
    }
  }

  /** A later change to a finished session (an undo): the status bar shows it, nothing else. */
  updated(status: SessionStatus): void {
    this.status.finished(status);
  }

  /** The server went away: nothing it started is running any more. */
  reset(): void {
    for (const part of [...this.progress.values()]) {
      part.end();
    }
    for (const sessionId of this.status.runningIds()) {
      this.status.finished({
        sessionId, title: 'session', state: 'error', turn: 0, cap: 0, outcome: 'error',
        message: 'the language server stopped', changedFiles: [], accepted: [], rejected: [], parent: null, elapsed: 0,
      });
    }
  }

  dispose(): void {
    this.reset();
  }
}
