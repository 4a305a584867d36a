// The status-bar item: `little-coder: turn 3/20 · thinking 812/2048` while a session runs, every budget
// event flashed in turn (queued, never replacing one another; the tooltip keeps them), the last result
// afterwards. A click opens the log.

import * as vscode from 'vscode';
import { AgentEvent, SessionStatus } from './protocol';
import { FlashQueue, QUEUED_FLASH_MS, ServerState, StatusModel } from './statusText';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly model = new StatusModel();
  private readonly flashes = new FlashQueue();
  private flashTimer: NodeJS.Timeout | undefined;
  private flashShownAt = 0;
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
    this.refresh();
  }

  titled(sessionId: string, title: string): void {
    this.model.titled(sessionId, title);
    this.refresh();
  }

  event(sessionId: string, event: AgentEvent): void {
    const flash = this.model.event(sessionId, event);
    if (flash !== undefined) {
      this.flashes.push(flash);
      if (this.flashTimer === undefined) {
        this.nextFlash();
      } else if (this.flashes.size === 1) {
        this.hurryFlash(); // the one showing was timed as if alone: give it a queued flash's time
      }
    } else {
      this.refresh();
    }
  }

  /** The result shows once the flashes still waiting have had their turn. */
  finished(status: SessionStatus): void {
    this.model.finished(status);
    this.refresh();
  }

  runningIds(): string[] {
    return this.model.runningIds();
  }

  dispose(): void {
    this.disposed = true;
    this.stopFlash();
    this.item.dispose();
  }

  private nextFlash(): void {
    const flash = this.flashes.next();
    if (flash === undefined || this.disposed) {
      this.flashTimer = undefined;
      this.render();
      return;
    }
    this.item.text = `$(zap) ${flash.text}`;
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    this.flashShownAt = Date.now();
    this.flashTimer = setTimeout(() => this.nextFlash(), flash.ms);
  }

  private hurryFlash(): void {
    this.stopFlash();
    const left = Math.max(0, this.flashShownAt + QUEUED_FLASH_MS - Date.now());
    this.flashTimer = setTimeout(() => this.nextFlash(), left);
  }

  private stopFlash(): void {
    if (this.flashTimer !== undefined) {
      clearTimeout(this.flashTimer);
      this.flashTimer = undefined;
    }
  }

  /** Show the model's view, unless a flash has the item: the view follows when the flashes are done. */
  private refresh(): void {
    if (this.flashTimer === undefined) {
      this.render();
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
