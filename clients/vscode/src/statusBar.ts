// The status-bar item: `little-coder: turn 3/20` while a session runs, a budget event flashed for a
// few seconds, the last result afterwards. A click opens the log.

import * as vscode from 'vscode';
import { AgentEvent, SessionStatus } from './protocol';
import { ServerState, StatusModel } from './statusText';

const FLASH_MS = 4000;

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly model = new StatusModel();
  private flashTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(showLogCommand: string) {
    this.item = vscode.window.createStatusBarItem('littleCoder.status', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'little-coder';
    this.item.command = showLogCommand;
    this.render();
    this.item.show();
  }

  setServer(state: ServerState): void {
    this.model.setServer(state);
    this.render();
  }

  started(sessionId: string, title: string): void {
    this.model.started(sessionId, title);
    this.render();
  }

  titled(sessionId: string, title: string): void {
    this.model.titled(sessionId, title);
    this.render();
  }

  event(sessionId: string, event: AgentEvent): void {
    const flash = this.model.event(sessionId, event);
    if (flash !== undefined) {
      this.flash(flash);
    } else if (this.flashTimer === undefined) {
      this.render();
    }
  }

  finished(status: SessionStatus): void {
    this.model.finished(status);
    this.stopFlash();
    this.render();
  }

  runningIds(): string[] {
    return this.model.runningIds();
  }

  dispose(): void {
    this.disposed = true;
    this.stopFlash();
    this.item.dispose();
  }

  private flash(text: string): void {
    if (this.disposed) {
      return;
    }
    this.stopFlash();
    this.item.text = `$(zap) ${text}`;
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    this.flashTimer = setTimeout(() => {
      this.flashTimer = undefined;
      this.render();
    }, FLASH_MS);
  }

  private stopFlash(): void {
    if (this.flashTimer !== undefined) {
      clearTimeout(this.flashTimer);
      this.flashTimer = undefined;
    }
  }

  private render(): void {
    if (this.disposed) {
      return; // the server may report its end after the window has gone
    }
    const view = this.model.view();
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.text.startsWith('$(error)')
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : undefined;
  }
}
