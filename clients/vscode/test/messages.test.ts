import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DISCARDED_REASON } from '../src/editReview';
import {
  DISCARDED_MESSAGE, OPEN_SETTINGS, REVISE, SHOW_LOG, commandErrorMessage, lastError, serverMessageActions, serverMissingMessage,
  serverStartFailedMessage, serverStoppedMessage,
} from '../src/messages';
import { PYTHON_ARGS } from '../src/serverCommand';

test('server not found: what was tried, what to install, which settings', () => {
  const text = serverMissingMessage({ found: false, tried: ['/w/.venv/bin/little-coder', 'little-coder on PATH'] });
  assert.match(text, /looked for \/w\/\.venv\/bin\/little-coder, little-coder on PATH/);
  assert.match(text, /pip install little-coder-lsp/);
  assert.match(text, /littleCoder\.server\.command/);
  assert.match(text, /littleCoder\.server\.pythonPath/);
});

test('a setting that points nowhere is named with its value', () => {
  const text = serverMissingMessage({ found: false, setting: 'littleCoder.server.pythonPath', value: '/opt/py', tried: ['/opt/py'] });
  assert.match(text, /^little-coder: littleCoder\.server\.pythonPath is "\/opt\/py", which is not an executable file/);
  assert.match(text, /a Python that has little-coder-lsp installed/);
});

test('a server that dies on start: exit code, the telling stderr line, the fix', () => {
  const launch = { command: '/usr/bin/python3', args: PYTHON_ARGS, origin: 'littleCoder.server.pythonPath' };
  const text = serverStartFailedMessage(launch, {
    code: 1, signal: null, stderr: ['', '/usr/bin/python3: No module named lc_lsp', ''],
  });
  assert.equal(text, 'little-coder: the language server `/usr/bin/python3 -m lc_lsp --stdio` exited with code 1 '
    + 'before it was ready: /usr/bin/python3: No module named lc_lsp. Install little-coder-lsp for that Python '
    + '(`/usr/bin/python3 -m pip install little-coder-lsp`), or fix littleCoder.server.pythonPath.');
});

test('a server that cannot be spawned at all, or never answers', () => {
  const launch = { command: '/w/.venv/bin/little-coder', args: ['lsp'], origin: "the workspace's .venv" };
  assert.match(serverStartFailedMessage(launch, { code: null, signal: null, spawnError: 'EACCES', stderr: [] }),
    /could not run `\/w\/\.venv\/bin\/little-coder lsp` \(EACCES\)\. Check littleCoder\.server\.command or littleCoder\.server\.pythonPath/);
  assert.match(serverStartFailedMessage(launch, undefined), /did not answer before it was ready\. Install the little-coder-lsp/);
});

test('a server that stops later says how and how to restart', () => {
  assert.match(serverStoppedMessage({ code: null, signal: 'SIGKILL', stderr: [] }), /exited on signal SIGKILL\. Run "little-coder: Restart language server"/);
  assert.match(serverStoppedMessage(undefined), /closed the connection/);
});

test('the last error line is preferred over trailing noise, and kept short', () => {
  assert.equal(lastError(['Traceback', 'ImportError: cannot import x', 'exiting']), 'ImportError: cannot import x');
  assert.equal(lastError(['only line']), 'only line');
  assert.equal(lastError(['', '  ']), undefined);
  assert.equal(lastError(['x'.repeat(500)])?.length, 200);
});

test('an unreachable model server gets Open Settings (base URL) and Show Log', () => {
  for (const message of [
    'little-coder: no model server answered at http://127.0.0.1:11434 or http://127.0.0.1:8080 — start Ollama',
    'little-coder: cannot connect to Ollama at http://127.0.0.1:9 (refused) — start Ollama',
    'little-coder: timed out talking to Ollama at http://x (read) — …',
  ]) {
    assert.deepEqual(serverMessageActions(message), { buttons: [OPEN_SETTINGS, SHOW_LOG], settingsQuery: 'littleCoder.baseUrl' });
  }
});

test('an invalid setting opens that setting under its editor name', () => {
  assert.equal(serverMessageActions("little-coder: invalid setting 'maxTurns': too big").settingsQuery, 'littleCoder.maxTurns');
  assert.equal(serverMessageActions("little-coder: invalid setting 'review': no").settingsQuery, 'littleCoder.reviewMode');
  assert.equal(serverMessageActions("little-coder: invalid setting 'base_url': bad").settingsQuery, 'littleCoder.baseUrl');
});

test('a missing model opens the model setting; other messages get no buttons', () => {
  assert.equal(serverMessageActions("little-coder: Ollama at http://x does not have model 'q': not found").settingsQuery, 'littleCoder.model');
  assert.deepEqual(serverMessageActions('little-coder: 2 change(s) left out because you edited the same lines'), { buttons: [] });
});

test('the server\'s warning about a discarded preview is hidden: the extension words it as a decision', () => {
  const actions = serverMessageActions(`little-coder: the editor did not apply the changes (${DISCARDED_REASON}). They are kept`);
  assert.deepEqual(actions, { buttons: [], hidden: true });
  assert.match(DISCARDED_MESSAGE, /^little-coder: changes discarded; your files are as they were\. "Revise…"/);
  assert.equal(REVISE, 'Revise…');
});

test('command errors keep the server\'s words', () => {
  assert.equal(commandErrorMessage('littleCoder.undo', new Error('little-coder: nothing to undo: no applied changes')),
    'little-coder: nothing to undo: no applied changes');
  assert.equal(commandErrorMessage('littleCoder.implement', new Error("littleCoder.implement: nothing to implement at line 4")),
    'little-coder: implement failed: littleCoder.implement: nothing to implement at line 4');
  assert.equal(commandErrorMessage('littleCoder.ask', new Error('')), 'little-coder: ask failed: the language server reported an error');
});
