import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLI_ARGS, PYTHON_ARGS, describeLaunch, resolveServer } from '../src/serverCommand';

const probe = (files: string[]) => ({ isExecutable: (file: string) => files.includes(file) });
const env = (path: string, folders: string[] = ['/work/project']) =>
  ({ pathVariable: path, platform: 'linux' as NodeJS.Platform, workspaceFolders: folders });
const none = { command: '', pythonPath: '' };

test('default: the workspace .venv comes before PATH', () => {
  const found = resolveServer(none, env('/usr/bin:/opt/lc/bin'),
    probe(['/work/project/.venv/bin/little-coder', '/opt/lc/bin/little-coder']));
  assert.deepEqual(found, { found: true, launch: { command: '/work/project/.venv/bin/little-coder', args: CLI_ARGS, origin: "the workspace's .venv" } });
});

test('default: `venv` is looked at too, then PATH in order', () => {
  const venv = resolveServer(none, env('/usr/bin'), probe(['/work/project/venv/bin/little-coder']));
  assert.equal(venv.found && venv.launch.command, '/work/project/venv/bin/little-coder');
  const onPath = resolveServer(none, env('/a::/b:/c'), probe(['/b/little-coder', '/c/little-coder']));
  assert.deepEqual(onPath, { found: true, launch: { command: '/b/little-coder', args: ['lsp'], origin: 'PATH' } });
});

test('nothing found: every place that was tried is listed', () => {
  const missing = resolveServer(none, env('/usr/bin', ['/w1', '/w2']), probe([]));
  assert.deepEqual(missing, {
    found: false,
    tried: ['/w1/.venv/bin/little-coder', '/w1/venv/bin/little-coder', '/w2/.venv/bin/little-coder',
      '/w2/venv/bin/little-coder', 'little-coder on PATH'],
  });
});

test('littleCoder.server.command wins, as a path or a name on PATH', () => {
  const files = ['/opt/lc/little-coder', '/usr/local/bin/lc', '/work/project/.venv/bin/little-coder'];
  const byPath = resolveServer({ command: ' /opt/lc/little-coder ', pythonPath: '/usr/bin/python3' }, env('/usr/bin'), probe(files));
  assert.deepEqual(byPath, { found: true, launch: { command: '/opt/lc/little-coder', args: CLI_ARGS, origin: 'littleCoder.server.command' } });
  const byName = resolveServer({ command: 'lc', pythonPath: '' }, env('/usr/local/bin'), probe(files));
  assert.equal(byName.found && byName.launch.command, '/usr/local/bin/lc');
});

test('a relative command is taken from the first workspace folder', () => {
  const found = resolveServer({ command: 'tools/little-coder', pythonPath: '' }, env(''), probe(['/work/project/tools/little-coder']));
  assert.equal(found.found && found.launch.command, '/work/project/tools/little-coder');
});

test('a command that is not there is reported against its setting, without falling back', () => {
  const missing = resolveServer({ command: '/nope/little-coder', pythonPath: '' }, env('/usr/bin'),
    probe(['/work/project/.venv/bin/little-coder']));
  assert.deepEqual(missing, { found: false, setting: 'littleCoder.server.command', value: '/nope/little-coder', tried: ['/nope/little-coder'] });
});

test('littleCoder.server.pythonPath runs `python -m lc_lsp --stdio`', () => {
  const found = resolveServer({ command: '', pythonPath: 'python3' }, env('/usr/bin'), probe(['/usr/bin/python3']));
  assert.deepEqual(found, { found: true, launch: { command: '/usr/bin/python3', args: PYTHON_ARGS, origin: 'littleCoder.server.pythonPath' } });
  assert.deepEqual(PYTHON_ARGS, ['-m', 'lc_lsp', '--stdio']);
  const missing = resolveServer({ command: '', pythonPath: '/nope/python' }, env('/usr/bin'), probe([]));
  assert.equal(!missing.found && missing.setting, 'littleCoder.server.pythonPath');
});

test('Windows: Scripts\\little-coder.exe in the venv, PATH with ; and .exe', () => {
  const win = { pathVariable: 'C:\\Tools;C:\\Python\\Scripts', platform: 'win32' as NodeJS.Platform, workspaceFolders: ['C:\\w'] };
  const venv = resolveServer(none, win, probe(['C:\\w\\.venv\\Scripts\\little-coder.exe']));
  assert.equal(venv.found && venv.launch.command, 'C:\\w\\.venv\\Scripts\\little-coder.exe');
  const onPath = resolveServer(none, win, probe(['C:\\Python\\Scripts\\little-coder.exe']));
  assert.equal(onPath.found && onPath.launch.command, 'C:\\Python\\Scripts\\little-coder.exe');
});

test('a launch is shown as a command line, quoting paths with spaces', () => {
  assert.equal(describeLaunch({ command: '/My Tools/python', args: PYTHON_ARGS, origin: 'x' }), '"/My Tools/python" -m lc_lsp --stdio');
});
