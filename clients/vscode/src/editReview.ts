// How the extension answers the server's workspace/applyEdit: plain edits (an applied review, an undo,
// review mode `direct`) and, in review mode `each`, an edit whose change annotations need confirmation,
// which VS Code shows in its refactor preview (a session's review is littleCoder/review, src/review.ts).
// If the user presses Discard there, VS Code only says "not applied", exactly as for an edit against an
// outdated document. The answer names which it was in `failureReason`, so the server (and the user) can
// tell a decision from a failure. Pure helpers.

import type { WorkspaceEdit } from 'vscode-languageclient';

/** `failureReason` when the user discarded the refactor preview. */
export const DISCARDED_REASON = 'discarded in the refactor preview';
/** `failureReason` when an open document changed after the server computed the edit. */
export const STALE_REASON = 'the document changed since the edit was made';

/** True when VS Code will show the edit in its refactor preview instead of applying it at once. */
export function needsConfirmation(edit: WorkspaceEdit): boolean {
  return Object.values(edit.changeAnnotations ?? {}).some((annotation) => annotation.needsConfirmation === true);
}

/** URIs of open documents whose version differs from the one the edit was made against;
 * `openVersion` gives an open document's version by the edit's URI (undefined: not open). */
export function staleDocuments(edit: WorkspaceEdit, openVersion: (uri: string) => number | undefined): string[] {
  const stale: string[] = [];
  for (const change of edit.documentChanges ?? []) {
    if (!('textDocument' in change) || typeof change.textDocument.version !== 'number' || change.textDocument.version < 0) {
      continue;
    }
    const open = openVersion(change.textDocument.uri);
    if (open !== undefined && open !== change.textDocument.version) {
      stale.push(change.textDocument.uri);
    }
  }
  return stale;
}

/** Why VS Code did not apply an edit it was given without complaint. */
export function notAppliedReason(edit: WorkspaceEdit): string | undefined {
  return needsConfirmation(edit) ? DISCARDED_REASON : undefined;
}
