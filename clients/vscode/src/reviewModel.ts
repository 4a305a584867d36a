// The review of a session's changes as data: what the server proposed (littleCoder/review), what the user
// decided per hunk and how they edited it, the proposal text that follows from those choices, and what
// goes back to the server. Pure (no `vscode` import) so the bookkeeping is unit-tested in node.

export const REVIEW_REQUEST = 'littleCoder/review';
export const REVIEW_UPDATE_NOTIFICATION = 'littleCoder/reviewUpdate';
export const TEST_SELECTION_COMMAND = 'littleCoder.testSelection';
export const REOPEN_REVIEW_COMMAND = 'littleCoder.review';

export type HunkKind = 'change' | 'conflict';
export type ChangeDecision = 'accept' | 'reject';
export type ConflictDecision = 'mine' | 'agent' | 'both';
export type Decision = ChangeDecision | ConflictDecision;
export type ReviewAction = 'apply' | 'discard' | 'close';

export interface HunkDependency {
  hunk: string;
  names: string[];
}

export interface ReviewHunk {
  id: string;
  kind: HunkKind;
  startLine: number;
  endLine: number;
  oldText: string;
  newText: string;
  bothText: string | null;
  label: string;
  reason: string;
  dependsOn: HunkDependency[];
}

export interface ReviewFile {
  uri: string;
  path: string;
  created: boolean;
  version: number | null;
  currentText: string;
  hunks: ReviewHunk[];
}

export interface ReviewParams {
  sessionId: string;
  title: string;
  label: string;
  unfinished: string | null;
  testCommand: string | null;
  files: ReviewFile[];
}

export interface ReviewUpdateParams {
  sessionId: string;
  file: ReviewFile;
}

/** Lists, not maps keyed by hunk id: the server (pygls) would mangle such keys. */
export interface Selection {
  decisions: { hunk: string; choice: Decision }[];
  edited: { hunk: string; text: string }[];
}

export interface ReviewResult extends Selection {
  action: ReviewAction;
}

export interface SelectionTest {
  command: string | null;
  ran: boolean;
  passed: boolean | null;
  summary: string;
  output: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isHunk(value: unknown): value is ReviewHunk {
  return isObject(value) && typeof value.id === 'string' && (value.kind === 'change' || value.kind === 'conflict')
    && typeof value.startLine === 'number' && typeof value.endLine === 'number'
    && typeof value.oldText === 'string' && typeof value.newText === 'string';
}

export function isReviewFile(value: unknown): value is ReviewFile {
  return isObject(value) && typeof value.uri === 'string' && typeof value.path === 'string'
    && typeof value.currentText === 'string' && Array.isArray(value.hunks) && value.hunks.every(isHunk);
}

export function isReviewParams(value: unknown): value is ReviewParams {
  return isObject(value) && typeof value.sessionId === 'string' && Array.isArray(value.files)
    && value.files.every(isReviewFile);
}

export function isReviewUpdate(value: unknown): value is ReviewUpdateParams {
  return isObject(value) && typeof value.sessionId === 'string' && isReviewFile(value.file);
}

export function isSelectionTest(value: unknown): value is SelectionTest {
  return isObject(value) && typeof value.ran === 'boolean' && typeof value.summary === 'string';
}

/** Lines with their terminators (\n, \r\n or \r), as LSP counts them. */
export function splitLines(text: string): string[] {
  return text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? [];
}

/** Where a hunk sits in the proposal document: lines [start, end). */
export interface Region {
  id: string;
  start: number;
  end: number;
}

export interface Proposal {
  text: string;
  regions: Region[];
}

/** A change to the proposal document, in the coordinates of the text before it. */
export interface TextChange {
  startLine: number;
  startCharacter: number;
  endLine: number;
  endCharacter: number;
  text: string;
}

/** The decision a hunk starts with: the agent's change, the user's own lines in a conflict. */
export function defaultDecision(kind: HunkKind): Decision {
  return kind === 'change' ? 'accept' : 'mine';
}

function fits(kind: HunkKind, decision: Decision): boolean {
  return kind === 'change' ? decision === 'accept' || decision === 'reject'
    : decision === 'mine' || decision === 'agent' || decision === 'both';
}

/** What a decision keeps of a hunk: the user's lines, or the text the agent's side offers. */
function appliesAgentText(decision: Decision): boolean {
  return decision === 'accept' || decision === 'agent' || decision === 'both';
}

function lineSpan(hunk: ReviewHunk): string {
  const first = hunk.startLine + 1;
  const last = Math.max(first, hunk.endLine);
  return first === last ? `line ${first}` : `lines ${first}–${last}`;
}

/** One session's review: the proposal, the user's decisions and edits by hunk id. */
export class ReviewModel {
  readonly files: ReviewFile[];
  private readonly decisions = new Map<string, Decision>();
  private readonly edits = new Map<string, string>();

