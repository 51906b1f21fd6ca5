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

// --- the diff of one change ---------------------------------------------------------------------------------

/** A unified diff shown at a gate and in status is cut here (the full diff is in the change's phase directory). */
export const DIFF_EXCERPT_CHARS = 4000;
/** The diff file of one change is cut here. */
export const DIFF_FILE_CHARS = 200_000;
/** Lines of context around each hunk. */
const DIFF_CONTEXT = 3;
/** Above this many cells (changed lines before × after, past the common prefix and suffix) a file is shown whole. */
const DIFF_MAX_CELLS = 4_000_000;

type Op = { kind: ' ' | '-' | '+'; line: string };

/** Line operations turning `a` into `b`: common prefix and suffix, then a longest-common-subsequence middle. */
function lineOps(a: readonly string[], b: readonly string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const ops: Op[] = a.slice(0, pre).map((line) => ({ kind: ' ', line }));
  if (am.length * bm.length > DIFF_MAX_CELLS || !am.length || !bm.length) {
    ops.push(...am.map((line) => ({ kind: '-' as const, line })), ...bm.map((line) => ({ kind: '+' as const, line })));
  } else {
    // lcs[i][j]: length of the longest common subsequence of am[i..] and bm[j..] (one row per i, as typed arrays).
    const n = am.length;
    const m = bm.length;
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) lcs[i]![j] = am[i] === bm[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (am[i] === bm[j]) {
        ops.push({ kind: ' ', line: am[i]! });
        i++;
        j++;
      } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) ops.push({ kind: '-', line: am[i++]! });
      else ops.push({ kind: '+', line: bm[j++]! });
    }
    while (i < n) ops.push({ kind: '-', line: am[i++]! });
    while (j < m) ops.push({ kind: '+', line: bm[j++]! });
  }
  ops.push(...a.slice(a.length - suf).map((line) => ({ kind: ' ' as const, line })));
  return ops;
}

const linesOf = (text: string): string[] => {
  if (!text) return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
};

/** A unified diff of one file (`a/<path>` → `b/<path>`; /dev/null for an added or deleted file). */
export function unifiedDiff(path: string, before: Buffer | null, after: Buffer | null): string {
  const head = [`--- ${before ? `a/${path}` : '/dev/null'}`, `+++ ${after ? `b/${path}` : '/dev/null'}`];
  if ((before && before.includes(0)) || (after && after.includes(0))) return [`diff ${path}`, `Binary file ${path} ${!before ? 'added' : !after ? 'deleted' : 'changed'}`].join('\n');
  const a = linesOf(before?.toString('utf8') ?? '');
  const b = linesOf(after?.toString('utf8') ?? '');
  const ops = lineOps(a, b);
  const out = [`diff ${path}`, ...head];
  // Hunks: runs of changes with DIFF_CONTEXT lines around them, merged when their contexts touch.
  let k = 0;
  let oldLine = 1;
  let newLine = 1;
  const pos: { o: number; n: number }[] = ops.map((op) => {
    const p = { o: oldLine, n: newLine };
    if (op.kind !== '+') oldLine++;
    if (op.kind !== '-') newLine++;
    return p;
  });
  while (k < ops.length) {
    if (ops[k]!.kind === ' ') {
      k++;
      continue;
    }
    const start = Math.max(0, k - DIFF_CONTEXT);
    let end = k;
    // Extend while another change is within 2 × context of the last one.
    for (let j = k; j < ops.length; j++) {
      if (ops[j]!.kind !== ' ') end = j;
      else if (j - end > 2 * DIFF_CONTEXT) break;
    }
    const stop = Math.min(ops.length, end + DIFF_CONTEXT + 1);
    const hunk = ops.slice(start, stop);
    const oldCount = hunk.filter((o) => o.kind !== '+').length;
    const newCount = hunk.filter((o) => o.kind !== '-').length;
    const oStart = oldCount ? pos[start]!.o : pos[start]!.o - 1;
    const nStart = newCount ? pos[start]!.n : pos[start]!.n - 1;
    out.push(`@@ -${oStart},${oldCount} +${nStart},${newCount} @@`, ...hunk.map((o) => `${o.kind}${o.line}`));
    k = stop;
  }
  return out.join('\n');
}

export interface ChangeDiff {
  /** The diff of every file of the change, cut at DIFF_FILE_CHARS, in the change's phase directory. */
  file: FileRef;
  /** Its first DIFF_EXCERPT_CHARS characters (whole files first), for gates and status. */
  excerpt: string;
  /** The excerpt (or the file) leaves part of the diff out. */
  truncated: boolean;
}

/**
 * The unified diff of a change, from the backup `saveChangeBackup` kept (`before/`, `after/` and the manifest in
 * `dir`): what the change did to each file against the tree before it, even when the change agent was retried.
 * Written to `dir/change.diff`; null when the change touched nothing.
 */
export async function writeChangeDiff(dir: string): Promise<ChangeDiff | null> {
  const manifestPath = join(dir, MANIFEST);
  if (!existsSync(manifestPath)) return null;
  const manifest = await readJson<ChangeManifest>(manifestPath);
  const read = async (side: 'before' | 'after', rel: string): Promise<Buffer | null> => {
    try {
      return await readFile(under(join(dir, side), rel));
    } catch {
      return null;
    }
  };
  const parts: { path: string; text: string }[] = [];
  for (const f of manifest.files) {
    if (f.beforeSha !== null && f.beforeSha === f.afterSha) continue; // changed and changed back
    parts.push({ path: f.path, text: unifiedDiff(f.path, f.beforeSha === null ? null : await read('before', f.path), f.afterSha === null ? null : await read('after', f.path)) });
  }
  if (!parts.length) return null;
  const full = parts.map((p) => p.text).join('\n');
  const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}\n… (diff cut at ${max} characters)` : text);
  const file = await writeFileAtomic(join(dir, 'change.diff'), cut(full, DIFF_FILE_CHARS) + '\n');
  // Whole files first: the excerpt keeps the leading files' diffs intact and names the ones it leaves out.
  let excerpt = '';
  const left: string[] = [];
  for (const p of parts) {
    if (!left.length && excerpt.length + p.text.length + 1 <= DIFF_EXCERPT_CHARS) excerpt += (excerpt ? '\n' : '') + p.text;
    else if (!excerpt) excerpt = cut(p.text, DIFF_EXCERPT_CHARS); // one file larger than the excerpt: its start
    else left.push(p.path);
  }
  const truncated = excerpt.length < full.length || full.length > DIFF_FILE_CHARS;
  if (left.length) excerpt += `\n… (${left.length} more file(s) in the full diff: ${left.join(', ')})`;
  return { file, excerpt, truncated };
}
