import assert from 'node:assert/strict';
import { test } from 'node:test';
import { askArguments, cancellable, newestFirst, revisable, reviseArguments, sessionDescription } from '../src/args';
import { SessionStatus } from '../src/protocol';

const selection = { start: { line: 2, character: 4 }, end: { line: 5, character: 0 } };
const cursor = { start: { line: 3, character: 1 }, end: { line: 3, character: 1 } };

function session(overrides: Partial<SessionStatus>): SessionStatus {
  return {
    sessionId: 's1', title: 'implement `leap`', state: 'applied', turn: 3, cap: 20, outcome: 'done', message: '',
    changedFiles: [], accepted: [], rejected: [], parent: null, elapsed: 1.5, ...overrides,
  };
}

test('ask: a blank or cancelled instruction sends nothing', () => {
  assert.equal(askArguments(undefined), undefined);
  assert.equal(askArguments('   \n'), undefined);
});

test('ask: the instruction alone without an editor, trimmed', () => {
  assert.deepEqual(askArguments('  add a CLI flag '), { instruction: 'add a CLI flag' });
});

test('ask: a selection is sent as the range, with the file', () => {
  assert.deepEqual(askArguments('tidy this', { uri: 'file:///w/a.py', scheme: 'file', selection }),
    { instruction: 'tidy this', uri: 'file:///w/a.py', range: selection });
});

test('ask: an empty selection names the file only', () => {
  assert.deepEqual(askArguments('explain', { uri: 'file:///w/a.py', scheme: 'file', selection: cursor }),
    { instruction: 'explain', uri: 'file:///w/a.py' });
});

test('ask: an untitled or virtual document is not named (the server reads files)', () => {
  assert.deepEqual(askArguments('go', { uri: 'untitled:Untitled-1', scheme: 'untitled', selection }), { instruction: 'go' });
});

test('cancel targets running and reviewing sessions only', () => {
  const all = [session({ sessionId: 'a', state: 'applied' }), session({ sessionId: 'b', state: 'running' }),
    session({ sessionId: 'c', state: 'reviewing' }), session({ sessionId: 'd', state: 'cancelled' })];
  assert.deepEqual(cancellable(all).map((s) => s.sessionId), ['b', 'c']);
  assert.deepEqual(newestFirst(cancellable(all)).map((s) => s.sessionId), ['c', 'b']);
});

test('revise offers sessions with rejected or unapplied hunks, conflicts or a refused edit', () => {
  const all = [
    session({ sessionId: 'applied', state: 'applied', accepted: ['a.py#1'] }),
    session({ sessionId: 'partial', state: 'partial', accepted: ['a.py#1'], rejected: ['a.py#2'] }),
    session({ sessionId: 'failed', state: 'partial', accepted: ['a.py#1'], failed: ['b.py#1'] }),
    session({ sessionId: 'conflicted', state: 'conflicted' }),
    session({ sessionId: 'refused', state: 'refused', rejected: ['a.py#1'] }),
    session({ sessionId: 'running', state: 'running' }),
  ];
  assert.deepEqual(revisable(all).map((s) => s.sessionId), ['partial', 'failed', 'conflicted', 'refused']);
  assert.match(sessionDescription(all[2]), /1 not applied by the editor/);
});

test('revise arguments leave out a blank comment', () => {
  assert.deepEqual(reviseArguments('s1', '  '), { sessionId: 's1' });
  assert.deepEqual(reviseArguments('s1', undefined), { sessionId: 's1' });
  assert.deepEqual(reviseArguments('s1', ' use a set '), { sessionId: 's1', comment: 'use a set' });
});

test('a session is described by state, rejected hunks and files', () => {
  const text = sessionDescription(session({
    state: 'partial', accepted: ['a.py#1'], rejected: ['a.py#2', 'b.py#1'], changedFiles: ['a.py', 'b.py'],
  }));
  assert.equal(text, 'partial · 2 of 3 hunks rejected · a.py, b.py');
  assert.equal(sessionDescription(session({ state: 'no_changes' })), 'no changes');
});
