// The language server as a child process. The extension spawns it itself (rather than letting
// vscode-languageclient do it) to keep the last lines of its stderr and its exit status: they turn
// "the server stopped" into a message that says why.

import { ChildProcess, spawn } from 'child_process';
import * as vscode from 'vscode';
import { StreamInfo } from 'vscode-languageclient/node';
import { ProcessEnd } from './messages';
import { ServerLaunch, describeLaunch } from './serverCommand';

const STDERR_LINES = 40;
const KILL_GRACE_MS = 2000;

export class ServerProcess {
  private child: ChildProcess | undefined;
  private readonly tail: string[] = [];
  private partial = '';
  private ended: ProcessEnd | undefined;
  private readonly exited: Promise<void>;
  private markExited: () => void = () => undefined;

  constructor(
    readonly launch: ServerLaunch,
    private readonly cwd: string | undefined,
    private readonly log: vscode.OutputChannel,
  ) {
    this.exited = new Promise((resolve) => { this.markExited = resolve; });
  }

  /** How the process ended; undefined while it runs. */
  get end(): ProcessEnd | undefined {
    return this.ended;
  }

  /** Spawn it and hand its stdio to the language client; rejects when it cannot be spawned at all. */
  start(): Promise<StreamInfo> {
    this.log.appendLine(`[server] starting ${describeLaunch(this.launch)} (from ${this.launch.origin})`);
    const child = spawn(this.launch.command, this.launch.args, {
      cwd: this.cwd,
      env: process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => this.stderr(chunk));
    // 'close' (not 'exit') comes after stderr has been read to the end.
    child.on('close', (code, signal) => this.finish({ code, signal, stderr: this.flushTail() }));
    return new Promise<StreamInfo>((resolve, reject) => {
      child.once('spawn', () => resolve({ reader: child.stdout!, writer: child.stdin! }));
      child.once('error', (error: NodeJS.ErrnoException) => {
        // 'error' without a prior 'spawn' means the program never ran; 'exit' will not follow.
        if (child.pid === undefined) {
          this.finish({ code: null, signal: null, spawnError: error.code ?? error.message, stderr: [] });
          reject(error);
        } else {
          this.log.appendLine(`[server] ${error.message}`);
        }
      });
    });
  }

  /** Resolves once the process has ended, or after `ms` (false then). */
  async waitForExit(ms: number): Promise<boolean> {
    if (this.ended !== undefined) {
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
    const result = await Promise.race([this.exited.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Make sure the process is gone: the client's shutdown/exit normally ends it already. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || this.ended !== undefined) {
      return;
    }
    if (await this.waitForExit(KILL_GRACE_MS)) {
      return;
    }
    child.kill('SIGTERM');
    if (!(await this.waitForExit(KILL_GRACE_MS))) {
      child.kill('SIGKILL');
    }
  }

  private stderr(chunk: string): void {
    const lines = (this.partial + chunk).split(/\r?\n/);
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      this.keep(line);
    }
  }

  private keep(line: string): void {
    this.log.appendLine(`[server] ${line}`);
    this.tail.push(line);
    if (this.tail.length > STDERR_LINES) {
      this.tail.shift();
    }
  }

  private flushTail(): string[] {
    if (this.partial) {
      this.keep(this.partial);
      this.partial = '';
    }
    return [...this.tail];
  }

  private finish(end: ProcessEnd): void {
    if (this.ended !== undefined) {
      return;
    }
    this.ended = end;
    const how = end.spawnError ?? (end.signal ? `signal ${end.signal}` : `code ${end.code}`);
    this.log.appendLine(`[server] ended (${how})`);
    this.markExited();
  }
}
