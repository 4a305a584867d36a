import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DISCARDED_REASON } from '../src/editReview';
import {
  FLASH_MS, FlashQueue, QUEUED_FLASH_MS, StatusModel, budgetFlash, finishedIcon, finishedWords, partialDetail,
  progressText, turnText,
} from '../src/statusText';
import { SessionStatus } from '../src/protocol';

function status(overrides: Partial<SessionStatus>): SessionStatus {
  return {
    sessionId: 's1', title: 'implement `leap`', state: 'applied', turn: 3, cap: 20, outcome: 'done', message: '',
    changedFiles: ['leap.py'], accepted: ['leap.py#1'], rejected: [], parent: null, elapsed: 2, ...overrides,
  };
}

test('turn text', () => {
  assert.equal(turnText(3, 20), 'little-coder: turn 3/20');
});

test('budget events flash a short line; other events do not', () => {
  assert.equal(budgetFlash({ kind: 'write_guard', path: 'leap.py' }), 'write guard: leap.py');
  assert.equal(budgetFlash({ kind: 'thinking_budget', budget: 2048, tokens: 2100 }), 'thinking budget 2048 hit');
  assert.equal(budgetFlash({ kind: 'repair', name: 'Edit', source: 'fenced' }), 'repaired an Edit call');
  assert.equal(budgetFlash({ kind: 'repair', name: 'Write', source: 'fenced' }), 'repaired a Write call');
  assert.equal(budgetFlash({ kind: 'correction', reason: 'repeated_call' }), 'correction: repeated call');
  assert.equal(budgetFlash({ kind: 'cap_warning', turn: 16, cap: 20 }), 'turn 16/20: asked to finish');
  assert.equal(budgetFlash({ kind: 'compaction', tokens_before: 9000, tokens_after: 4000 }), 'context compacted 9000 → 4000 tokens');
  assert.equal(budgetFlash({ kind: 'turn_started', turn: 1, cap: 20 }), undefined);
  assert.equal(budgetFlash({ kind: 'text_delta', text: 'hi' }), undefined);
});

test('the status follows a session from start through turns and review to its end', () => {
  const model = new StatusModel();
  assert.match(model.view().text, /starting server/);
  model.setServer('running');
  assert.equal(model.view().text, '$(hubot) little-coder');
  model.started('s1', 'session');
  assert.equal(model.view().text, '$(sync~spin) little-coder: starting');
  model.titled('s1', 'implement `leap`');
  assert.equal(model.event('s1', { kind: 'turn_started', turn: 3, cap: 20 }), undefined);
  assert.equal(model.view().text, '$(sync~spin) little-coder: turn 3/20');
  assert.match(model.view().tooltip, /implement `leap`/);
  assert.equal(model.event('s1', { kind: 'write_guard', path: 'leap.py', turn: 3 }), 'little-coder: write guard: leap.py');
  model.event('s1', { kind: 'session_finished', outcome: 'done' });
  assert.equal(model.view().text, '$(diff) little-coder: review');
  model.finished(status({ state: 'applied' }));
  assert.equal(model.view().text, '$(check) little-coder: applied');
  assert.deepEqual(model.runningIds(), []);
});

test('late events of a finished session are ignored', () => {
  const model = new StatusModel();
  model.setServer('running');
  model.finished(status({ state: 'cancelled' }));
  model.event('s1', { kind: 'turn_started', turn: 4, cap: 20 });
  model.started('s1', 'again');
  assert.equal(model.view().text, '$(check) little-coder: cancelled');
});

test('several sessions: the newest is shown with a count of the others', () => {
  const model = new StatusModel();
  model.setServer('running');
  model.event('a', { kind: 'turn_started', turn: 5, cap: 20 });
  model.event('b', { kind: 'turn_started', turn: 1, cap: 10 });
  assert.equal(model.view().text, '$(sync~spin) little-coder: turn 1/10 (+1)');
});

test('server problems show in the status bar', () => {
  const model = new StatusModel();
  model.setServer('missing');
  assert.equal(model.view().text, '$(error) little-coder: server not found');
  model.setServer('failed');
  assert.equal(model.view().text, '$(error) little-coder: server failed');
});

test('a failed session warns and carries the reason in the tooltip', () => {
  const model = new StatusModel();
  model.setServer('running');
  model.finished(status({ state: 'error', message: 'cannot connect to Ollama' }));
  assert.equal(model.view().text, '$(warning) little-coder: failed');
  assert.match(model.view().tooltip, /cannot connect to Ollama/);
});

test('a preview the user discarded reads as discarded, a real refusal does not', () => {
  assert.equal(finishedWords(status({ state: 'refused', message: `the editor did not apply the changes (${DISCARDED_REASON})` })), 'discarded');
  assert.equal(finishedWords(status({ state: 'refused', message: 'the editor did not apply the changes' })), 'edit refused by the editor');
  assert.equal(finishedWords(status({ state: 'discarded' })), 'discarded');
  assert.equal(finishedWords(status({ state: 'no_changes' })), 'finished, no changes');
});

