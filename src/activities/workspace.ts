/** Snapshots of the agent's repository, so the flywheel can say which files a change touched without using git. */
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { sha256 } from './files.js';

const NOT_COPIED = ['node_modules', '.git', '.venv', 'venv', '__pycache__', '.flywheel', 'dist', 'bt-sync', '.tools'];
const COPY_SKIP = new Set(NOT_COPIED);
/** Snapshots also skip bt's own state (.bt holds its config and runner caches, not code). */
const SKIP_DIRS = new Set([...NOT_COPIED, '.bt']);
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const COPY_MARKER = '.flywheel-copy-complete';

export interface FileChange {
  path: string;
  change: 'added' | 'modified' | 'deleted';
  linesAdded: number;
  linesRemoved: number;
}

export type Snapshot = Map<string, { sha: string; text: string | null }>;

export async function snapshotTree(root: string): Promise<Snapshot> {
  const out: Snapshot = new Map();
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) await walk(full);
      } else if (entry.isFile() && entry.name !== COPY_MARKER) {
        const info = await stat(full);
        if (info.size > MAX_FILE_BYTES) continue;
        const buf = await readFile(full);
        out.set(relative(root, full), { sha: sha256(buf), text: buf.includes(0) ? null : buf.toString('utf8') });
      }
    }
  }
  await walk(root);
  return out;
}

/** Line-level change counts between two snapshots (multiset difference of lines: cheap, good enough for a diff stat). */
export function diffSnapshots(before: Snapshot, after: Snapshot): FileChange[] {
  const changes: FileChange[] = [];
  const paths = new Set([...before.keys(), ...after.keys()]);
  for (const path of [...paths].sort()) {
    const a = before.get(path);
    const b = after.get(path);
    if (a && b && a.sha === b.sha) continue;
    const { added, removed } = lineDelta(a?.text ?? '', b?.text ?? '');
    changes.push({ path, change: !a ? 'added' : !b ? 'deleted' : 'modified', linesAdded: added, linesRemoved: removed });
  }
  return changes;
}

function lineDelta(before: string, after: string): { added: number; removed: number } {
  const count = new Map<string, number>();
  for (const l of before.split('\n')) count.set(l, (count.get(l) ?? 0) + 1);
  let added = 0;
  for (const l of after.split('\n')) {
    const n = count.get(l) ?? 0;
    if (n > 0) count.set(l, n - 1);
    else added++;
  }
  let removed = 0;
  for (const n of count.values()) removed += n;
  return { added, removed };
}

/** Copies a repository (without node_modules, .git, …) to dest, once: an existing copy is kept so retries are idempotent. */
export async function copyTreeOnce(src: string, dest: string): Promise<boolean> {
  try {
    await stat(join(dest, COPY_MARKER));
    return false;
  } catch {
    /* not copied yet */
  }
  await mkdir(dest, { recursive: true });
  await cp(src, dest, {
    recursive: true,
    force: true,
    filter: (source) => {
      const parts = relative(src, source).split(/[\\/]/);
      return !parts.some((part) => COPY_SKIP.has(part)) && !isSecretEnvFile(parts[parts.length - 1]!);
    },
  });
  // Dependencies are not copied: link the nearest node_modules above the source so evals resolve them.
  const modules = nearestNodeModules(src);
  if (modules && !existsSync(join(dest, 'node_modules'))) await symlink(modules, join(dest, 'node_modules'), 'dir');
  await writeFile(join(dest, COPY_MARKER), new Date().toISOString());
  return true;
}

/**
 * `.env`, `.env.local`, … hold secrets: they stay out of the working copy in the run directory (bt eval gets
 * their variables injected from the original agent directory; see src/eval-env.ts). Templates are copied.
 */
export function isSecretEnvFile(name: string): boolean {
  return /^\.env(\..+)?$/.test(name) && !/\.(example|sample|template|dist)$/.test(name);
}

function nearestNodeModules(start: string): string | undefined {
  let dir = start;
  for (;;) {
    const candidate = join(dir, 'node_modules');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
