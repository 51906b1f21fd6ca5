/** Helpers for driving the real `bt` binary against the local server in tests. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { defaultBtPath, packageRoot } from '../../src/paths.js';

export interface BtResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface BtRunner {
  /** Temp dir used as HOME / XDG dirs and as cwd (no `.bt/` above it). */
  dir: string;
  env: Record<string, string>;
  run(args: string[], opts?: { cwd?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<BtResult>;
  /** Runs and parses stdout as one JSON document; throws with stderr when the exit code is not 0. */
  json<T = unknown>(args: string[], opts?: { cwd?: string; env?: Record<string, string> }): Promise<T>;
  cleanup(): void;
}

const ANSI = /\u001b\[[0-9;]*m/g;

export function makeBtRunner(btEnv: Record<string, string>, baseDir?: string): BtRunner {
  const dir = baseDir ?? mkdtempSync(join(tmpdir(), 'bt-local-'));
  mkdirSync(join(dir, 'cfg'), { recursive: true });
  const env: Record<string, string> = {
    PATH: `${join(packageRoot, 'node_modules', '.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'cfg'),
    XDG_CACHE_HOME: join(dir, 'cache'),
    BRAINTRUST_NO_INPUT: '1',
    ...btEnv,
  };
  const run = async (args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<BtResult> => {
    const r = await execa(defaultBtPath(), args, {
      env: { ...env, ...(opts.env ?? {}) },
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      cwd: opts.cwd ?? dir,
      timeout: opts.timeoutMs ?? 90_000,
    });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr).replace(ANSI, '') };
  };
  return {
    dir,
    env,
    run,
    async json<T>(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<T> {
      const r = await run(args, opts);
      if (r.exitCode !== 0) throw new Error(`bt ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}\n${r.stdout}`);
      return JSON.parse(r.stdout) as T;
    },
    cleanup() {
      if (!baseDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Small authenticated JSON client for the server's HTTP API. */
export function apiClient(url: string, apiKey: string) {
  return async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}
