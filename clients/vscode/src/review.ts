// The review of a session's changes in the editor (littleCoder/review): per file, a diff between the
// file as it is (left, read-only) and an editable proposal document (right) holding exactly what Apply
// will write; a CodeLens over every hunk to decide it, decorations for its state, a session view listing
// every file and hunk, and the commands (with keys) to move between hunks and to apply, discard or close.
// Nothing reaches the user's files from here: the reply tells the server what to apply.

import * as vscode from 'vscode';
import {
  Decision,
  REOPEN_REVIEW_COMMAND,
  Region,
  ReviewAction,
  ReviewFile,
  ReviewHunk,
  ReviewModel,
  ReviewParams,
  ReviewResult,
  ReviewUpdateParams,
  SelectionTest,
  TEST_SELECTION_COMMAND,
  TextChange,
  isSelectionTest,
} from './reviewModel';
import { REVISE } from './messages';
import { Sessions } from './sessions';

export const PROPOSAL_SCHEME = 'little-coder-proposal';
const CURRENT_SCHEME = 'little-coder-current';
const VIEW_ID = 'littleCoder.review';
const OPEN_CONTEXT = 'littleCoder.reviewOpen';
const APPLY_ANYWAY = 'Apply anyway';
const BACK = 'Back to the review';
const REOPEN = 'Reopen review';
const REVISE_COMMAND = 'little-coder.revise';
const SAVE_DELAY_MS = 400;

export const REVIEW_COMMANDS = {
  accept: 'little-coder.review.accept',
  reject: 'little-coder.review.reject',
  keepMine: 'little-coder.review.keepMine',
  takeAgent: 'little-coder.review.takeAgent',
  keepBoth: 'little-coder.review.keepBoth',
  acceptAll: 'little-coder.review.acceptAll',
  rejectAll: 'little-coder.review.rejectAll',
  next: 'little-coder.review.next',
  previous: 'little-coder.review.previous',
  apply: 'little-coder.review.apply',
  discard: 'little-coder.review.discard',
  close: 'little-coder.review.close',
  reveal: 'little-coder.review.reveal',
  reopen: 'little-coder.review.reopen',
} as const;

/** A button on the server's summary of a review, and what it does. */
export interface SummaryAction {
  title: string;
  run: () => Thenable<unknown>;
}

/** Runs a server command (workspace/executeCommand); undefined when it failed (the user was told). */
export type RunCommand = (command: string, args: unknown[]) => Promise<unknown>;

/** The proposal documents' contents: editable, kept in memory, never on disk. */
class ProposalFiles implements vscode.FileSystemProvider {
  private readonly files = new Map<string, { data: Uint8Array; mtime: number }>();
  private readonly emitter = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.emitter.event;

  set(uri: vscode.Uri, text: string): void {
    this.files.set(uri.toString(), { data: Buffer.from(text, 'utf8'), mtime: Date.now() });
  }