  constructor(readonly params: ReviewParams) {
    this.files = params.files.map((file) => ({ ...file }));
    for (const hunk of this.hunks()) {
      this.decisions.set(hunk.id, defaultDecision(hunk.kind));
    }
  }

  get sessionId(): string {
    return this.params.sessionId;
  }

  /** Every hunk, file by file, in order: the "n of m" numbering. */
  hunks(): ReviewHunk[] {
    return this.files.flatMap((file) => file.hunks);
  }

  file(uri: string): ReviewFile | undefined {
    return this.files.find((f) => f.uri === uri);
  }

  fileOf(id: string): ReviewFile | undefined {
    return this.files.find((f) => f.hunks.some((h) => h.id === id));
  }

  hunk(id: string): ReviewHunk | undefined {
    return this.hunks().find((h) => h.id === id);
  }

  /** 1-based position of a hunk among all of the review's hunks. */
  position(id: string): number {
    return this.hunks().findIndex((h) => h.id === id) + 1;
  }

  decision(id: string): Decision | undefined {
    return this.decisions.get(id);
  }

  edited(id: string): string | undefined {
    return this.edits.get(id);
  }

  /** Set a hunk's decision; false when it does not fit the hunk's kind (accept on a conflict). */
  decide(id: string, decision: Decision): boolean {
    const hunk = this.hunk(id);
    if (hunk === undefined || !fits(hunk.kind, decision)) {
      return false;
    }
    if (decision === 'both' || this.decisions.get(id) === 'both') {
      this.edits.delete(id); // an edit of "both" is not an edit of the agent's lines, nor the reverse
    }
    this.decisions.set(id, decision);
    return true;
  }

  /** Accept every change (conflicts keep their choice) or reject every change and keep the user's
   * lines in every conflict. */
  decideAll(accept: boolean): void {
    for (const hunk of this.hunks()) {
      if (hunk.kind === 'change') {
        this.decisions.set(hunk.id, accept ? 'accept' : 'reject');
      } else if (!accept) {
        this.decide(hunk.id, 'mine');
      }
    }
  }

  /** The server rebased a file onto the user's new text: keep decisions and edits by id; a change
   * that became a conflict starts at "mine"; new hunks get the defaults. */
  update(next: ReviewFile): void {
    const index = this.files.findIndex((f) => f.uri === next.uri);
    const before = new Map((index >= 0 ? this.files[index].hunks : []).map((h) => [h.id, h]));
    for (const hunk of next.hunks) {
      const old = before.get(hunk.id);
      if (old === undefined || old.kind !== hunk.kind) {
        this.decisions.set(hunk.id, defaultDecision(hunk.kind));
        this.edits.delete(hunk.id);
      }
      before.delete(hunk.id);
    }
    for (const gone of before.keys()) {
      this.decisions.delete(gone);
      this.edits.delete(gone);
    }
    if (index >= 0) {
      this.files[index] = { ...next };
    } else {
      this.files.push({ ...next });
    }
  }

  /** The agent's side of a hunk as the decision offers it, before the user's edits. */
  offered(hunk: ReviewHunk, decision: Decision): string {
    if (decision === 'both') {
      return hunk.bothText ?? hunk.oldText + hunk.newText;
    }
    return appliesAgentText(decision) ? hunk.newText : hunk.oldText;
  }

