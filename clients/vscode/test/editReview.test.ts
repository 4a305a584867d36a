import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorkspaceEdit } from 'vscode-languageclient';
import { DISCARDED_REASON, needsConfirmation, notAppliedReason, staleDocuments } from '../src/editReview';

const range = { start: { line: 2, character: 0 }, end: { line: 3, character: 0 } };
const review: WorkspaceEdit = {
  documentChanges: [
    { textDocument: { uri: 'file:///w/leap.py', version: 4 }, edits: [{ range, newText: 'x\n', annotationId: 'lc-hunk-1' }] },
    { kind: 'create', uri: 'file:///w/new.py' },
    { textDocument: { uri: 'file:///w/new.py', version: null }, edits: [{ range, newText: 'y\n', annotationId: 'lc-hunk-2' }] },
  ],
  changeAnnotations: {
    'lc-hunk-1': { label: 'leap.py: line 3 (+1 −1)', needsConfirmation: true },
    'lc-hunk-2': { label: 'new.py: new file (+1)', needsConfirmation: true },
  },
};
const undo: WorkspaceEdit = { documentChanges: [{ textDocument: { uri: 'file:///w/leap.py', version: 9 }, edits: [] }] };

test('an edit with annotations needing confirmation goes to the refactor preview', () => {
  assert.equal(needsConfirmation(review), true);
  assert.equal(needsConfirmation(undo), false);
  assert.equal(needsConfirmation({ changeAnnotations: { a: { label: 'x', needsConfirmation: false } } }), false);
});

test('not applied: a preview edit was discarded; a plain edit has no known reason', () => {
  assert.equal(notAppliedReason(review), DISCARDED_REASON);
  assert.equal(notAppliedReason(undo), undefined);
});

test('stale documents: open with another version; closed files and unversioned edits do not count', () => {
  const versions = new Map([['file:///w/leap.py', 5]]);
  assert.deepEqual(staleDocuments(review, (uri) => versions.get(uri)), ['file:///w/leap.py']);
  assert.deepEqual(staleDocuments(review, (uri) => (uri === 'file:///w/leap.py' ? 4 : undefined)), []);
  assert.deepEqual(staleDocuments(review, () => undefined), []);
});
