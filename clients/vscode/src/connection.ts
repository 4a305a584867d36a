// The connection to the little-coder language server: finding and starting it, settings going to it,
// its commands, and clear messages when it is missing, fails to start or stops.

import * as fs from 'fs';
import * as vscode from 'vscode';
import {
  ApplyWorkspaceEditParams,
  ApplyWorkspaceEditRequest,
  ApplyWorkspaceEditResult,
  ClientCapabilities,
  CloseAction,
  CodeActionRequest,
  DidChangeConfigurationNotification,
  ErrorAction,
  ExecuteCommandRequest,
  FeatureState,
  LanguageClient,
  LanguageClientOptions,
  MessageType,
  RevealOutputChannelOn,
  ShowMessageNotification,
  ServerCapabilities,
  ShowMessageParams,
  StaticFeature,
  WorkDoneProgressCreateRequest,
} from 'vscode-languageclient/node';
import {
  MessageActions,
  OPEN_SETTINGS,
  RETRY,
  SHOW_LOG,
  commandErrorMessage,
  serverMessageActions,
  serverMissingMessage,
  serverStartFailedMessage,
  serverStoppedMessage,
} from './messages';
import {
  Command,
  EVENT_NOTIFICATION,
  SERVER_COMMAND_PREFIX,
  SESSION_FINISHED_NOTIFICATION,
  SessionStatus,
  isEventNotification,
  isSessionStatus,
} from './protocol';
import { STALE_REASON, notAppliedReason, staleDocuments } from './editReview';
import type { SummaryAction } from './review';
import {
  REVIEW_REQUEST,
  REVIEW_UPDATE_NOTIFICATION,
  ReviewParams,
  ReviewResult,
  ReviewUpdateParams,
  isReviewParams,
  isReviewUpdate,
} from './reviewModel';
import { ServerProcess } from './serverProcess';
import { FileProbe, resolveServer } from './serverCommand';
import { Sessions } from './sessions';
import { SECTION, serverSettings } from './settings';
import { StatusBar } from './statusBar';
import { initializationOptions, trustedValues } from './trust';

const CLIENT_ID = 'littleCoder';
const RESTART_COMMAND = 'little-coder.restart';
// How long a code action request made while the server starts waits for it.
const CODE_ACTION_WAIT_MS = 30000;
const STARTS_SESSION: ReadonlySet<string> = new Set([Command.implement, Command.ask, Command.revise]);

const probe: FileProbe = {
  isExecutable(file: string): boolean {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  },
};

/** Failures reach the user through the extension's own messages (what to install, which setting);
 * the client's generic "couldn't create connection to server" notifications would only repeat them
 * without the cause, so they go to the log alone. */
class LittleCoderClient extends LanguageClient {
  override error(message: string, data?: unknown, _showNotification?: boolean | 'force'): void {
    super.error(message, data, false);
  }

  // When the server dies during initialize, vscode-languageclient 9 rejects its internal start promise
  // after it has already let go of it, so the rejection goes unhandled. A second start() while starting
  // returns that very promise: holding it here marks the rejection handled. The caller still gets the
  // outcome from the first call (and checks isRunning(), since that call may resolve regardless).
  override start(): Promise<void> {
    const first = super.start();
    super.start().catch(() => undefined);
    return first;
  }

  // vscode-languageclient 9 calls stop() itself when initialize fails, and stop() then throws "Client
  // is not running and can't be stopped" into a promise nobody handles. Nothing runs then: say so.
  override stop(timeout?: number): Promise<void> {
    if (!this.isRunning()) {
      return Promise.resolve();
    }
    return super.stop(timeout);
  }
}

/** What the server offers that this extension serves its own way: a session's review in the editor
 * (the extension announces it: littleCoder/review instead of one annotated workspace edit), and code
 * actions, which the extension's provider registered at activation forwards (see codeActions). The
 * client must not register a code action provider of its own when the server is ready: any provider
 * registered while a Ctrl+. waits makes VS Code drop that request as "No code actions available". */
class EditorFeatures implements StaticFeature {
  // The server's code actions come with their commands: the client does not announce resolving them.
  codeActions = false;

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.experimental = { ...(capabilities.experimental as object | undefined), littleCoder: { review: 1 } };
  }

  preInitialize(capabilities: ServerCapabilities): void {
    this.codeActions = Boolean(capabilities.codeActionProvider);
    delete capabilities.codeActionProvider;
  }

  initialize(): void {}

  getState(): FeatureState {
    return { kind: 'static' };
  }

  clear(): void {
    this.codeActions = false;
  }
}