  /** The lines a hunk puts in the proposal: what Apply will write there. */
  shown(hunk: ReviewHunk): string {
    const decision = this.decisions.get(hunk.id) ?? defaultDecision(hunk.kind);
    return appliesAgentText(decision) ? this.edits.get(hunk.id) ?? this.offered(hunk, decision) : hunk.oldText;
  }

  /** The file as Apply would leave it, and where each hunk sits in it. */
  proposal(uri: string): Proposal {
    const file = this.file(uri);
    if (file === undefined) {
      return { text: '', regions: [] };
    }
    const lines = splitLines(file.currentText);
    const regions: Region[] = [];
    let text = '';
    let line = 0; // proposal line count so far
    let next = 0; // next current line to copy
    for (const hunk of file.hunks) {
      const context = lines.slice(next, hunk.startLine);
      text += context.join('');
      line += context.length;
      const shown = splitLines(this.shown(hunk));
      regions.push({ id: hunk.id, start: line, end: line + shown.length });
      text += shown.join('');
      line += shown.length;
      next = hunk.endLine;
    }
    text += lines.slice(next).join('');
    return { text, regions };
  }

  /** The user changed the proposal document of `uri` from `proposal(uri)` to `after` through `changes`.
   * Inside hunks: each touched hunk now holds the user's text (a rejected change becomes accepted, a
   * conflict kept as "mine" takes the user's new version as the agent's side). Anything outside every
   * hunk is refused: undefined, nothing changed. Returns the ids of the hunks edited. */
  applyUserEdit(uri: string, changes: readonly TextChange[], after: string): string[] | undefined {
    const file = this.file(uri);
    if (file === undefined) {
      return undefined;
    }
    const { regions } = this.proposal(uri);
    const located = locateChanges(regions, changes);
    if (located === undefined) {
      return undefined;
    }
    const lines = splitLines(after);
    const moved: Region[] = [];
    let shift = 0;
    for (const region of regions) {
      const delta = located.get(region.id) ?? 0;
      moved.push({ id: region.id, start: region.start + shift, end: region.end + shift + delta });
      shift += delta;
    }
    // Every line outside the hunks must still be the file's own line, in order.
    const context = splitLines(file.currentText);
    const outside: string[] = [];
    let from = 0;
    for (const region of moved) {
      outside.push(...lines.slice(from, region.start));
      from = region.end;
    }
    outside.push(...lines.slice(from));
    const expected: string[] = [];
    let next = 0;
    for (const hunk of file.hunks) {
      expected.push(...context.slice(next, hunk.startLine));
      next = hunk.endLine;
    }
    expected.push(...context.slice(next));
    if (outside.length !== expected.length || outside.some((l, i) => l !== expected[i])) {
      return undefined;
    }
    const touched: string[] = [];
    for (const region of moved) {
      if (!located.has(region.id)) {
        continue;
      }
      const hunk = file.hunks.find((h) => h.id === region.id);
      if (hunk === undefined) {
        continue;
      }
      this.setText(hunk, lines.slice(region.start, region.end).join(''));
      touched.push(hunk.id);
    }
    return touched;
  }

  private setText(hunk: ReviewHunk, text: string): void {
    let decision = this.decisions.get(hunk.id) ?? defaultDecision(hunk.kind);
    if (decision === 'reject') {
      decision = 'accept';
    } else if (decision === 'mine') {
      decision = 'agent';
    }
    this.decisions.set(hunk.id, decision);
    if (text === this.offered(hunk, decision)) {
      this.edits.delete(hunk.id);
    } else {
      this.edits.set(hunk.id, text);
    }
  }

  /** Will Apply write this hunk's agent side? */
  applied(id: string): boolean {
    const decision = this.decisions.get(id);
    return decision !== undefined && appliesAgentText(decision);
  }

  /** Anything but every change accepted as proposed with no conflict: the selection is tested first. */
  isPartial(): boolean {
    return this.hunks().some((h) => h.kind === 'conflict' || this.decisions.get(h.id) !== 'accept'
      || this.edits.has(h.id));
  }