test('a partly applied edit reads as partial, never as applied', () => {
  const model = new StatusModel();
  model.setServer('running');
  const partly = 'the editor applied only part of the changes. Applied: leap.py:4. Not applied: leap.py:9';
  model.finished(status({ state: 'partial', accepted: ['leap.py#1'], rejected: [], failed: ['leap.py#2'], message: partly }));
  const view = model.view();
  assert.equal(view.text, '◐ little-coder: partly applied');
  assert.doesNotMatch(view.text, /\$\(check\)/);
  assert.equal(view.tooltip,
    `little-coder: implement \`leap\`: partly applied (1 of 2 changes applied, 1 not applied by the editor) — ${partly}`);
});

test('the counts of a partial apply: rejected by the user, failed in the editor', () => {
  assert.equal(partialDetail(status({ state: 'partial', accepted: ['a#1', 'a#2'], rejected: ['a#3'] })),
    '2 of 3 changes applied, 1 rejected');
  assert.equal(partialDetail(status({ state: 'partial', accepted: ['a#1'], rejected: ['a#2'], failed: ['a#3'] })),
    '1 of 3 changes applied, 1 rejected, 1 not applied by the editor');
  // A status from a server without `failed` still reads.
  assert.equal(partialDetail(status({ state: 'partial', accepted: ['a#1'], rejected: ['a#2'], failed: undefined })),
    '1 of 2 changes applied, 1 rejected');
});

test('each end state has its icon: applied checks, partial is half done, a failure warns', () => {
  assert.equal(finishedIcon(status({ state: 'applied' })), '$(check)');
  assert.equal(finishedIcon(status({ state: 'partial' })), '◐');
  assert.equal(finishedIcon(status({ state: 'error' })), '$(warning)');
  assert.equal(finishedIcon(status({ state: 'undone' })), '$(check)');
});

test('after an undo the status bar carries the server\'s own message, not words of its own', () => {
  const model = new StatusModel();
  model.setServer('running');
  model.finished(status({ state: 'applied' }));
  const said = 'undo of implement `leap`: kept your edits in leap.py lines 3–5; undid the rest.';
  model.finished(status({ state: 'undone', message: said }));
  assert.equal(model.view().text, '$(check) little-coder: undone');
  assert.equal(model.view().tooltip, `little-coder: implement \`leap\`: undone — ${said}`);
});

test('live progress is shown in the server\'s words', () => {
  assert.equal(progressText({ kind: 'stream_progress', phase: 'thinking', tokens: 812, budget: 2048, text: 'thinking 812/2048' }),
    'thinking 812/2048');
  assert.equal(progressText({ kind: 'turn_started', turn: 1, cap: 20 }), undefined);
});

test('the status shows what the model does now, and a new turn or tool call replaces it', () => {
  const model = new StatusModel();
  model.setServer('running');
  model.event('s1', { kind: 'turn_started', turn: 1, cap: 20 });
  assert.equal(model.event('s1', { kind: 'stream_progress', turn: 1, phase: 'thinking', text: 'thinking 812/2048' }), undefined);
  assert.equal(model.view().text, '$(sync~spin) little-coder: turn 1/20 · thinking 812/2048');
  model.event('s1', { kind: 'tool_call_started', name: 'Edit', arguments: {} });
  assert.equal(model.view().text, '$(sync~spin) little-coder: turn 1/20 · Edit');
  model.event('s1', { kind: 'turn_started', turn: 2, cap: 20 });
  assert.equal(model.view().text, '$(sync~spin) little-coder: turn 2/20');
});

test('every mechanism that fired stays in the tooltip, during the session and after it', () => {
  const model = new StatusModel();
  model.setServer('running');
  model.event('s1', { kind: 'turn_started', turn: 1, cap: 20 });
  model.event('s1', { kind: 'write_guard', path: 'leap.py', turn: 1 });
  model.event('s1', { kind: 'repair', name: 'Edit', source: 'fenced', turn: 2 });
  assert.match(model.view().tooltip, /\nwrite guard: leap\.py\nrepaired an Edit call$/);
  model.finished(status({ state: 'applied' }));
  assert.match(model.view().tooltip, /\nwrite guard: leap\.py\nrepaired an Edit call$/);
});

test('flashes queue: each is shown in order, shorter while others wait', () => {
  const queue = new FlashQueue();
  queue.push('write guard: leap.py');
  queue.push('repaired an Edit call');
  queue.push('correction: repeated call');
  assert.deepEqual(queue.next(), { text: 'write guard: leap.py', ms: QUEUED_FLASH_MS });
  assert.deepEqual(queue.next(), { text: 'repaired an Edit call', ms: QUEUED_FLASH_MS });
  assert.deepEqual(queue.next(), { text: 'correction: repeated call', ms: FLASH_MS });
  assert.equal(queue.next(), undefined);
});