/** Where the server's reviews go (the editor's review UI). */
export interface ReviewHost {
  start(params: ReviewParams, token: vscode.CancellationToken): Promise<ReviewResult>;
  update(params: ReviewUpdateParams): void;
  reset(): void;
  summaryActions(message: string): SummaryAction[];
}

/** The settings payload for one scope (a workspace folder URI, or none). */
export function settingsFor(scope: vscode.Uri | undefined): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  const trusted = vscode.workspace.isTrusted;
  return serverSettings((key) => trustedValues(key, config.inspect(key), trusted));
}

export class ServerConnection implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private process: ServerProcess | undefined;
  private starting: Promise<LanguageClient | undefined> | undefined;
  private stopping = false;
  private stopInFlight: Promise<void> | undefined;
  // Edits are converted and applied one after the other, in the order the server sent them.
  private edits: Promise<unknown> = Promise.resolve();
  private features = new EditorFeatures();
  reviews: ReviewHost | undefined;

  constructor(
    private readonly log: vscode.OutputChannel,
    private readonly status: StatusBar,
    private readonly sessions: Sessions,
  ) {}

  /** The running client, starting the server first if needed; undefined (after telling the user) if it cannot run. */
  ensureStarted(): Promise<LanguageClient | undefined> {
    if (this.client?.isRunning()) {
      return Promise.resolve(this.client);
    }
    if (this.starting === undefined) {
      this.starting = this.start().finally(() => { this.starting = undefined; });
    }
    return this.starting;
  }

  async restart(): Promise<void> {
    if (this.starting !== undefined) {
      await this.starting;
    }
    await this.stop();
    await this.ensureStarted();
  }

  /** Send the littleCoder settings again (the server then pulls them through workspace/configuration). */
  async pushSettings(): Promise<void> {
    const client = this.client;
    if (client === undefined || !client.isRunning()) {
      return;
    }
    const settings = { [SECTION]: settingsFor(vscode.workspace.workspaceFolders?.[0]?.uri) };
    this.log.appendLine(`[extension] settings changed: ${JSON.stringify(settings[SECTION])}`);
    await client.sendNotification(DidChangeConfigurationNotification.type, { settings });
  }

  /** Run a server command; errors become a message to the user and an undefined result. */
  async execute<T>(command: string, args: unknown[]): Promise<T | undefined> {
    const client = await this.ensureStarted();
    if (client === undefined) {
      return undefined;
    }
    try {
      const result = await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
      const sessionId = (result as { sessionId?: unknown } | null)?.sessionId;
      if (typeof sessionId === 'string' && STARTS_SESSION.has(command)) {
        this.sessions.started(sessionId);
      }
      return result as T;
    } catch (error) {
      const message = commandErrorMessage(command, error);
      this.log.appendLine(`[extension] ${command} failed: ${message}`);
      void vscode.window.showWarningMessage(message);
      return undefined;
    }
  }

  /** Every session the server knows, oldest first. */
  async statuses(): Promise<SessionStatus[] | undefined> {
    const reply = await this.execute<{ sessions?: unknown[] }>(Command.status, [{}]);
    if (reply === undefined) {
      return undefined;
    }
    return (reply.sessions ?? []).filter(isSessionStatus);
  }

  /** Code actions for the provider registered at activation: a request made while the server is still
   * starting waits for it (so the first Ctrl+. after opening a file finds the actions). It never starts
   * a server itself: one that could not start is not retried (and reported) on every cursor move. */
  async codeActions(document: vscode.TextDocument, range: vscode.Range, context: vscode.CodeActionContext,
    token: vscode.CancellationToken): Promise<(vscode.Command | vscode.CodeAction)[] | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const client = await Promise.race([
      this.starting ?? Promise.resolve(this.client?.isRunning() ? this.client : undefined),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), CODE_ACTION_WAIT_MS);
        token.onCancellationRequested(() => resolve(undefined));
      }),
    ]).finally(() => clearTimeout(timer));
    if (client === undefined || !this.features.codeActions || token.isCancellationRequested) {
      return undefined;
    }
    const c2p = client.code2ProtocolConverter;
    const params = { textDocument: c2p.asTextDocumentIdentifier(document), range: c2p.asRange(range),
      context: c2p.asCodeActionContextSync(context) };
    try {
      const values = await client.sendRequest(CodeActionRequest.type, params, token);
      return token.isCancellationRequested || !values ? undefined
        : await client.protocol2CodeConverter.asCodeActionResult(values, token);
    } catch (error) {
      // VS Code asks on every cursor move, also while the server is being stopped (a restart, the window
      // closing); such a request fails for no reason the user should see.
      this.log.appendLine(`[extension] code actions: ${String(error)}`);
      return undefined;
    }
  }

  uriFor(uri: vscode.Uri): string {
    return this.client?.code2ProtocolConverter.asUri(uri) ?? uri.toString();
  }

  /** Stop the server; a second call while stopping waits for the same stop. */
  stop(): Promise<void> {
    if (this.stopInFlight === undefined) {
      this.stopInFlight = this.doStop().finally(() => { this.stopInFlight = undefined; });
    }
    return this.stopInFlight;
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    const process = this.process;
    this.client = undefined;
    this.process = undefined;
    if (client === undefined) {
      return;
    }
    this.stopping = true;
    try {
      if (client.isRunning()) {
        await client.stop();
      }
      await client.dispose();
    } catch (error) {
      this.log.appendLine(`[extension] stopping the server: ${String(error)}`);
    } finally {
      this.stopping = false;
      await process?.kill();
      this.reviews?.reset();
      this.sessions.reset();
      this.status.setServer('stopped');
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
  }

  // --- starting -------------------------------------------------------------------------------

  private async start(): Promise<LanguageClient | undefined> {
    this.status.setServer('starting');
    const folders = vscode.workspace.workspaceFolders?.map((f) => f.uri.fsPath) ?? [];
    const config = vscode.workspace.getConfiguration(SECTION);
    const resolution = resolveServer(
      { command: config.get<string>('server.command', ''), pythonPath: config.get<string>('server.pythonPath', '') },
      // An untrusted folder's own .venv is not run: its `little-coder` could be anything.
      { pathVariable: process.env.PATH ?? '', platform: process.platform,
        workspaceFolders: vscode.workspace.isTrusted ? folders : [] },
      probe,
    );
    if (!resolution.found) {
      const message = serverMissingMessage(resolution);
      this.log.appendLine(`[extension] ${message}`);
      this.status.setServer('missing');
      this.offer(vscode.window.showErrorMessage(message, OPEN_SETTINGS, SHOW_LOG, RETRY), 'littleCoder.server');
      return undefined;
    }
    const server = new ServerProcess(resolution.launch, folders[0], this.log);
    const client = new LittleCoderClient(CLIENT_ID, 'little-coder', () => server.start(), this.clientOptions());
    this.features = new EditorFeatures();
    client.registerFeature(this.features);
    this.process = server;
    this.client = client;
    let failure: unknown;
    try {
      await client.start();
    } catch (error) {
      failure = error;
    }
    // start() can also resolve without a running client: when the server exits during initialize,
    // the connection-closed path clears the promise start() returns.
    if (failure !== undefined || !client.isRunning()) {
      await server.waitForExit(1000);
      const message = serverStartFailedMessage(resolution.launch, server.end);
      this.log.appendLine(`[extension] ${message}` + (failure === undefined ? '' : ` (${String(failure)})`));
      this.status.setServer('failed');
      this.offer(vscode.window.showErrorMessage(message, OPEN_SETTINGS, SHOW_LOG, RETRY), 'littleCoder.server');
      this.client = undefined;
      this.process = undefined;
      await server.kill();
      await client.dispose().catch(() => undefined);
      return undefined;
    }
    this.listen(client);
    this.status.setServer('running');
    this.log.appendLine(`[extension] language server running (${resolution.launch.command})`);
    return client;
  }

  private clientOptions(): LanguageClientOptions {
    return {
      documentSelector: [{ scheme: 'file' }],
      outputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      // Without this the client shows the bare JSON-RPC error; start() reports the cause instead.
      initializationFailedHandler: () => false,
      initializationOptions: initializationOptions(settingsFor(vscode.workspace.workspaceFolders?.[0]?.uri),
        vscode.workspace.isTrusted),
      errorHandler: {
        error: (error, _message, count) => {
          this.log.appendLine(`[extension] connection error ${count ?? ''}: ${error.message}`);
          return { action: ErrorAction.Continue, handled: true };
        },
        closed: async () => {
          await this.closed();
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
      middleware: {
        workspace: {
          // The server pulls the `littleCoder` section; it gets the settings the user set, renamed
          // for the server, without the editor-only ones.
          configuration: async (params, token, next) => {
            const ours = params.items.map((item) => item.section === SECTION);
            const others = ours.every(Boolean) ? [] : await next(params, token);
            if (others instanceof Error) {
              return others;
            }
            return params.items.map((item, i) =>
              ours[i] ? settingsFor(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined) : (others as unknown[])[i]);
          },
        },
        // Server commands run from code actions come through here: send them ourselves, so a
        // failure shows the server's own words and the new session reaches the status bar.
        executeCommand: async (command, args, next) =>
          command.startsWith(SERVER_COMMAND_PREFIX) ? this.execute(command, args) : next(command, args),
      },
    };
  }

  private listen(client: LanguageClient): void {
    client.onRequest(ApplyWorkspaceEditRequest.type, (params) => {
      const next = this.edits.then(() => this.applyEdit(client, params));
      this.edits = next.catch(() => undefined);
      return next;
    });
    client.onRequest(WorkDoneProgressCreateRequest.type, (params) => {
      this.sessions.progressCreated(client, params.token);
    });
    client.onNotification(ShowMessageNotification.type, (params) => this.showServerMessage(params));
    client.onRequest(REVIEW_REQUEST, (params: unknown, token: vscode.CancellationToken): Promise<ReviewResult> => {
      if (this.reviews === undefined || !isReviewParams(params)) {
        this.log.appendLine(`[extension] a review the extension cannot show: ${JSON.stringify(params).slice(0, 300)}`);
        return Promise.resolve({ action: 'close', decisions: [], edited: [] });
      }
      return this.reviews.start(params, token);
    });
    client.onNotification(REVIEW_UPDATE_NOTIFICATION, (params: unknown) => {
      if (isReviewUpdate(params)) {
        this.reviews?.update(params);
      }
    });
    client.onNotification(EVENT_NOTIFICATION, (params: unknown) => {
      if (isEventNotification(params)) {
        this.sessions.event(params);
      }
    });
    client.onNotification(SESSION_FINISHED_NOTIFICATION, (params: unknown) => {
      if (isSessionStatus(params)) {
        this.sessions.finished(params);
      }
    });
  }

  /** workspace/applyEdit, answered with a failureReason whenever the edit was not applied. */
  private async applyEdit(client: LanguageClient, params: ApplyWorkspaceEditParams): Promise<ApplyWorkspaceEditResult> {
    const versions = new Map(vscode.workspace.textDocuments.map((d) => [d.uri.toString(), d.version]));
    const stale = staleDocuments(params.edit, (uri) => versions.get(vscode.Uri.parse(uri).toString()));
    if (stale.length > 0) {
      return { applied: false, failureReason: `${STALE_REASON}: ${stale.join(', ')}` };
    }
    try {
      const edit = await client.protocol2CodeConverter.asWorkspaceEdit(params.edit);
      const applied = await vscode.workspace.applyEdit(edit);
      return applied ? { applied } : { applied, failureReason: notAppliedReason(params.edit) };
    } catch (error) {
      // VS Code refuses some edits outright (a file to create that exists, a range past the end).
      const reason = error instanceof Error ? error.message : String(error);
      this.log.appendLine(`[extension] could not apply the server's edit: ${reason}`);
      return { applied: false, failureReason: reason };
    }
  }

  /** The connection closed: expected when we stop it, otherwise the server died. */
  private async closed(): Promise<void> {
    if (this.stopping || this.starting !== undefined) {
      return; // a start failure is reported by start() itself
    }
    const server = this.process;
    await server?.waitForExit(1000);
    this.client = undefined;
    this.process = undefined;
    this.reviews?.reset();
    this.sessions.reset();
    this.status.setServer('failed');
    const message = serverStoppedMessage(server?.end);
    this.log.appendLine(`[extension] ${message}`);
    this.offer(vscode.window.showErrorMessage(message, SHOW_LOG, RETRY), 'littleCoder.server');
  }

  /** window/showMessage from the server, with buttons where they help (settings, the log). */
  private showServerMessage(params: ShowMessageParams): void {
    const actions: MessageActions = serverMessageActions(params.message);
    this.log.appendLine(`[server message] ${params.message}`);
    if (actions.hidden) {
      return;
    }
    const show = params.type === MessageType.Error
      ? vscode.window.showErrorMessage
      : params.type === MessageType.Warning ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    const extra = this.reviews?.summaryActions(params.message) ?? [];
    const picked = Promise.resolve(show(params.message, ...extra.map((a) => a.title), ...actions.buttons))
      .then(async (title) => {
        const action = extra.find((a) => a.title === title);
        return action === undefined ? title : void await action.run();
      });
    this.offer(picked, actions.settingsQuery ?? SECTION);
  }

  /** Act on the button the user picks in a message. */
  private offer(choice: Thenable<string | undefined>, settingsQuery: string): void {
    Promise.resolve(choice).then(async (picked) => {
      if (picked === OPEN_SETTINGS) {
        await vscode.commands.executeCommand('workbench.action.openSettings', settingsQuery);
      } else if (picked === SHOW_LOG) {
        this.log.show(true);
      } else if (picked === RETRY) {
        await vscode.commands.executeCommand(RESTART_COMMAND);
      }
    }).catch((error: unknown) => this.log.appendLine(`[extension] ${String(error)}`));
  }
}