  /** An accepted hunk using names that a hunk left out adds: one sentence each, for the user. */
  dependencyProblems(): string[] {
    const problems: string[] = [];
    for (const file of this.files) {
      for (const hunk of file.hunks) {
        if (!this.applied(hunk.id)) {
          continue;
        }
        for (const dependency of hunk.dependsOn ?? []) {
          const needed = this.hunk(dependency.hunk);
          const home = this.fileOf(dependency.hunk);
          if (needed === undefined || home === undefined || this.applied(needed.id)) {
            continue;
          }
          const names = dependency.names.join(', ');
          problems.push(`${file.path} ${lineSpan(hunk)} use${dependency.names.length === 1 ? 's' : ''} ${names}, `
            + `which ${home.path} ${lineSpan(needed)} adds and your selection leaves out`);
        }
      }
    }
    return problems;
  }

  /** The selection as the server takes it (testSelection, the reply). Edits go only with hunks whose
   * agent side is applied. */
  selection(): Selection {
    const selection: Selection = { decisions: [], edited: [] };
    for (const hunk of this.hunks()) {
      const choice = this.decisions.get(hunk.id) ?? defaultDecision(hunk.kind);
      selection.decisions.push({ hunk: hunk.id, choice });
      const text = this.edits.get(hunk.id);
      if (text !== undefined && appliesAgentText(choice)) {
        selection.edited.push({ hunk: hunk.id, text });
      }
    }
    return selection;
  }

  /** The reply to littleCoder/review. */
  result(action: ReviewAction): ReviewResult {
    return { action, ...this.selection() };
  }

  /** How a hunk stands, in words: "accepted", "rejected", "edited", "conflict: keeping yours"… */
  stateWords(id: string): string {
    const decision = this.decisions.get(id);
    const edited = this.edits.has(id) ? ', edited' : '';
    switch (decision) {
      case 'accept': return `accepted${edited}`;
      case 'reject': return 'rejected';
      case 'mine': return 'conflict: keeping yours';
      case 'agent': return `conflict: taking the agent's${edited}`;
      case 'both': return `conflict: keeping both${edited}`;
      default: return 'undecided';
    }
  }

  /** "3 changes: 2 accepted, 1 rejected · 1 conflict" for the session view. */
  summary(): string {
    const hunks = this.hunks();
    const changes = hunks.filter((h) => h.kind === 'change');
    const accepted = changes.filter((h) => this.decisions.get(h.id) === 'accept').length;
    const conflicts = hunks.length - changes.length;
    const parts = [`${changes.length} change${changes.length === 1 ? '' : 's'}: ${accepted} accepted, `
      + `${changes.length - accepted} rejected`];
    if (conflicts > 0) {
      parts.push(`${conflicts} conflict${conflicts === 1 ? '' : 's'}`);
    }
    return parts.join(' · ');
  }
}

/** Which region each change falls in and how many lines it adds to it; undefined when one falls
 * outside every region. A change touching a region's lines, or inserting right at its start or
 * end (the start of the line after it), belongs to it. */
export function locateChanges(regions: readonly Region[], changes: readonly TextChange[]): Map<string, number> | undefined {
  const deltas = new Map<string, number>();
  for (const change of changes) {
    const insertion = change.startLine === change.endLine && change.startCharacter === change.endCharacter;
    const atLineStart = change.startCharacter === 0;
    const inside = regions.find((r) => change.startLine >= r.start && change.startLine < r.end
      && (change.endLine < r.end || (change.endLine === r.end && change.endCharacter === 0)));
    const edge = inside ?? (insertion && atLineStart
      ? regions.find((r) => change.startLine === r.start) ?? regions.find((r) => change.startLine === r.end)
      : undefined);
    if (edge === undefined) {
      return undefined;
    }
    const added = (change.text.match(/\r\n|\r|\n/g) ?? []).length - (change.endLine - change.startLine);
    deltas.set(edge.id, (deltas.get(edge.id) ?? 0) + added);
  }
  return deltas;
}
