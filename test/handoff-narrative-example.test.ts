// Issue 8 item 10, "a handoff people read", checked on a real example run: the writeHandoff input captured from
// `flywheel run --example --no-change-agent` (test/fixtures/handoff/README.md) is built and rendered with the
// current code. The narrative must be at most half as long as the one that run wrote (also captured) and keep every
// decision, every count and every trace link of the summary; it leads with the decision; each query is printed once.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Summary } from '../schemas/summary.js';
import { buildSummary, renderNarrative, validateSummary, type HandoffInput } from '../src/handoff/index.js';
import { mdCode, mdText } from '../src/untrusted.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'handoff');
const input = JSON.parse(readFileSync(join(FIXTURES, 'example-support.handoff-input.json'), 'utf8')) as HandoffInput;
const before = readFileSync(join(FIXTURES, 'example-support.narrative-before.md'), 'utf8');
const summary: Summary = buildSummary(input);
const md = renderNarrative(summary);
const lines = md.split('\n');

type Finding = Summary['findings_detail'][number];
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The number as the narrative rounds it (3 decimals), standing alone (not part of a longer number). */
const showsNumber = (text: string, value: number): boolean =>
  new RegExp(`(^|[^\\d.])${escapeRe(String(Math.round(value * 1000) / 1000))}(?![\\d]|\\.\\d)`).test(text);
const lineCount = (text: string): number => text.trimEnd().split('\n').length;
/** Cohort findings are `<plane>:<dimension>:<key>=<value>`. */
const cohortValue = (f: Finding): string | null => (/^[a-z_]+:[a-z]+:[^=]*=/.test(f.id) ? f.id.slice(f.id.indexOf('=') + 1) : null);
const cohortDimension = (f: Finding): string => f.id.slice(0, f.id.indexOf('='));
const cited = new Set([...summary.changes_detail.flatMap((c) => c.finding_ids), ...(summary.diagnosis?.routes ?? []).flatMap((r) => r.finding_ids)]);
const grouped = summary.findings_detail.filter((f) => f.severity === 'info' && !cited.has(f.id) && cohortValue(f) != null);

/** The line a finding is reported on: its title, or (grouped) its value as an item of a dimension's list. */
function lineOf(f: Finding): string {
  const title = mdText(f.title);
  const byTitle = lines.filter((l) => l.includes(title));
  if (byTitle.length) return byTitle[0]!;
  const value = cohortValue(f);
  expect(value, `${f.id} is neither shown by title nor a cohort`).not.toBeNull();
  const item = new RegExp(`(: |, )${escapeRe(mdText(value!))}( \\(|, |\\.$)`);
  const found = lines.filter((l) => l.startsWith('- **') && item.test(l));
  expect(found, `${f.id}: one line lists its value`).toHaveLength(1);
  return found[0]!;
}

