/**
 * Snapshots of the agent's repository, so the flywheel can say which files a change touched — and put them back
 * when the change is rejected — without using git.
 */
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { readJson, sha256, writeFileAtomic, writeJsonAtomic, type FileRef } from './files.js';

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

/** Path (relative to the root) → content hash, bytes and permission bits. */
export type Snapshot = Map<string, { sha: string; bytes: Buffer; mode: number }>;

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
        out.set(relative(root, full), { sha: sha256(buf), bytes: buf, mode: info.mode & 0o777 });
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
    const { added, removed } = lineDelta(textOf(a?.bytes), textOf(b?.bytes));
    changes.push({ path, change: !a ? 'added' : !b ? 'deleted' : 'modified', linesAdded: added, linesRemoved: removed });
  }
  return changes;
}

/** Text of a file for line counts; binary files (with a NUL byte) count as no lines. */
const textOf = (b: Buffer | undefined): string => (!b || b.includes(0) ? '' : b.toString('utf8'));

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

// --- backup and revert of one change ----------------------------------------------------------------------

const MANIFEST = 'change-manifest.json';

export interface ChangeManifestEntry {
  path: string;
  change: FileChange['change'];
  /** Content hash before the change (null: the change added the file). */
  beforeSha: string | null;
  beforeMode: number | null;
  /** Content hash right after the change (null: the change deleted the file). */
  afterSha: string | null;
}

export interface ChangeManifest {
  root: string;
  files: ChangeManifestEntry[];
}

/** A relative path of a snapshot, joined under `base` (never outside it). */
function under(base: string, rel: string): string {
  const full = resolve(base, rel);
  if (full !== resolve(base) && !full.startsWith(resolve(base) + sep)) throw new Error(`path escapes ${base}: ${rel}`);
  return full;
}

/**
 * Keeps what a change replaced: the content before (`before/<path>`) and after (`after/<path>`) of every file it
 * touched, with a manifest, in `dir` (the change's phase directory). A path already in the manifest keeps its first
 * "before" (a retried change agent snapshots a tree the first attempt already edited), so a revert always goes back
 * to the tree as it was before the change.
 */
export async function saveChangeBackup(dir: string, root: string, before: Snapshot, after: Snapshot, changes: readonly FileChange[]): Promise<FileRef | null> {
  const manifestPath = join(dir, MANIFEST);
  const prior = existsSync(manifestPath) ? await readJson<ChangeManifest>(manifestPath) : { root, files: [] };
  const byPath = new Map(prior.files.map((f) => [f.path, f]));
  for (const c of changes) {
    const b = before.get(c.path);
    const a = after.get(c.path);
    if (a) await writeFileAtomic(under(join(dir, 'after'), c.path), a.bytes);
    const known = byPath.get(c.path);
    if (known) {
      byPath.set(c.path, { ...known, afterSha: a?.sha ?? null });
      continue;
    }
    if (b) await writeFileAtomic(under(join(dir, 'before'), c.path), b.bytes);
    byPath.set(c.path, { path: c.path, change: c.change, beforeSha: b?.sha ?? null, beforeMode: b?.mode ?? null, afterSha: a?.sha ?? null });
  }
  if (!byPath.size) return null;
  const files = [...byPath.values()].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  return writeJsonAtomic(manifestPath, { root, files } satisfies ChangeManifest);
}

export interface RevertOutcome {
  /** A backup existed (the change was made by the change agent, which keeps one). */
  backedUp: boolean;
  /** Files put back to their content before the change (or deleted, when the change added them). */
  restored: string[];
  /** Files already as they were before the change (a retried revert, or the change was undone by hand). */
  unchanged: string[];
  /** Restored files that had been edited again after the change (their later edits are gone too). */
  overwritten: string[];
}

async function shaOf(path: string): Promise<string | null> {
  try {
    return sha256(await readFile(path));
  } catch {
    return null;
  }
}

/**
 * Puts every file of a change back as it was before it (from `saveChangeBackup`'s manifest in `dir`). Idempotent: a
 * file already at its "before" content is left alone, so a retried revert changes nothing more.
 */
export async function revertChangeFromBackup(dir: string, root: string): Promise<RevertOutcome> {
  const manifestPath = join(dir, MANIFEST);
  const out: RevertOutcome = { backedUp: existsSync(manifestPath), restored: [], unchanged: [], overwritten: [] };
  if (!out.backedUp) return out;
  const manifest = await readJson<ChangeManifest>(manifestPath);
  for (const f of manifest.files) {
    const target = under(root, f.path);
    const current = await shaOf(target);
    if (current === f.beforeSha) {
      out.unchanged.push(f.path);
      continue;
    }
    if (f.beforeSha === null) {
      await rm(target, { force: true });
    } else {
      const bytes = await readFile(under(join(dir, 'before'), f.path));
      if (sha256(bytes) !== f.beforeSha) throw new Error(`the backup of ${f.path} in ${dir} does not match its manifest`);
      await writeFileAtomic(target, bytes, f.beforeMode ?? 0o644);
      if (f.beforeMode !== null) await chmod(target, f.beforeMode);
    }
    (current === f.afterSha ? out.restored : out.overwritten).push(f.path);
  }
  return out;
}