  drop(uri: vscode.Uri): void {
    this.files.delete(uri.toString());
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  stat(uri: vscode.Uri): vscode.FileStat {
    const file = this.get(uri);
    return { type: vscode.FileType.File, ctime: file.mtime, mtime: file.mtime, size: file.data.byteLength };
  }

  readFile(uri: vscode.Uri): Uint8Array {
    return this.get(uri).data;
  }

  writeFile(uri: vscode.Uri, content: Uint8Array): void {
    this.get(uri); // only proposals that exist can be saved
    this.files.set(uri.toString(), { data: content, mtime: Date.now() });
  }

  readDirectory(): [string, vscode.FileType][] {
    return [];
  }

  createDirectory(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  delete(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  rename(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  private get(uri: vscode.Uri): { data: Uint8Array; mtime: number } {
    const file = this.files.get(uri.toString());
    if (file === undefined) {
      throw vscode.FileSystemError.FileNotFound(uri);
    }
    return file;
  }
}

/** One open review: the model, where its documents are, and the pending reply to the server. */
interface OpenReview {
  model: ReviewModel;
  reply: (result: ReviewResult) => void;
  test?: string;
  busy: boolean;
}

type Node =
  | { kind: 'session'; sessionId: string }
  | { kind: 'file'; sessionId: string; uri: string }
  | { kind: 'hunk'; sessionId: string; uri: string; id: string };

function lensTitle(model: ReviewModel, hunk: ReviewHunk): string {
  const where = `${model.position(hunk.id)} of ${model.hunks().length}`;
  const state = model.stateWords(hunk.id);
  if (hunk.kind === 'conflict') {
    return `$(warning) ${where} · ${state}${hunk.reason ? ` — ${hunk.reason}` : ''}`;
  }
  return `${model.applied(hunk.id) ? '$(check)' : '$(circle-slash)'} ${where} · ${state}`;
}

/** The end of a test run's output: where the summary and the first error are. */
function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

function codeBlock(text: string): string {
  return `\n\`\`\`\n${text.replace(/```/g, '``\u200b`')}\n\`\`\`\n`;
}

export class Reviews implements vscode.Disposable {
  private readonly open = new Map<string, OpenReview>();
  private readonly closed = new Map<string, string>(); // sessionId -> title, reviews closed to reopen later
  // What the server's summary of a just-answered review starts with -> what its buttons offer.
  private readonly recentlyReplied = new Map<string, SummaryAction[]>();
  private readonly proposals = new ProposalFiles();
  private readonly currentChanged = new vscode.EventEmitter<vscode.Uri>();
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  private readonly treeChanged = new vscode.EventEmitter<Node | undefined>();
  private readonly tree: vscode.TreeView<Node>;
  private readonly item: vscode.StatusBarItem;
  private readonly saves = new Map<string, NodeJS.Timeout>();
  // Proposal documents are rewritten one edit at a time; the changes of our own edit are not the user's.
  private renders: Promise<void> = Promise.resolve();
  private readonly rendering = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly decorations = {
    accepted: vscode.window.createTextEditorDecorationType({
      isWholeLine: true, borderStyle: 'solid', borderWidth: '0 0 0 3px',
      borderColor: new vscode.ThemeColor('editorGutter.addedBackground'),
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.addedForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Left,
    }),
    edited: vscode.window.createTextEditorDecorationType({
      isWholeLine: true, borderStyle: 'solid', borderWidth: '0 0 0 3px',
      borderColor: new vscode.ThemeColor('editorGutter.modifiedBackground'),
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.modifiedForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Left,
    }),
    rejected: vscode.window.createTextEditorDecorationType({
      isWholeLine: true, borderStyle: 'dashed', borderWidth: '0 0 0 3px',
      borderColor: new vscode.ThemeColor('disabledForeground'),
    }),
    conflict: vscode.window.createTextEditorDecorationType({
      isWholeLine: true, borderStyle: 'solid', borderWidth: '0 0 0 3px',
      borderColor: new vscode.ThemeColor('editorWarning.foreground'),
      backgroundColor: new vscode.ThemeColor('merge.incomingContentBackground'),
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.warningForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Full,
    }),
  };

  constructor(
    private readonly run: RunCommand,
    private readonly sessions: Sessions,
    private readonly log: vscode.OutputChannel,
  ) {
    this.item = vscode.window.createStatusBarItem('littleCoder.review', vscode.StatusBarAlignment.Left, 9);
    this.item.name = 'little-coder review';
    this.item.command = `${VIEW_ID}.focus`;
    this.tree = vscode.window.createTreeView(VIEW_ID, {
      treeDataProvider: {
        onDidChangeTreeData: this.treeChanged.event,
        getChildren: (node?: Node) => this.children(node),
        getTreeItem: (node: Node) => this.treeItem(node),
        getParent: (node: Node) => this.parent(node),
      },
    });
    const lenses: vscode.CodeLensProvider = {
      onDidChangeCodeLenses: this.lensesChanged.event,
      provideCodeLenses: (document) => this.lenses(document),
    };
    this.disposables.push(
      this.item, this.tree, this.currentChanged, this.lensesChanged, this.treeChanged,
      ...Object.values(this.decorations),
      vscode.workspace.registerFileSystemProvider(PROPOSAL_SCHEME, this.proposals, { isCaseSensitive: true }),
      vscode.workspace.registerTextDocumentContentProvider(CURRENT_SCHEME, {
        onDidChange: this.currentChanged.event,
        provideTextDocumentContent: (uri) => this.currentText(uri),
      }),
      vscode.languages.registerCodeLensProvider({ scheme: PROPOSAL_SCHEME }, lenses),
      vscode.workspace.onDidChangeTextDocument((event) => this.documentChanged(event)),
      vscode.window.onDidChangeVisibleTextEditors(() => this.decorate()),
      vscode.window.onDidChangeActiveTextEditor(() => this.showItem()),
      vscode.window.onDidChangeTextEditorSelection((event) => {
        if (event.textEditor.document.uri.scheme === PROPOSAL_SCHEME) {
          this.showItem();
        }
      }),
    );
  }

  registerCommands(context: vscode.ExtensionContext): void {
    const register = (id: string, run: (...args: unknown[]) => unknown): void => {
      context.subscriptions.push(vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          await run(...args);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          this.log.appendLine(`[review] ${id} failed: ${reason}`);
          void vscode.window.showErrorMessage(`little-coder: the review could not do that: ${reason}`);
        }
      }));
    };
    const decide = (decision: Decision) => (sessionId?: unknown, id?: unknown) => this.decideAt(decision, sessionId, id);
    register(REVIEW_COMMANDS.accept, decide('accept'));
    register(REVIEW_COMMANDS.reject, decide('reject'));
    register(REVIEW_COMMANDS.keepMine, decide('mine'));
    register(REVIEW_COMMANDS.takeAgent, decide('agent'));
    register(REVIEW_COMMANDS.keepBoth, decide('both'));
    register(REVIEW_COMMANDS.acceptAll, (sessionId?: unknown) => this.decideAll(true, sessionId));
    register(REVIEW_COMMANDS.rejectAll, (sessionId?: unknown) => this.decideAll(false, sessionId));
    register(REVIEW_COMMANDS.next, () => this.step(1));
    register(REVIEW_COMMANDS.previous, () => this.step(-1));
    register(REVIEW_COMMANDS.apply, (sessionId?: unknown) => this.apply(sessionId));
    register(REVIEW_COMMANDS.discard, (sessionId?: unknown) => this.finish('discard', sessionId));
    register(REVIEW_COMMANDS.close, (sessionId?: unknown) => this.finish('close', sessionId));
    register(REVIEW_COMMANDS.reveal, (sessionId?: unknown, uri?: unknown, id?: unknown) =>
      this.reveal(String(sessionId), String(uri), typeof id === 'string' ? id : undefined));
    register(REVIEW_COMMANDS.reopen, () => this.reopen());
  }

  // --- the protocol -----------------------------------------------------------------------------

  /** littleCoder/review: show the proposal; the promise settles with the user's reply. */
  start(params: ReviewParams, token: vscode.CancellationToken): Promise<ReviewResult> {
    const previous = this.open.get(params.sessionId);
    previous?.reply(previous.model.result('close'));
    this.closed.delete(params.sessionId);
    this.sessions.markReviewedInEditor(params.sessionId);
    return new Promise<ReviewResult>((resolve) => {
      const model = new ReviewModel(params);
      let answered = false;
      const review: OpenReview = { model, busy: false, reply: (result) => {
        if (answered) {
          return;
        }
        answered = true;
        if (this.open.get(params.sessionId) === review) {
          this.open.delete(params.sessionId);
        }
        void this.teardown(model);
        resolve(result);
      } };
      this.open.set(params.sessionId, review);
      token.onCancellationRequested(() => review.reply(model.result('close')));
      this.log.appendLine(`[review] ${params.label}: ${model.hunks().length} hunk(s) in ${params.files.length} file(s)`);
      this.show(review).catch((error: unknown) => this.log.appendLine(`[review] showing the review: ${String(error)}`));
    });
  }

  /** littleCoder/reviewUpdate: the user changed a file under review; the server rebased its hunks. */
  update(params: ReviewUpdateParams): void {
    const review = this.open.get(params.sessionId);
    if (review === undefined) {
      return;
    }
    review.model.update(params.file);
    review.test = undefined;
    this.log.appendLine(`[review] ${params.file.path} changed: ${params.file.hunks.length} hunk(s) to review`);
    this.currentChanged.fire(this.currentUri(params.sessionId, params.file));
    this.refresh(review, params.file.uri).catch((error: unknown) =>
      this.log.appendLine(`[review] redrawing ${params.file.path}: ${String(error)}`));
  }

  /** The server stopped: its reviews cannot be answered any more. */
  reset(): void {
    for (const review of [...this.open.values()]) {
      review.reply(review.model.result('close'));
    }
  }

  /** Buttons for the server's summary of a review the user just answered: Revise when something was
   * left out, Reopen review after a Close. */
  summaryActions(message: string): SummaryAction[] {
    for (const [start, actions] of this.recentlyReplied) {
      if (message.startsWith(start)) {
        this.recentlyReplied.delete(start);
        return actions;
      }
    }
    return [];
  }

  dispose(): void {
    this.reset();
    for (const timer of this.saves.values()) {
      clearTimeout(timer);
    }
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }

  // --- documents ----------------------------------------------------------------------------------

  private proposalUri(sessionId: string, file: ReviewFile): vscode.Uri {
    return vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: `/${sessionId}/${file.path}` });
  }

  private currentUri(sessionId: string, file: ReviewFile): vscode.Uri {
    return vscode.Uri.from({ scheme: CURRENT_SCHEME, path: `/${sessionId}/${file.path}` });
  }

  /** The review and file behind a proposal or snapshot document. */
  private locate(uri: vscode.Uri): { review: OpenReview; file: ReviewFile } | undefined {
    const [, sessionId, ...rest] = uri.path.split('/');
    const review = this.open.get(sessionId);
    const path = rest.join('/');
    const file = review?.model.files.find((f) => f.path === path);
    return review && file ? { review, file } : undefined;
  }

  private currentText(uri: vscode.Uri): string {
    return this.locate(uri)?.file.currentText ?? '';
  }

  private async show(review: OpenReview): Promise<void> {
    const { model } = review;
    for (const file of model.files) {
      this.proposals.set(this.proposalUri(model.sessionId, file), model.proposal(file.uri).text);
    }
    await vscode.commands.executeCommand('setContext', OPEN_CONTEXT, true);
    this.treeChanged.fire(undefined);
    const first = model.files.find((f) => f.hunks.length > 0) ?? model.files[0];
    for (const file of [...model.files].reverse()) {
      await this.openDiff(model.sessionId, file, file !== first);
    }
    if (first !== undefined && first.hunks.length > 0) {
      await this.reveal(model.sessionId, first.uri, first.hunks[0].id);
    }
    const node: Node = { kind: 'session', sessionId: model.sessionId };
    await Promise.resolve(this.tree.reveal(node, { select: false, focus: false, expand: 2 })).then(undefined,
      (error: unknown) => this.log.appendLine(`[review] showing the session view: ${String(error)}`));
    this.decorate();
    this.showItem();
  }

  private async openDiff(sessionId: string, file: ReviewFile, background = false): Promise<vscode.TextEditor | undefined> {
    const proposal = this.proposalUri(sessionId, file);
    const title = `${file.path}${file.created ? ' (new file)' : ''} ↔ little-coder's proposal`;
    await vscode.commands.executeCommand('vscode.diff', this.currentUri(sessionId, file), proposal, title,
      { preview: false, preserveFocus: background });
    return vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === proposal.toString());
  }

  /** Bring the proposal document in line with the model, changing only the lines that differ. */
  private render(review: OpenReview, file: ReviewFile): Promise<void> {
    const next = this.renders.then(() => this.renderNow(review, file));
    this.renders = next.catch((error: unknown) => this.log.appendLine(`[review] redrawing ${file.path}: ${String(error)}`));
    return this.renders;
  }

  private async renderNow(review: OpenReview, file: ReviewFile): Promise<void> {
    const uri = this.proposalUri(review.model.sessionId, file);
    const text = review.model.proposal(file.uri).text;
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (document === undefined) {
      this.proposals.set(uri, text);
      return;
    }
    const before = document.getText();
    if (before === text) {
      return;
    }
    let head = 0;
    while (head < before.length && head < text.length && before[head] === text[head]) {
      head++;
    }
    let tail = 0;
    while (tail < before.length - head && tail < text.length - head
      && before[before.length - 1 - tail] === text[text.length - 1 - tail]) {
      tail++;
    }
    const edit = new vscode.WorkspaceEdit();
    edit.replace(uri, new vscode.Range(document.positionAt(head), document.positionAt(before.length - tail)),
      text.slice(head, text.length - tail));
    this.rendering.add(uri.toString());
    try {
      await vscode.workspace.applyEdit(edit);
    } finally {
      this.rendering.delete(uri.toString());
    }
    this.saveSoon(document, 0);
  }

  /** Keep the proposal saved (in memory), so closing its editor never asks to save it. */
  private saveSoon(document: vscode.TextDocument, delay = SAVE_DELAY_MS): void {
    const key = document.uri.toString();
    clearTimeout(this.saves.get(key));
    this.saves.set(key, setTimeout(() => {
      this.saves.delete(key);
      if (document.isDirty && !document.isClosed) {
        document.save().then(undefined, (error: unknown) => this.log.appendLine(`[review] ${String(error)}`));
      }
    }, delay));
  }

  private documentChanged(event: vscode.TextDocumentChangeEvent): void {
    if (event.document.uri.scheme !== PROPOSAL_SCHEME || event.contentChanges.length === 0
      || this.rendering.has(event.document.uri.toString())) {
      return;
    }
    const found = this.locate(event.document.uri);
    if (found === undefined) {
      return;
    }
    const { review, file } = found;
    const after = event.document.getText();
    if (after === review.model.proposal(file.uri).text) {
      return; // our own rendering, or an edit that changed nothing
    }
    const changes: TextChange[] = event.contentChanges.map((c) => ({
      startLine: c.range.start.line, startCharacter: c.range.start.character,
      endLine: c.range.end.line, endCharacter: c.range.end.character, text: c.text,
    }));
    const touched = review.model.applyUserEdit(file.uri, changes, after);
    if (touched === undefined) {
      void vscode.window.showWarningMessage(`little-coder: only the agent's changes can be edited in the review; `
        + `the other lines are ${file.path} as it is now (edit them in the file itself).`);
      void this.render(review, file);
      return;
    }
    review.test = undefined;
    this.saveSoon(event.document);
    this.redraw(review);
  }

  // --- decisions ------------------------------------------------------------------------------------

  /** The review a command without arguments means: the active proposal's, else the only one open. */
  private current(sessionId?: unknown): OpenReview | undefined {
    if (typeof sessionId === 'string') {
      return this.open.get(sessionId);
    }
    const editor = vscode.window.activeTextEditor;
    if (editor?.document.uri.scheme === PROPOSAL_SCHEME) {
      return this.locate(editor.document.uri)?.review;
    }
    return this.open.size === 1 ? [...this.open.values()][0] : undefined;
  }

  /** The hunk under the cursor of the active proposal (or the next one below it). */
  private hunkAtCursor(): { review: OpenReview; file: ReviewFile; id: string } | undefined {
    const editor = vscode.window.activeTextEditor;
    if (editor?.document.uri.scheme !== PROPOSAL_SCHEME) {
      return undefined;
    }
    const found = this.locate(editor.document.uri);
    if (found === undefined) {
      return undefined;
    }
    const line = editor.selection.active.line;
    const { regions } = found.review.model.proposal(found.file.uri);
    const region = regions.find((r) => line >= r.start && line < Math.max(r.end, r.start + 1))
      ?? regions.find((r) => r.start >= line) ?? regions[regions.length - 1];
    return region ? { ...found, id: region.id } : undefined;
  }

  private async decideAt(decision: Decision, sessionId?: unknown, id?: unknown): Promise<void> {
    const target = typeof sessionId === 'string' && typeof id === 'string'
      ? (() => {
        const review = this.open.get(sessionId);
        const file = review?.model.fileOf(id);
        return review && file ? { review, file, id } : undefined;
      })()
      : this.hunkAtCursor();
    if (target === undefined) {
      void vscode.window.showInformationMessage('little-coder: put the cursor on a change in the review first.');
      return;
    }
    const hunk = target.review.model.hunk(target.id);
    if (!target.review.model.decide(target.id, decision)) {
      const choices = hunk?.kind === 'conflict' ? 'Keep mine, Take agent\'s or Keep both' : 'Accept or Reject';
      void vscode.window.showInformationMessage(`little-coder: this is a ${hunk?.kind ?? 'change'}: ${choices}.`);
      return;
    }
    target.review.test = undefined;
    await this.refresh(target.review, target.file.uri);
  }

  private async decideAll(accept: boolean, sessionId?: unknown): Promise<void> {
    const review = this.current(sessionId);
    if (review === undefined) {
      return;
    }
    review.model.decideAll(accept);
    review.test = undefined;
    for (const file of review.model.files) {
      await this.render(review, file);
    }
    this.redraw(review);
  }

  private async refresh(review: OpenReview, uri: string): Promise<void> {
    const file = review.model.file(uri);
    if (file !== undefined) {
      await this.render(review, file);
    }
    this.redraw(review);
  }

  private redraw(review: OpenReview): void {
    this.lensesChanged.fire();
    this.treeChanged.fire(undefined);
    this.decorate();
    this.showItem();
    this.tree.message = review.test;
  }

  // --- moving around -----------------------------------------------------------------------------

  private async step(direction: 1 | -1): Promise<void> {
    const review = this.current();
    if (review === undefined) {
      return;
    }
    const hunks = review.model.hunks();
    if (hunks.length === 0) {
      return;
    }
    const here = this.hunkAtCursor();
    const editor = vscode.window.activeTextEditor;
    let index: number;
    if (here === undefined || editor === undefined) {
      index = direction === 1 ? 0 : hunks.length - 1;
    } else {
      const at = hunks.findIndex((h) => h.id === here.id);
      const region = review.model.proposal(here.file.uri).regions.find((r) => r.id === here.id);
      const line = editor.selection.active.line;
      // Before the hunk the cursor is near, "next" goes to that hunk itself.
      const ahead = region !== undefined && line < region.start;
      index = direction === 1 ? (ahead ? at : at + 1) : at - 1;
      index = (index + hunks.length) % hunks.length;
    }
    const hunk = hunks[index];
    const file = review.model.fileOf(hunk.id);
    if (file !== undefined) {
      await this.reveal(review.model.sessionId, file.uri, hunk.id);
    }
  }

  private async reveal(sessionId: string, uri: string, id?: string): Promise<void> {
    const review = this.open.get(sessionId);
    const file = review?.model.file(uri);
    if (review === undefined || file === undefined) {
      return;
    }
    const active = vscode.window.activeTextEditor;
    const editor = active?.document.uri.toString() === this.proposalUri(sessionId, file).toString() ? active
      : await this.openDiff(sessionId, file);
    const region: Region | undefined = review.model.proposal(uri).regions.find((r) => r.id === id);
    if (editor !== undefined && region !== undefined) {
      const line = Math.min(region.start, Math.max(0, editor.document.lineCount - 1));
      const start = new vscode.Position(line, 0);
      editor.selection = new vscode.Selection(start, start);
      editor.revealRange(new vscode.Range(start, new vscode.Position(Math.max(line, region.end - 1), 0)),
        vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    }
    this.showItem();
  }

  // --- finishing ------------------------------------------------------------------------------------

  private async apply(sessionId?: unknown): Promise<void> {
    const review = this.current(sessionId);
    if (review === undefined || review.busy) {
      return;
    }
    review.busy = true;
    try {
      const { model } = review;
      const problems = model.dependencyProblems();
      if (problems.length > 0) {
        const picked = await vscode.window.showWarningMessage(`little-coder: ${problems.join('; ')}.`,
          { modal: true, detail: 'Applying this selection may leave code that uses names nothing defines.' },
          APPLY_ANYWAY, BACK);
        if (picked !== APPLY_ANYWAY) {
          return;
        }
      }
      if (model.isPartial()) {
        const result = await this.testSelection(review);
        if (result === undefined) {
          return;
        }
        if (result.ran && result.passed === false) {
          const picked = await vscode.window.showWarningMessage(`little-coder: ${result.summary}`,
            { modal: true, detail: lastLines(result.output, 12) }, APPLY_ANYWAY, BACK);
          if (picked !== APPLY_ANYWAY) {
            return;
          }
        }
      }
      await this.reply(review, 'apply');
    } finally {
      review.busy = false;
    }
  }

  /** Run the session's tests on exactly this selection; its summary shows in the review. */
  private async testSelection(review: OpenReview): Promise<SelectionTest | undefined> {
    const { model } = review;
    const reply = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'little-coder: testing your selection…' },
      () => this.run(TEST_SELECTION_COMMAND, [{ sessionId: model.sessionId, ...model.selection() }]),
    );
    if (!isSelectionTest(reply)) {
      return undefined; // the failure was shown by the connection
    }
    review.test = `${reply.passed === false ? '✗' : reply.passed ? '✓' : '–'} ${reply.summary}`;
    this.log.appendLine(`[review] ${model.params.label}: ${reply.summary}${reply.output ? `\n${reply.output}` : ''}`);
    this.redraw(review);
    if (reply.passed !== false) {
      void vscode.window.showInformationMessage(`little-coder: ${reply.summary}`);
    }
    return reply;
  }

  private async finish(action: 'discard' | 'close', sessionId?: unknown): Promise<void> {
    const review = this.current(sessionId);
    if (review === undefined || review.busy) {
      return;
    }
    if (action === 'close') {
      this.closed.set(review.model.sessionId, review.model.params.title);
    }
    await this.reply(review, action);
  }

  private async reply(review: OpenReview, action: ReviewAction): Promise<void> {
    const result = review.model.result(action);
    const { sessionId } = review.model;
    const leftOut = action === 'discard' || review.model.hunks().some((h) => !review.model.applied(h.id));
    const actions: SummaryAction[] = action === 'close' ? [{ title: REOPEN, run: () => this.reopen(sessionId) }]
      : leftOut ? [{ title: REVISE, run: () => vscode.commands.executeCommand(REVISE_COMMAND) }] : [];
    this.recentlyReplied.set(`little-coder: ${review.model.params.title}`, actions);
    this.log.appendLine(`[review] ${review.model.params.label}: ${action} ${JSON.stringify(result.decisions)}`);
    // Save first: a dirty proposal would make closing its editor ask whether to save it.
    await Promise.all(vscode.workspace.textDocuments.filter((d) => d.uri.scheme === PROPOSAL_SCHEME && d.isDirty
      && this.locate(d.uri)?.review === review).map((d) => d.save()));
    review.reply(result);
  }

  private async reopen(sessionId?: string): Promise<void> {
    let id = sessionId;
    if (id === undefined) {
      const picks = [...this.closed].map(([session, title]) => ({ label: title, session }));
      if (picks.length === 0) {
        void vscode.window.showInformationMessage('little-coder: no closed review to reopen.');
        return;
      }
      id = picks.length === 1 ? picks[0].session
        : (await vscode.window.showQuickPick(picks, { title: 'little-coder: Reopen which review?' }))?.session;
    }
    if (id !== undefined) {
      this.closed.delete(id);
      await this.run(REOPEN_REVIEW_COMMAND, [{ sessionId: id }]);
    }
  }

  /** The review is over: its editors close, its documents go. */
  private async teardown(model: ReviewModel): Promise<void> {
    const ours = (uri: vscode.Uri | undefined): boolean =>
      uri?.scheme === PROPOSAL_SCHEME && uri.path.startsWith(`/${model.sessionId}/`);
    const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) =>
      (tab.input instanceof vscode.TabInputTextDiff && ours(tab.input.modified))
      || (tab.input instanceof vscode.TabInputText && ours(tab.input.uri)));
    await Promise.resolve(vscode.window.tabGroups.close(tabs, true)).then(undefined,
      (error: unknown) => this.log.appendLine(`[review] closing the review's editors: ${String(error)}`));
    for (const file of model.files) {
      this.proposals.drop(this.proposalUri(model.sessionId, file));
    }
    await vscode.commands.executeCommand('setContext', OPEN_CONTEXT, this.open.size > 0);
    this.tree.message = undefined;
    this.treeChanged.fire(undefined);
    this.lensesChanged.fire();
    this.showItem();
  }

  // --- what is drawn --------------------------------------------------------------------------------

  private lenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const found = this.locate(document.uri);
    if (found === undefined) {
      return [];
    }
    const { review, file } = found;
    const { model } = review;
    const lenses: vscode.CodeLens[] = [];
    for (const region of model.proposal(file.uri).regions) {
      const hunk = model.hunk(region.id);
      if (hunk === undefined) {
        continue;
      }
      const line = Math.min(region.start, Math.max(0, document.lineCount - 1));
      const range = new vscode.Range(line, 0, line, 0);
      const args = [model.sessionId, hunk.id];
      const choice = (title: string, command: string): vscode.CodeLens =>
        new vscode.CodeLens(range, { title, command, arguments: args });
      lenses.push(new vscode.CodeLens(range, { title: lensTitle(model, hunk), command: REVIEW_COMMANDS.reveal,
        arguments: [model.sessionId, file.uri, hunk.id] }));
      if (hunk.kind === 'change') {
        lenses.push(choice('Accept', REVIEW_COMMANDS.accept), choice('Reject', REVIEW_COMMANDS.reject));
      } else {
        lenses.push(choice('Keep mine', REVIEW_COMMANDS.keepMine), choice('Take agent\'s', REVIEW_COMMANDS.takeAgent),
          choice('Keep both', REVIEW_COMMANDS.keepBoth));
      }
    }
    return lenses;
  }

  private decorate(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.scheme !== PROPOSAL_SCHEME) {
        continue;
      }
      const found = this.locate(editor.document.uri);
      const sets: Record<keyof Reviews['decorations'], vscode.DecorationOptions[]> = {
        accepted: [], edited: [], rejected: [], conflict: [],
      };
      if (found !== undefined) {
        const { model } = found.review;
        for (const region of model.proposal(found.file.uri).regions) {
          const hunk = model.hunk(region.id);
          if (hunk === undefined || region.end <= region.start) {
            continue;
          }
          const range = new vscode.Range(region.start, 0, region.end - 1, 0);
          const kind = hunk.kind === 'conflict' ? 'conflict'
            : !model.applied(hunk.id) ? 'rejected' : model.edited(hunk.id) !== undefined ? 'edited' : 'accepted';
          sets[kind].push({ range, hoverMessage: this.hover(model, hunk) });
        }
      }
      for (const [kind, type] of Object.entries(this.decorations) as [keyof Reviews['decorations'], vscode.TextEditorDecorationType][]) {
        editor.setDecorations(type, sets[kind]);
      }
    }
  }

  private hover(model: ReviewModel, hunk: ReviewHunk): vscode.MarkdownString {
    const text = new vscode.MarkdownString(`**${hunk.label}** — ${model.stateWords(hunk.id)}\n\n`);
    if (hunk.kind === 'conflict') {
      text.appendMarkdown(`${hunk.reason}\n\nYours:${codeBlock(hunk.oldText)}\nThe agent's:${codeBlock(hunk.newText)}`);
    }
    for (const dependency of hunk.dependsOn ?? []) {
      const needed = model.hunk(dependency.hunk);
      text.appendMarkdown(`\n\nUses ${dependency.names.join(', ')} from ${needed?.label ?? 'another change'}.`);
    }
    return text;
  }

  private showItem(): void {
    if (this.open.size === 0) {
      this.item.hide();
      return;
    }
    const here = this.hunkAtCursor();
    const review = here?.review ?? this.current();
    if (review === undefined) {
      this.item.text = `$(git-compare) little-coder: ${this.open.size} reviews open`;
    } else if (here !== undefined) {
      const { model } = here.review;
      this.item.text = `$(git-compare) ${model.position(here.id)} of ${model.hunks().length} · `
        + `${model.stateWords(here.id)}${review.test ? ` · ${review.test}` : ''}`;
    } else {
      this.item.text = `$(git-compare) little-coder review: ${review.model.summary()}${review.test ? ` · ${review.test}` : ''}`;
    }
    this.item.tooltip = 'The little-coder review: Alt+] / Alt+[ next and previous change, Ctrl+Alt+Enter applies';
    this.item.show();
  }

  // --- the session view -------------------------------------------------------------------------------

  private children(node?: Node): Node[] {
    if (node === undefined) {
      return [...this.open.keys()].map((sessionId) => ({ kind: 'session', sessionId }));
    }
    const review = this.open.get(node.sessionId);
    if (review === undefined) {
      return [];
    }
    if (node.kind === 'session') {
      return review.model.files.map((f) => ({ kind: 'file', sessionId: node.sessionId, uri: f.uri }));
    }
    if (node.kind === 'file') {
      return (review.model.file(node.uri)?.hunks ?? []).map((h) => ({ ...node, kind: 'hunk', id: h.id }));
    }
    return [];
  }

  private parent(node: Node): Node | undefined {
    if (node.kind === 'hunk') {
      return { kind: 'file', sessionId: node.sessionId, uri: node.uri };
    }
    return node.kind === 'file' ? { kind: 'session', sessionId: node.sessionId } : undefined;
  }

  private treeItem(node: Node): vscode.TreeItem {
    const review = this.open.get(node.sessionId);
    const model = review?.model;
    if (node.kind === 'session') {
      const item = new vscode.TreeItem(model?.params.title ?? node.sessionId, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `session:${node.sessionId}`;
      item.description = model ? `${model.summary()}${model.params.unfinished ? ` · ${model.params.unfinished}` : ''}` : '';
      item.tooltip = review?.test ?? model?.params.label;
      item.iconPath = new vscode.ThemeIcon('git-compare');
      item.contextValue = 'session';
      return item;
    }
    const file = model?.file(node.uri);
    if (node.kind === 'file') {
      const item = new vscode.TreeItem(file?.path ?? node.uri, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `file:${node.sessionId}:${node.uri}`;
      const hunks = file?.hunks ?? [];
      const taken = hunks.filter((h) => model?.applied(h.id)).length;
      item.description = hunks.length === 0 ? 'no changes left' : `${taken} of ${hunks.length} applied`
        + (file?.created ? ' · new file' : '');
      item.resourceUri = vscode.Uri.parse(node.uri);
      item.iconPath = vscode.ThemeIcon.File;
      item.command = { title: 'Show', command: REVIEW_COMMANDS.reveal, arguments: [node.sessionId, node.uri, hunks[0]?.id] };
      return item;
    }
    const hunk = model?.hunk(node.id);
    const item = new vscode.TreeItem(hunk?.label ?? node.id, vscode.TreeItemCollapsibleState.None);
    item.id = `hunk:${node.sessionId}:${node.id}`;
    if (model !== undefined && hunk !== undefined) {
      item.description = model.stateWords(hunk.id);
      item.tooltip = this.hover(model, hunk);
      item.iconPath = new vscode.ThemeIcon(hunk.kind === 'conflict' ? 'warning'
        : model.applied(hunk.id) ? (model.edited(hunk.id) !== undefined ? 'edit' : 'check') : 'circle-slash');
      item.contextValue = hunk.kind;
    }
    item.command = { title: 'Show', command: REVIEW_COMMANDS.reveal, arguments: [node.sessionId, node.uri, node.id] };
    return item;
  }
}
