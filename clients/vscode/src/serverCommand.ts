// Which process to start as the little-coder language server. Pure: the file system and the
// environment come in as arguments, so every rule is unit-tested.
//
// Order: littleCoder.server.command (the `little-coder` CLI), then littleCoder.server.pythonPath
// (a Python with little-coder-lsp installed), then `little-coder` in a workspace folder's virtual
// environment, then `little-coder` on PATH. The server talks stdio by default. `python -m lc_lsp`
// also takes `--stdio` (which vscode-languageclient would add); `little-coder lsp` is started without
// it because the CLI's argument parser rejects an option right after `lsp`.

import * as path from 'path';

export interface ServerSettings {
  command: string;
  pythonPath: string;
}

export interface FileProbe {
  /** True when `file` exists, is a regular file and may be executed. */
  isExecutable(file: string): boolean;
}

export interface Environment {
  /** The PATH the extension host sees. */
  pathVariable: string;
  platform: NodeJS.Platform;
  workspaceFolders: readonly string[];
}

export interface ServerLaunch {
  command: string;
  args: string[];
  /** Where the command came from, for messages ("littleCoder.server.command", "PATH", ...). */
  origin: string;
}

export type Resolution =
  | { found: true; launch: ServerLaunch }
  | { found: false; setting?: 'littleCoder.server.command' | 'littleCoder.server.pythonPath'; value?: string; tried: string[] };

export const CLI_ARGS = ['lsp'];
export const PYTHON_ARGS = ['-m', 'lc_lsp', '--stdio'];
export const CLI_NAME = 'little-coder';
const VENV_NAMES = ['.venv', 'venv'];

export function resolveServer(settings: ServerSettings, env: Environment, probe: FileProbe): Resolution {
  const command = settings.command.trim();
  if (command) {
    const found = findExecutable(command, env, probe);
    return found
      ? { found: true, launch: { command: found, args: CLI_ARGS, origin: 'littleCoder.server.command' } }
      : { found: false, setting: 'littleCoder.server.command', value: command, tried: [command] };
  }
  const python = settings.pythonPath.trim();
  if (python) {
    const found = findExecutable(python, env, probe);
    return found
      ? { found: true, launch: { command: found, args: PYTHON_ARGS, origin: 'littleCoder.server.pythonPath' } }
      : { found: false, setting: 'littleCoder.server.pythonPath', value: python, tried: [python] };
  }
  const tried: string[] = [];
  for (const folder of env.workspaceFolders) {
    for (const venv of VENV_NAMES) {
      const candidate = venvExecutable(folder, venv, env.platform);
      tried.push(candidate);
      if (probe.isExecutable(candidate)) {
        return { found: true, launch: { command: candidate, args: CLI_ARGS, origin: `the workspace's ${venv}` } };
      }
    }
  }
  tried.push(`${CLI_NAME} on PATH`);
  const onPath = searchPath(CLI_NAME, env, probe);
  return onPath
    ? { found: true, launch: { command: onPath, args: CLI_ARGS, origin: 'PATH' } }
    : { found: false, tried };
}

/** A path (absolute, or relative to the first workspace folder), or a bare name looked up on PATH. */
export function findExecutable(command: string, env: Environment, probe: FileProbe): string | undefined {
  const p = pathFor(env.platform);
  if (command.includes('/') || (env.platform === 'win32' && command.includes('\\'))) {
    const base = env.workspaceFolders[0];
    const full = p.isAbsolute(command) || base === undefined ? command : p.join(base, command);
    return withExtensions(full, env.platform).find((c) => probe.isExecutable(c));
  }
  return searchPath(command, env, probe);
}

function searchPath(name: string, env: Environment, probe: FileProbe): string | undefined {
  const p = pathFor(env.platform);
  const separator = env.platform === 'win32' ? ';' : ':';
  for (const dir of env.pathVariable.split(separator)) {
    if (!dir) {
      continue;
    }
    const hit = withExtensions(p.join(dir, name), env.platform).find((c) => probe.isExecutable(c));
    if (hit) {
      return hit;
    }
  }
  return undefined;
}

function venvExecutable(folder: string, venv: string, platform: NodeJS.Platform): string {
  const p = pathFor(platform);
  return platform === 'win32'
    ? p.join(folder, venv, 'Scripts', `${CLI_NAME}.exe`)
    : p.join(folder, venv, 'bin', CLI_NAME);
}

function withExtensions(file: string, platform: NodeJS.Platform): string[] {
  if (platform !== 'win32' || /\.(exe|cmd|bat)$/i.test(file)) {
    return [file];
  }
  return [file, `${file}.exe`, `${file}.cmd`];
}

function pathFor(platform: NodeJS.Platform): typeof path.posix {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** The launch as a shell-like line, for messages and the log. */
export function describeLaunch(launch: ServerLaunch): string {
  return [launch.command, ...launch.args].map((part) => (/\s/.test(part) ? `"${part}"` : part)).join(' ');
}
