/** File helpers for activities: atomic writes and content hashes, so a retried activity never leaves half a file. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface FileRef {
  path: string;
  sha256: string;
  bytes: number;
  /** Row count for JSON/JSONL payloads. */
  rows?: number;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Writes via a temp file in the same directory and renames it into place. Run files hold production data
 * (trace inputs and outputs, curated rows): owner-only by default (0600, new directories 0700).
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<FileRef> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data, { mode });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { path, sha256: sha256(data), bytes: Buffer.byteLength(data) };
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<FileRef> {
  const ref = await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
  return Array.isArray(value) ? { ...ref, rows: value.length } : ref;
}

export async function writeJsonlAtomic(path: string, rows: readonly unknown[]): Promise<FileRef> {
  const text = rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
  return { ...(await writeFileAtomic(path, text)), rows: rows.length };
}

/**
 * A run file read back only if it is still what its writer recorded: its text, or why not — `unreadable` (with the
 * first line of the error) or `changed` (sha256 differs).
 */
export async function readChecked(ref: { path: string; sha256: string }): Promise<{ text: string } | { why: 'unreadable' | 'changed'; detail: string }> {
  let text: string;
  try {
    text = await readFile(ref.path, 'utf8');
  } catch (err) {
    return { why: 'unreadable', detail: (err as Error).message.split('\n')[0]! };
  }
  return sha256(text) === ref.sha256 ? { text } : { why: 'changed', detail: 'sha256 differs' };
}

export async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

export async function readJsonl<T>(path: string): Promise<T[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

/** Directory of one phase of one iteration of a run; deterministic so retries overwrite, never add. */
export function phaseDir(runsDir: string, workflowId: string, iteration: number, phase: string): string {
  return join(runsDir, sanitize(workflowId), `iter-${iteration}`, phase);
}

export function runDir(runsDir: string, workflowId: string): string {
  return join(runsDir, sanitize(workflowId));
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_');
}
