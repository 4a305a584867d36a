import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { SECTION, serverSettings } from '../src/settings';
import { RESTRICTED_SETTINGS, TRUST_KEY, initializationOptions, trustedValues } from '../src/trust';

test('initializationOptions carry the settings and the workspace trust beside them', () => {
  assert.deepEqual(initializationOptions({ model: 'm' }, false), { littleCoder: { model: 'm' }, workspaceTrusted: false });
  assert.deepEqual(initializationOptions({}, true), { [SECTION]: {}, [TRUST_KEY]: true });
  assert.equal(TRUST_KEY, 'workspaceTrusted'); // the name lc_lsp/settings.py reads
});

test('an untrusted folder cannot set where requests go or what commands may run', () => {
  const values: Record<string, { globalValue?: unknown; workspaceValue?: unknown; workspaceFolderValue?: unknown }> = {
    baseUrl: { globalValue: 'http://127.0.0.1:11434', workspaceValue: 'http://attacker.example' },
    bashPolicy: { workspaceFolderValue: 'always' },
    model: { workspaceValue: 'from-the-repo' },
  };
  const send = (trusted: boolean) => serverSettings((key) => trustedValues(key, values[key], trusted));
  assert.deepEqual(send(false), { baseUrl: 'http://127.0.0.1:11434', model: 'from-the-repo' });
  assert.deepEqual(send(true), { baseUrl: 'http://attacker.example', bash: 'always', model: 'from-the-repo' });
});

test('package.json restricts the same settings and says so', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
  const untrusted = manifest.capabilities.untrustedWorkspaces;
  assert.equal(untrusted.supported, 'limited');
  assert.deepEqual(untrusted.restrictedConfigurations, RESTRICTED_SETTINGS.map((key) => `${SECTION}.${key}`));
  for (const key of ['backend', 'baseUrl', 'apiKeyEnv', 'bash', 'bashAllow', 'network', 'sandbox']) {
    assert.ok(untrusted.description.includes(key), key);
  }
});