describe('the example run\'s narrative (captured writeHandoff input, current renderer)', () => {
  it('comes from a valid summary of the run that had the problem: many informational findings, queries repeated', async () => {
    expect(await validateSummary(summary)).toEqual([]);
    expect(grouped.length).toBeGreaterThanOrEqual(12);
    expect(new Set(summary.findings_detail.map((f) => f.query)).size).toBeLessThan(summary.findings_detail.length);
    // The old narrative printed each of them with its full query.
    for (const f of grouped) expect(before).toContain(mdText(f.title));
  });

  it('is at most half as long as the narrative that run wrote, in lines and in bytes', () => {
    expect(lineCount(md) * 2).toBeLessThanOrEqual(lineCount(before));
    expect(Buffer.byteLength(md) * 2).toBeLessThanOrEqual(Buffer.byteLength(before));
  });

  it('leads with the decision (outcome and reason), the evidence and the next step', () => {
    const lead = md.slice(0, md.indexOf('\n### '));
    expect(lead).toMatch(new RegExp(`^- \\*\\*Decision:\\*\\* \`${summary.outcome}\`.* — ${escapeRe(mdText(summary.loop_reasoning))}`, 'm'));
    expect(lead).toMatch(new RegExp(`^- \\*\\*Evidence:\\*\\* ${escapeRe(mdText(summary.summary))}`, 'm'));
    expect(lead).toMatch(new RegExp(`^- \\*\\*Next step:\\*\\* ${escapeRe(mdText(summary.next_steps[0]!.title))} — \`${summary.next_steps[0]!.intent}\``, 'm'));
    expect(lead).toContain(`severity **${summary.severity}**`);
    expect(lead).toContain(`confidence **${summary.confidence}**`);
    expect(lead).toContain(`${summary.findings_detail.length} findings`);
  });

  it('keeps every decision: verify decisions, gates, the plan, changes and recommended actions', () => {
    for (const d of summary.verification.decisions) {
      expect(md).toContain(`Iteration ${d.iteration}: \`${d.rule}\` → ${d.next === 'route' ? `route ${d.route}` : `exit ${d.outcome}`} — ${mdText(d.reason)}`);
    }
    expect(summary.gates.length).toBeGreaterThan(0);
    for (const g of summary.gates) {
      const line = lines.find((l) => l.includes(mdCode(g.id)));
      expect(line, g.id).toBeDefined();
      expect(line).toContain(g.decision);
      expect(line).toContain(mdText(g.by));
      expect(line).toContain(`${mdCode(g.id)} (${g.kind}) at ${g.at}`);
    }
    for (const r of summary.diagnosis!.routes) {
      expect(md).toContain(`**${r.artifact}** — ${mdText(r.title)} (confidence ${r.confidence}`);
      for (const c of r.counterevidence) expect(md).toContain(mdText(c));
    }
    for (const n of [...summary.diagnosis!.notes, ...summary.run.notes]) expect(md).toContain(mdText(n));
    for (const c of summary.changes_detail) {
      const line = lines.find((l) => l.includes(mdText(c.description)));
      expect(line, c.id).toBeDefined();
      if (c.dataset_rows) for (const n of [c.dataset_rows.upserted, c.dataset_rows.train, c.dataset_rows.validation]) expect(showsNumber(line!, n)).toBe(true);
    }
    for (const a of summary.recommended_actions) {
      const line = lines.find((l) => l.includes(a.idempotency_key));
      expect(line, a.title).toBeDefined();
      expect(line).toContain(mdText(a.title));
      expect(line).toContain(`\`${a.type}\` (intent \`${a.intent}\``);
    }
  });

  it('keeps every count of every finding, on the line that reports the finding', () => {
    for (const f of summary.findings_detail) {
      const line = lineOf(f);
      for (const [k, v] of Object.entries(f.counts)) expect(showsNumber(line, v), `${f.id} ${k}=${v} on: ${line}`).toBe(true);
    }
  });

  it('keeps the score numbers: deltas, regressions, and every bin of every distribution', () => {
    const v = summary.verification;
    for (const d of v.deltas) {
      const line = lines.find((l) => l.startsWith(`| ${mdText(d.score)} avg |`));
      for (const x of [d.baseline, d.new, d.delta]) if (x != null) expect(showsNumber(line!, x)).toBe(true);
    }
    expect(lines.find((l) => l.startsWith('| Regressions |'))).toContain(v.regression_count === 0 ? 'none' : String(v.regression_count));
    expect(summary.score_distributions.length).toBeGreaterThan(0);
    for (const d of summary.score_distributions) {
      const row = lines.find((l) => l.startsWith(`| ${mdText(d.score)} |`));
      expect(row, d.score).toContain(`n=${d.n}, mean ${Math.round(d.mean! * 1000) / 1000} `);
      expect(row).toContain(d.histogram.join('·'));
    }
  });

  it('keeps every trace link of the summary', () => {
    const urls = new Set([
      ...summary.links.filter((l) => l.kind === 'trace').map((l) => l.url),
      ...summary.findings_detail.flatMap((f) => f.example_traces.map((t) => t.url)),
      ...summary.verification.regressions.flatMap((r) => (r.url ? [r.url] : [])),
      ...summary.regressions.map((r) => r.url),
    ]);
    expect(urls.size).toBeGreaterThan(10);
    for (const url of urls) expect(md, url).toContain(`](${url})`);
    // Each finding either links its traces or points at the numbered finding that does.
    for (const f of summary.findings_detail) {
      if (!f.example_traces.length) continue;
      const line = lineOf(f);
      const linked = f.example_traces.every((t) => line.includes(`](${t.url})`));
      const same = /same as F(\d+)/.exec(line);
      expect(linked || same != null, f.id).toBe(true);
      if (!linked) {
        const target = lines.find((l) => l.startsWith(`- **F${same![1]}** `))!;
        for (const t of f.example_traces) expect(target).toContain(`](${t.url})`);
      }
    }
  });

  it('prints each distinct query once, in the Queries appendix, and every finding cites its number', () => {
    const appendix = new Map<string, string>();
    for (const l of lines) {
      const m = /^- \*\*(Q\d+)\*\* (`+)(.*)\2$/.exec(l);
      if (m) appendix.set(m[3]!, m[1]!);
    }
    const queries = new Set(summary.findings_detail.map((f) => f.query.replace(/\s+/g, ' ').trim()));
    expect(appendix.size).toBe(queries.size);
    for (const q of queries) {
      expect(appendix.has(q), q.slice(0, 80)).toBe(true);
      expect(md.split(q).length - 1, q.slice(0, 80)).toBe(1);
    }
    for (const f of summary.findings_detail) {
      const n = appendix.get(f.query.replace(/\s+/g, ' ').trim())!;
      expect(lineOf(f), f.id).toMatch(new RegExp(`\\b${n}(?!\\d)`));
    }
  });

  it('groups informational cohort findings: one line per dimension, never one per value', () => {
    const byDimension = new Map<string, Set<string>>();
    for (const f of grouped) {
      expect(md, f.id).not.toContain(mdText(f.title));
      const set = byDimension.get(cohortDimension(f)) ?? new Set<string>();
      set.add(lineOf(f));
      byDimension.set(cohortDimension(f), set);
    }
    for (const [dimension, set] of byDimension) expect(set.size, dimension).toBe(1);
    const groupLines = new Set(grouped.map(lineOf));
    expect(groupLines.size).toBe(byDimension.size);
    expect(groupLines.size).toBeLessThan(grouped.length);
    // Each line says how many values it stands for.
    for (const [dimension, set] of byDimension) {
      const n = grouped.filter((f) => cohortDimension(f) === dimension).length;
      if (n > 1) expect([...set][0], dimension).toMatch(new RegExp(`— ${n} values `));
    }
  });
});
