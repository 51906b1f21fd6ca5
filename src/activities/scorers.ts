/**
 * Scorers for the measurement route, on both sides of the change agent:
 *
 * - before it, `prepareScorers` finds where each targeted scorer lives. A scorer defined in the agent's repository is
 *   edited there; one that lives only in Braintrust (an LLM judge or inline code made in the UI) is read with
 *   `bt functions view` and written into a working file under `SCORER_WORKDIR` that `bt functions push` accepts,
 *   so the change agent edits a file like any other. It also reads whether production carries ground truth
 *   (`expected`) for scorers that compare against it.
 * - after it, `pushScorers` pushes the changed scorer files with `bt functions push --if-exists replace`: its own
 *   activity, so a retry pushes again (harmless) instead of running the change agent again.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { BtClient } from '../bt/client.js';
import type { BtFunction } from '../bt/schemas.js';
import { projectLogs, since } from '../bt/sql.js';
import type { LabelCoverage, PrepareScorersResult, PushScorersResult, ScorerLocation } from '../workflows/types.js';
import { writeFileAtomic } from './files.js';

/** Where scorers pulled from Braintrust are written in the agent's repository, one file per scorer. */
export const SCORER_WORKDIR = 'bt-flywheel-scorers';

const SOURCE_EXT = /\.(ts|tsx|mts|cts|js|mjs|cjs|py)$/;
const SKIP_DIRS = new Set(['node_modules', '.git', '.venv', 'venv', '__pycache__', '.flywheel', 'dist', 'bt-sync', '.tools', '.bt', SCORER_WORKDIR]);
const MAX_SCAN_BYTES = 512 * 1024;
const MAX_SCAN_FILES = 5000;

/** Does this file define a pushable function (`project.scorers.create(...)`, not just a scorer helper)? */
export function definesPushableScorer(text: string): boolean {
  return /\.scorers\.create\s*\(/.test(text);
}

/** Of the changed files (relative to `cwd`), those that define pushable scorers. Deleted files are skipped. */
export async function scorerFilesAmong(cwd: string, changes: { path: string; change: string }[]): Promise<string[]> {
  const out: string[] = [];
  for (const c of changes) {
    if (c.change === 'deleted' || !SOURCE_EXT.test(c.path)) continue;
    const text = await readFile(join(cwd, c.path), 'utf8').catch(() => '');
    if (definesPushableScorer(text)) out.push(c.path);
  }
  return out;
}

/**
 * Pushes scorer files with `bt functions push --if-exists replace`: the same files pushed twice leave Braintrust as
 * pushed once, so the activity may be retried. Files gone from the working copy are reported, not pushed.
 */
export async function pushScorerFiles(
  bt: BtClient,
  p: { project: string; cwd: string; files: string[] },
  signal?: AbortSignal,
): Promise<PushScorersResult> {
  const present = p.files.filter((f) => existsSync(join(p.cwd, f)));
  const missing = p.files.filter((f) => !present.includes(f));
  if (present.length) await bt.functionsPush(p.project, present, { ifExists: 'replace', cwd: p.cwd, signal });
  return { pushed: present, missing };
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Source files under `root` (relative paths) whose text mentions `name` as a whole word. */
async function filesMentioning(root: string, names: string[]): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>(names.map((n) => [n, []]));
  const patterns = names.map((n) => [n, new RegExp(`(^|[^A-Za-z0-9_])${escapeRegExp(n)}($|[^A-Za-z0-9_])`)] as const);
  let seen = 0;
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (seen >= MAX_SCAN_FILES) return;
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) await walk(full);
      } else if (e.isFile() && SOURCE_EXT.test(e.name)) {
        seen++;
        const info = await stat(full);
        if (info.size > MAX_SCAN_BYTES) continue;
        const text = await readFile(full, 'utf8');
        for (const [n, re] of patterns) if (re.test(text)) found.get(n)!.push(relative(root, full));
      }
    }
  }
  await walk(root);
  return found;
}

