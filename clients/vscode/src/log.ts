// The "little-coder" output channel, safe to write to while the window closes. When VS Code shuts an
// extension host down it disposes the channel while the server is still stopping, and every late line
// (the server's last stderr, a failed request) would throw "Channel has been closed".

import * as vscode from 'vscode';

export class Log implements vscode.OutputChannel {
  private readonly channel: vscode.OutputChannel;
  private closed = false;

  constructor(name: string) {
    this.channel = vscode.window.createOutputChannel(name);
  }

  get name(): string {
    return this.channel.name;
  }

  append(value: string): void {
    this.write(() => this.channel.append(value));
  }

  appendLine(value: string): void {
    this.write(() => this.channel.appendLine(value));
  }

  replace(value: string): void {
    this.write(() => this.channel.replace(value));
  }

  clear(): void {
    this.write(() => this.channel.clear());
  }

  show(preserveFocus?: boolean): void;
  show(column?: vscode.ViewColumn, preserveFocus?: boolean): void;
  show(first?: boolean | vscode.ViewColumn, second?: boolean): void {
    const preserveFocus = typeof first === 'boolean' ? first : second;
    this.write(() => this.channel.show(preserveFocus));
  }

  hide(): void {
    this.write(() => this.channel.hide());
  }

  dispose(): void {
    if (!this.closed) {
      this.closed = true;
      this.channel.dispose();
    }
  }

  private write(action: () => void): void {
    if (this.closed) {
      return;
    }
    try {
      action();
    } catch {
      // The channel went away with the window: nobody is left to read the line.
      this.closed = true;
    }
  }
}
