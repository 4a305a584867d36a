import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Inspected, SERVER_SETTINGS, serverSettings, userValue } from '../src/settings';

function inspector(values: Record<string, Inspected>) {
  return (key: string) => values[key] ?? {};
}

test('only settings the user set are sent, renamed for the server', () => {
  const sent = serverSettings(inspector({
    backend: { globalValue: 'ollama' },
    baseUrl: { workspaceValue: ' http://127.0.0.1:11434 ' },
    maxTurns: { workspaceFolderValue: 7, workspaceValue: 12, globalValue: 30 },
    reviewMode: { globalValue: 'each' },
    bashPolicy: { workspaceValue: 'never' },
    thinkingBudget: { globalValue: 0 },
    bashAllow: { globalValue: ['make'] },
  }));
  assert.deepEqual(sent, {
    backend: 'ollama', baseUrl: 'http://127.0.0.1:11434', maxTurns: 7, review: 'each', bash: 'never',
    thinkingBudget: 0, bashAllow: ['make'],
  });
});

test('defaults, nulls and emptied text boxes are not sent', () => {
  assert.deepEqual(serverSettings(inspector({
    model: { globalValue: '  ' },
    thinkingBudget: { globalValue: null },
    backend: {},
  })), {});
});

test('editor-only settings never reach the server', () => {
  const keys = Object.keys(SERVER_SETTINGS);
  assert.ok(!keys.some((k) => k.startsWith('server.') || k.startsWith('trace.')));
  const sent = serverSettings((key) => ({ globalValue: `value of ${key}` }));
  assert.deepEqual(Object.keys(sent).sort(), [
    'backend', 'baseUrl', 'bash', 'bashAllow', 'maxTurns', 'model', 'network', 'review', 'sandbox', 'thinkingBudget',
  ]);
});

test('the most specific scope wins', () => {
  assert.equal(userValue({ globalValue: 1, workspaceValue: 2 }), 2);
  assert.equal(userValue({ globalValue: 1 }), 1);
  assert.equal(userValue(undefined), undefined);
});