/** Braintrust's slug for a name (lower case, runs of other characters become one dash). */
export function slugOf(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** The Braintrust scorer a score column comes from: same name, else same slug. */
export function matchScorerFunction(score: string, fns: BtFunction[]): BtFunction | undefined {
  return fns.find((f) => f.name === score) ?? fns.find((f) => f.slug === score) ?? fns.find((f) => f.slug === slugOf(score));
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);

/** A JSON value as a TypeScript expression: JSON is valid TS, and the two line separators JSON leaves bare are escaped. */
export function tsLiteral(v: unknown, indent = 0): string {
  const text = JSON.stringify(v, null, 2) ?? 'undefined';
  const pad = ' '.repeat(indent);
  return text
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
    .split('\n')
    .join(`\n${pad}`);
}

/** A one-line comment-safe rendering of untrusted text (no line breaks of any kind survive). */
const commentText = (s: string) => tsLiteral(s).replace(/[\r\n]/g, ' ');

export interface PulledScorer {
  kind: NonNullable<ScorerLocation['kind']>;
  /** The working file's text, or null when the definition cannot be edited here. */
  source: string | null;
  readsExpected: boolean;
  note?: string;
}

/** Mustache references to `expected` in a prompt (`{{expected}}`, `{{ expected.answer }}`, `{{{expected}}}`). */
const PROMPT_EXPECTED = /\{\{\{?\s*[#^/]?\s*expected\b/;
const CODE_EXPECTED = /\bexpected\b/;

/**
 * Turns a Braintrust scorer (as `bt functions view --json` prints it) into a file `bt functions push` accepts: an
 * LLM judge becomes `project.scorers.create({ messages, model, choiceScores, … })`, inline Node code is kept as
 * written inside a function that returns its `handler` (so loading the file never runs it). Every value read from
 * Braintrust goes into the file as a JSON literal, except inline code, which is the project's own code.
 */
export function renderScorerFile(fn: BtFunction, projectName: string): PulledScorer {
  const fd = obj(fn.function_data);
  const pd = obj(fn.prompt_data);
  const header = [
    `// Pulled from Braintrust by bt-flywheel with \`bt functions view\`: scorer ${commentText(fn.name)} (slug ${commentText(fn.slug)}) of project ${commentText(projectName)}.`,
    '// Edit this file to change the scorer; bt-flywheel pushes it back with `bt functions push --if-exists replace`.',
    "import * as braintrust from 'braintrust';",
    '',
    `const project = braintrust.projects.create({ name: ${tsLiteral(projectName)} });`,
    '',
  ];
  const common = [`  name: ${tsLiteral(fn.name)},`, `  slug: ${tsLiteral(fn.slug)},`, ...(fn.description ? [`  description: ${tsLiteral(fn.description)},`] : [])];
  const fdType = typeof fd?.type === 'string' ? fd.type : pd ? 'prompt' : undefined;
  if (fdType === 'prompt') {
    const prompt = obj(pd?.prompt);
    const options = obj(pd?.options);
    const parser = obj(pd?.parser);
    const readsExpected = PROMPT_EXPECTED.test(JSON.stringify(prompt ?? {}));
    const choiceScores = obj(parser?.choice_scores);
    const block =
      prompt?.type === 'chat' && Array.isArray(prompt.messages)
        ? `  messages: ${tsLiteral(prompt.messages, 2)},`
        : prompt?.type === 'completion' && typeof prompt.content === 'string'
          ? `  prompt: ${tsLiteral(prompt.content, 2)},`
          : null;
    if (!block || parser?.type !== 'llm_classifier' || !choiceScores || typeof options?.model !== 'string') {
      return { kind: 'prompt', source: null, readsExpected, note: 'an LLM judge without a chat/completion prompt, a model and classifier choice scores: edit it in the Braintrust UI' };
    }
    const lines = [
      ...header,
      'project.scorers.create({',
      ...common,
      block,
      `  model: ${tsLiteral(options.model)},`,
      ...(obj(options.params) ? [`  params: ${tsLiteral(options.params, 2)},`] : []),
      ...(typeof parser.use_cot === 'boolean' ? [`  useCot: ${parser.use_cot},`] : []),
      `  choiceScores: ${tsLiteral(choiceScores, 2)},`,
      ...(typeof pd?.template_format === 'string' ? [`  templateFormat: ${tsLiteral(pd.template_format)},`] : []),
      '});',
      '',
    ];
    return { kind: 'prompt', source: lines.join('\n'), readsExpected };
  }
  if (fdType === 'code') {
    const data = obj(fd?.data);
    const runtime = obj(data?.runtime_context)?.runtime;
    if (data?.type === 'inline' && typeof data.code === 'string') {
      const code = data.code;
      const readsExpected = CODE_EXPECTED.test(code);
      if (runtime !== 'node') return { kind: 'code_inline', source: null, readsExpected, note: `inline ${typeof runtime === 'string' ? runtime : 'non-Node'} code: edit it in the Braintrust UI` };
      if (!/\bhandler\b/.test(code)) return { kind: 'code_inline', source: null, readsExpected, note: 'inline code without a `handler` function: edit it in the Braintrust UI' };
      if (/^\s*(import|export)\b/m.test(code)) return { kind: 'code_inline', source: null, readsExpected, note: 'inline code with import/export statements: edit it in the Braintrust UI' };
      // The stored code goes inside a function, so loading this file (bt functions push imports it on the worker)
      // never runs it: it runs only where the scorer runs, as it did in Braintrust.
      const lines = [
        ...header,
        'function storedScorer() {',
        '  // ---- the scorer code as stored in Braintrust ----',
        code.replace(/\s+$/, ''),
        '  // ---- end of the stored code ----',
        '  return handler;',
        '}',
        '',
        'project.scorers.create({',
        ...common,
        '  // eslint-disable-next-line @typescript-eslint/no-explicit-any',
        '  handler: (args: any) => storedScorer()(args),',
        '});',
        '',
      ];
      return { kind: 'code_inline', source: lines.join('\n'), readsExpected };
    }
    if (data?.type === 'bundle') {
      const preview = typeof data.preview === 'string' ? data.preview : '';
      return {
        kind: 'code_bundle',
        source: null,
        readsExpected: CODE_EXPECTED.test(preview),
        note: 'pushed as a code bundle from another repository: change it where it is defined and push it from there',
      };
    }
  }
  return { kind: 'other', source: null, readsExpected: false, note: `a ${fdType ?? 'untyped'} function: not editable as a file here` };
}

/** `SELECT` counting production roots in the window and those carrying an `expected` value. */
export function labelCoverageQuery(projectId: string, days: number): string {
  return `SELECT COUNT(*) AS n, count((expected IS NULL) ? 1 : null) AS unlabeled FROM ${projectLogs(projectId)} WHERE is_root = true AND ${since(days)}`;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) || 0 : 0);

/**
 * Where the scorers behind `scores` live (see the module comment). A working file already in `SCORER_WORKDIR` (an
 * earlier iteration's, edited or reverted) is kept as it is, so a retry or a later iteration builds on it.
 */
export async function prepareScorers(
  bt: BtClient,
  p: { project: { id: string; name: string }; agentDir: string; scores: string[]; windowDays: number },
  signal?: AbortSignal,
): Promise<PrepareScorersResult> {
  const scores = [...new Set(p.scores)].slice(0, 20);
  const mentions = await filesMentioning(p.agentDir, scores);
  const needRemote = scores.filter((s) => !mentions.get(s)!.length);
  const fns = needRemote.length ? await bt.functionsList(p.project.name, { type: 'scorer', signal }) : [];
  const out: ScorerLocation[] = [];
  for (const score of scores) {
    const local = mentions.get(score)!;
    if (local.length) {
      out.push({ score, where: 'local', localFiles: local.slice(0, 10), editable: true, readsExpected: false });
      continue;
    }
    const match = matchScorerFunction(score, fns);
    if (!match) {
      out.push({ score, where: 'not_found', localFiles: [], editable: false, readsExpected: false, note: 'no file in the repository and no Braintrust scorer defines it' });
      continue;
    }
    const fn = await bt.functionsView(p.project.name, match.slug, { signal });
    const pulled = renderScorerFile(fn, p.project.name);
    const base = { score, where: 'braintrust' as const, localFiles: [], slug: fn.slug, functionId: fn.id, kind: pulled.kind, readsExpected: pulled.readsExpected, ...(pulled.note ? { note: pulled.note } : {}) };
    if (!pulled.source) {
      out.push({ ...base, editable: false });
      continue;
    }
    const file = join(SCORER_WORKDIR, `${fn.slug.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80) || 'scorer'}.ts`);
    const full = join(p.agentDir, file);
    if (!existsSync(full)) {
      await mkdir(join(p.agentDir, SCORER_WORKDIR), { recursive: true });
      await writeFileAtomic(full, pulled.source);
    }
    out.push({ ...base, file, editable: true });
  }
  let labels: LabelCoverage | null = null;
  if (out.some((s) => s.readsExpected)) {
    const query = labelCoverageQuery(p.project.id, p.windowDays);
    const res = await bt.sql(query, { signal });
    const row = (res.data[0] ?? {}) as Record<string, unknown>;
    const rows = num(row.n);
    labels = { rows, labeledRows: Math.max(0, rows - num(row.unlabeled)), windowDays: p.windowDays, query };
  }
  return { scorers: out, labels };
}
