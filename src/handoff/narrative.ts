/**
 * renderNarrative: `bt-flywheel-narrative.md` from the summary, per the seed's templates — the PR body when
 * something changed, else a concise no-change summary. Pure.
 *
 * Written to be read: it leads with the decision (outcome and reason), the evidence and the next step, then the
 * detail. Findings cite their query by number (each distinct query is printed once, in the Queries appendix); a
 * finding whose example traces are those of an earlier numbered finding says "same as F<n>"; informational findings
 * about cohorts of one dimension share one line; score distributions are a table (exact rows per bin and a
 * sparkline) rather than one chart each. Every decision, count and trace link of the summary is still there (the
 * summary keeps every field; grouping is the narrative's). All trace-derived text goes through mdText/mdCode.
 */
import type { Summary } from '../../schemas/summary.js';
import { mdCode, mdText } from '../untrusted.js';

type Finding = Summary['findings_detail'][number];

const round = (x: number): number => Math.round(x * 1000) / 1000;
const fmt = (x: number | null | undefined): string => (x == null ? '—' : String(round(x)));
const signed = (x: number | null | undefined): string => (x == null ? '—' : `${x >= 0 ? '+' : ''}${round(x)}`);
/** Markdown table cells: no pipes or newlines. */
const cell = (s: string): string => mdText(s);
const md = (label: string, url: string | null | undefined): string => (url ? `[${cell(label)}](${url})` : cell(label));
const sentence = (t: string): string => (/[.!?]$/.test(t) ? t : `${t}.`);
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function binLabels(bins: number): string[] {
  return Array.from({ length: bins }, (_, i) => `${round(i / bins)}-${round((i + 1) / bins)}`);
}

/** A one-line shape of a histogram (eight block heights; an empty bin is the lowest block). */
export function sparkline(histogram: readonly number[]): string {
  const blocks = '▁▂▃▄▅▆▇█';
  const max = Math.max(0, ...histogram);
  return histogram.map((n) => (n <= 0 || max === 0 ? blocks[0] : blocks[Math.max(1, Math.round((n / max) * 7))])).join('');
}

// ---- References: numbered queries and findings, trace lists written once

/** Long trace ids (UUIDs) shown by their first 8 characters, like short commit hashes; the link has the full id. */
const traceLabel = (id: string): string => (id.length > 12 ? `${id.slice(0, 8)}…` : id);

/**
 * What the findings point at. Queries are numbered Q1, Q2, … in the order they are first cited and printed once,
 * in the Queries appendix; findings shown in full are F1, F2, …; a finding whose example traces are exactly those of
 * an earlier numbered finding says so instead of linking them again.
 */
class Refs {
  private readonly queries = new Map<string, { n: number; ref: string | undefined }>();
  private readonly traceSets = new Map<string, number>();
  readonly findingNo = new Map<string, number>();

  query(query: string, ref?: string): string | null {
    const text = query.replace(/\s+/g, ' ').trim();
    if (!text) return null;
    let e = this.queries.get(text);
    if (!e) this.queries.set(text, (e = { n: this.queries.size + 1, ref }));
    return `Q${e.n}`;
  }

  /** The finding's trace links, or `same as F<n>`. */
  traces(f: Finding): string {
    if (!f.example_traces.length) return '';
    const key = JSON.stringify(f.example_traces.map((t) => t.url));
    const earlier = this.traceSets.get(key);
    if (earlier) return `same as F${earlier}`;
    const n = this.findingNo.get(f.id);
    if (n) this.traceSets.set(key, n);
    return f.example_traces.map((t) => md(traceLabel(t.trace_id), t.url)).join(', ');
  }

  /** `F3` for a finding shown in full, else the id as code. */
  finding(id: string): string {
    const n = this.findingNo.get(id);
    return n ? `F${n}` : mdCode(id);
  }

  queriesSection(): string[] {
    if (!this.queries.size) return [];
    const out = ['### Queries', ''];
    for (const [text, { n, ref }] of this.queries) out.push(`- **Q${n}** ${mdCode(text, 2000)}${ref ? ` (stored as ${mdCode(ref)})` : ''}`);
    return out;
  }
}

// ---- Findings

const sameWindow = (f: Finding, s: Summary): boolean =>
  s.run.window != null && f.window.from === s.run.window.from && f.window.to === s.run.window.to && f.window.days === s.run.window.days;

const windowText = (f: Finding, s: Summary): string => (sameWindow(f, s) ? '' : ` Window ${f.window.from} → ${f.window.to} (${f.window.days} days).`);

/** Does `text` show the number `value` (rounded as the narrative rounds), not as part of a longer number? */
function showsNumber(text: string, value: number): boolean {
  const v = String(round(value)).replace(/[.]/g, '\\.');
  return new RegExp(`(^|[^\\d.])${v}(?![\\d]|\\.\\d)`).test(text);
}

/** The counts a finding's detail does not already state, as `name value`. */
function extraCounts(f: Finding): string[] {
  return Object.entries(f.counts)
    .filter(([, v]) => !showsNumber(f.detail, v))
    .map(([k, v]) => `${mdText(k.replace(/_/g, ' '))} ${fmt(v)}`);
}

function findingLine(f: Finding, s: Summary, refs: Refs): string {
  const n = refs.findingNo.get(f.id);
  const extra = extraCounts(f);
  const traces = refs.traces(f);
  const qn = refs.query(f.query, f.query_ref);
  return (
    `- ${n ? `**F${n}** ` : ''}**${mdText(f.title)}** (${f.severity}) — ${mdText(f.detail)}${extra.length ? ` (${extra.join(', ')})` : ''}.` +
    `${windowText(f, s)}${traces ? ` Traces: ${traces}.` : ''}${qn ? ` Query ${qn}.` : ''}`
  );
}

/** `coverage:metadata:customer_tier=free` → the cohort's dimension, key and value (ids are `<plane>:<cohort id>`). */
function cohortOf(id: string): { dimension: string; key: string; value: string } | null {
  const m = /^[a-z_]+:(facet|metadata|tag|topic):([^=]*)=(.*)$/s.exec(id);
  return m ? { dimension: m[1]!, key: m[2]!, value: m[3]! } : null;
}

function dimensionLabel(dimension: string, key: string): string {
  switch (dimension) {
    case 'metadata':
      return `metadata.${key}`;
    case 'facet':
      return `facets.${key}`;
    case 'topic':
      return `${key} topic`;
    case 'tag':
      return key || 'tags';
    default:
      return `${dimension} ${key}`;
  }
}

/** The words all titles end with, from a word boundary (`is underrepresented … normally` → `underrepresented … normally`). */
function sharedTitleEnding(titles: readonly string[]): string {
  let suffix = titles[0] ?? '';
  for (const t of titles.slice(1)) {
    let i = 0;
    while (i < suffix.length && i < t.length && suffix[suffix.length - 1 - i] === t[t.length - 1 - i]) i++;
    suffix = suffix.slice(suffix.length - i);
  }
  const space = suffix.indexOf(' ');
  if (space < 0) return '';
  return suffix.slice(space + 1).replace(/^(is|are) /, '').trim();
}

const COUNT_NAMES: Record<string, string> = { traffic: 'traces', dataset_rows: 'eval-dataset rows' };
const countText = (k: string, v: number): string => `${fmt(v)} ${mdText(COUNT_NAMES[k] ?? k.replace(/_/g, ' '))}`;

interface InfoGroup {
  label: string;
  findings: Finding[];
  values: string[];
}

/**
 * Informational findings, one line per cohort dimension (`metadata.customer_tier — underrepresented … : enterprise
 * (104 traces), free (363 traces)`), counts the whole group shares said once, each value's other counts and traces
 * beside it. Findings that are not about a cohort, or alone in their dimension, keep their own line.
 */
function infoLines(findings: readonly Finding[], s: Summary, refs: Refs): string[] {
  const groups = new Map<string, InfoGroup>();
  const order: Array<InfoGroup | Finding> = [];
  for (const f of findings) {
    const c = cohortOf(f.id);
    if (!c) {
      order.push(f);
      continue;
    }
    const key = JSON.stringify([f.plane, c.dimension, c.key, f.query, sameWindow(f, s)]);
    let g = groups.get(key);
    if (!g) {
      groups.set(key, (g = { label: dimensionLabel(c.dimension, c.key), findings: [], values: [] }));
      order.push(g);
    }
    g.findings.push(f);
    g.values.push(c.value);
  }
  const out: string[] = [];
  for (const item of order) {
    if (!('findings' in item)) {
      out.push(findingLine(item, s, refs));
      continue;
    }
    const ending = sharedTitleEnding(item.findings.map((f) => f.title));
    if (item.findings.length === 1 || !ending) {
      for (const f of item.findings) out.push(findingLine(f, s, refs));
      continue;
    }
    const first = item.findings[0]!;
    const keys = [...new Set(item.findings.flatMap((f) => Object.keys(f.counts)))];
    const shared = keys.filter((k) => item.findings.every((f) => f.counts[k] === first.counts[k]));
    const own = keys.filter((k) => !shared.includes(k));
    const values = item.findings.map((f, i) => {
      const counts = own.filter((k) => f.counts[k] != null).map((k) => countText(k, f.counts[k]!));
      const traces = refs.traces(f);
      const inner = [counts.join(', '), traces ? `traces ${traces}` : ''].filter(Boolean).join('; ');
      return `${mdText(item.values[i]!)}${inner ? ` (${inner})` : ''}`;
    });
    const qn = refs.query(first.query, first.query_ref);
    const sharedText = shared.map((k) => `${countText(k, first.counts[k]!)} each`);
    const head = [`${plural(item.findings.length, 'value')} ${mdText(ending)}`, ...sharedText, ...(qn ? [`query ${qn}`] : [])].join('; ');
    out.push(`- **${mdText(item.label)}** — ${head}${windowText(first, s)}: ${values.join(', ')}.`);
  }
  return out;
}

/**
 * Findings that motivated a change or a route, and every warning or critical one, in full; informational ones
 * grouped by dimension in a <details> block, so a reviewer reads the evidence behind the change before the background.
 */
function findingsSection(s: Summary, heading: string, refs: Refs, main: readonly Finding[], rest: readonly Finding[]): string[] {
  if (!s.findings_detail.length) return [];
  const out = [heading, '', ...main.map((f) => findingLine(f, s, refs))];
  if (rest.length) {
    const lines = infoLines(rest, s, refs);
    out.push('', `<details><summary>${plural(rest.length, 'more finding')} (informational), in ${plural(lines.length, 'line')}</summary>`, '', ...lines, '', '</details>');
  }
  return out;
}

function splitFindings(s: Summary): { main: Finding[]; rest: Finding[] } {
  const cited = new Set([...s.changes_detail.flatMap((c) => c.finding_ids), ...(s.diagnosis?.routes ?? []).flatMap((r) => r.finding_ids)]);
  const rank = { critical: 0, warning: 1, info: 2 } as const;
  const sorted = [...s.findings_detail].sort((a, b) => rank[a.severity] - rank[b.severity]);
  const main = sorted.filter((f) => cited.has(f.id) || f.severity !== 'info');
  return { main, rest: sorted.filter((f) => !main.includes(f)) };
}

// ---- Lead, plan, changes, verification, actions, run

function lead(s: Summary, rest: readonly Finding[]): string[] {
  const tally = (['critical', 'warning', 'info'] as const)
    .map((sev) => [sev, s.findings_detail.filter((f) => f.severity === sev).length] as const)
    .filter(([, n]) => n > 0)
    .map(([sev, n]) => `${n} ${sev === 'info' ? 'informational' : sev}`);
  const findings = s.findings_detail.length ? `${plural(s.findings_detail.length, 'finding')}: ${tally.join(', ')}${rest.length ? ` (${rest.length} grouped by dimension)` : ''}` : 'No findings';
  const regressions = s.verification.experiments.length ? `; ${s.verification.regression_count === 0 ? 'no regressed eval rows' : `**${plural(s.verification.regression_count, 'regressed eval row')}**`}` : '';
  const next = s.next_steps[0];
  const more = s.next_steps.length - 1;
  return [
    `- **Decision:** \`${s.outcome}\` (severity **${s.severity}**, confidence **${s.confidence}**, ${s.blocking ? '**blocking**' : 'not blocking'}) — ${sentence(mdText(s.loop_reasoning, 1000))}`,
    `- **Evidence:** ${mdText(s.summary, 1000)} ${findings}${regressions}.`,
    next
      ? `- **Next step:** ${mdText(next.title)} — \`${next.intent}\` → ${next.suggested_destination.replace(/_/g, ' ')}, priority ${next.priority}${next.blocking ? ', **blocking**' : ''}${more > 0 ? ` (${more} more under Recommended Actions)` : ''}.`
      : '- **Next step:** none.',
  ];
}

function planSection(s: Summary, refs: Refs, withEvidence: boolean): string[] {
  if (!s.diagnosis) return [];
  const out = ['### Diagnosis', ''];
  s.diagnosis.routes.forEach((r, i) => {
    const cites = r.finding_ids.length ? `; ${r.finding_ids.map((id) => refs.finding(id)).join(', ')}` : '';
    out.push(`${i + 1}. **${r.artifact}** — ${mdText(r.title)} (confidence ${r.confidence}${cites})`);
    if (withEvidence) for (const e of r.evidence) out.push(`   - ${mdText(e)}`);
    for (const c of r.counterevidence) out.push(`   - _Counterevidence:_ ${mdText(c)}`);
    for (const f of r.follow_up ?? []) {
      out.push(`   - _Follow-up on ${mdText(f.target.kind)} ${mdCode(f.target.name)}: ${f.verdict}_`);
      for (const c of f.checks) {
        const searched = c.term ? ` — searched for ${mdCode(c.term)}` : '';
        const ref = c.query_ref ? ` (${mdCode(c.query_ref)})` : '';
        const traces = c.traces.length ? ` — ${c.traces.map((t) => md(traceLabel(t.trace_id), t.url)).join(', ')}` : '';
        out.push(`     - ${c.verdict}: ${mdText(c.text)}${searched}${ref}${traces}`);
      }
    }
  });
  for (const n of s.diagnosis.notes) out.push(`- _Note:_ ${mdText(n)}`);
  return out;
}

function changesSection(s: Summary, refs: Refs): string[] {
  const out = ['### What Changed', ''];
  for (const c of s.changes_detail) {
    const what = [
      c.files.length ? `files ${c.files.map((f) => mdCode(f)).join(', ')}` : null,
      c.dataset_rows ? `${c.dataset_rows.upserted} rows into dataset ${mdCode(c.dataset_rows.dataset)} (train ${c.dataset_rows.train}, validation ${c.dataset_rows.validation}${c.dataset_rows.needs_label ? `, ${c.dataset_rows.needs_label} need labels` : ''})` : null,
      c.functions.length ? `functions ${c.functions.map((f) => `${mdCode(f.slug)} (${f.action})`).join(', ')}` : null,
    ].filter(Boolean);
    const reverted = c.reverted ? ` — **reverted** (not accepted: ${mdText(c.reverted.reason)})` : '';
    if (c.diff) what.push(`diff ${mdCode(c.diff.path, 500)}`);
    out.push(`- **${c.artifact}** — ${mdText(c.description)}${what.length ? ` — ${what.join('; ')}` : ''}${reverted} _(motivated by ${c.finding_ids.map((f) => refs.finding(f)).join(', ')}; iteration ${c.iteration}; applied by ${mdText(c.applied_by)})_`);
  }
  return out;
}

const SOURCES = ['production', 'baseline', 'new'] as const;

/** Score distributions, one row per score, a column per source: n, mean, shape and the rows in each bin. */
function distributionsSection(s: Summary): string[] {
  if (!s.score_distributions.length) return [];
  const bins = Math.max(...s.score_distributions.map((d) => d.histogram.length));
  const sources = SOURCES.filter((src) => s.score_distributions.some((d) => d.source === src));
  const scores = [...new Set(s.score_distributions.map((d) => d.score))];
  const out = [
    '#### Score distributions',
    '',
    `_Rows per bin, ${bins} equal-width bins from ${binLabels(bins)[0]} to ${binLabels(bins)[bins - 1]}._`,
    '',
    `| Score | ${sources.join(' | ')} |`,
    `|---|${sources.map(() => '---').join('|')}|`,
  ];
  for (const score of scores) {
    const cells = sources.map((src) => {
      const d = s.score_distributions.find((x) => x.score === score && x.source === src);
      return d ? `n=${d.n}, mean ${fmt(d.mean)} ${sparkline(d.histogram)} ${d.histogram.join('·')}` : '—';
    });
    out.push(`| ${cell(score)} | ${cells.join(' | ')} |`);
  }
  return out;
}

function scoreImpact(s: Summary): string[] {
  const v = s.verification;
  const newest = [...v.experiments].reverse().find((e) => e.run_mode === 'full') ?? v.experiments[v.experiments.length - 1] ?? null;
  // The deltas compare like with like: the unchanged agent on the same split when it was measured, else the pinned baseline.
  const before = newest ? [...v.experiments].reverse().find((e) => e.run_mode === 'baseline' && e.split === newest.split && e.iteration === newest.iteration) : undefined;
  const base = before ?? v.baseline;
  const out = ['### Score Impact', '', '| | Baseline | New |', '|---|---|---|'];
  out.push(`| Experiment | ${base ? md(base.name || base.id, base.url) : '—'} | ${newest ? md(newest.name || newest.id, newest.url) : '—'} |`);
  for (const d of v.deltas) out.push(`| ${cell(d.score)} avg | ${fmt(d.baseline)} | ${fmt(d.new)} (${signed(d.delta)}) |`);
  const regs = v.regressions.map((r) => md(`${traceLabel(r.trace_id ?? r.row_id)} (${r.score} ${fmt(r.baseline)}→${fmt(r.new)})`, r.url));
  const hidden = v.regression_count - regs.length;
  out.push(`| Regressions | — | ${v.regression_count === 0 ? 'none' : `${v.regression_count}: ${regs.join(', ')}${hidden > 0 ? `, and ${hidden} more` : ''}`} |`);
  const sick = v.scorer_health.filter((h) => !h.healthy);
  const after = [
    v.train_delta != null || v.validation_delta != null
      ? `Train delta ${signed(v.train_delta)} · validation delta ${signed(v.validation_delta)}${v.overfitting ? ' — **overfitting: change not accepted**' : ''}.`
      : null,
    before && v.baseline ? `Per-row regressions are checked against the pinned baseline ${md(v.baseline.name || v.baseline.id, v.baseline.url)}.` : null,
    `Scorer health: ${sick.length ? sick.map((h) => mdText(h.detail)).join('; ') : 'all scorers discriminating'}.`,
  ].filter(Boolean);
  out.push('', after.join(' '));
  out.push(...drilldownLines(v));
  return out;
}

/** The regressed rows drilled into: input, expected, output before and after, each regressed score's rationale. */
function drilldownLines(v: Summary['verification']): string[] {
  const rows = v.regression_drilldown ?? [];
  if (!rows.length) return [];
  const out = ['', `#### Regressed rows (${rows.length === v.regression_count ? `all ${rows.length}` : `the ${rows.length} largest drops of ${v.regression_count}`})`, ''];
  const text = (t: string | null): string => (t === null ? '—' : mdText(t, 300));
  for (const r of rows) {
    const drops = r.scores.map((d) => `${mdText(d.score)} ${fmt(d.baseline)}→${fmt(d.new)} (${signed(d.delta)})`).join(', ');
    const links = [r.url ? md('new', r.url) : null, r.baseline_url ? md('baseline', r.baseline_url) : null].filter(Boolean).join(' · ');
    out.push(`- ${mdCode(traceLabel(r.trace_id ?? r.row_id))}: ${drops}${links ? ` — ${links}` : ''}`);
    out.push(`  - Input: ${text(r.input)}`);
    if (r.expected !== null) out.push(`  - Expected: ${text(r.expected)}`);
    out.push(`  - Output before: ${text(r.output_before)}`, `  - Output after: ${text(r.output_after)}`);
    for (const q of r.rationale) {
      if (q.before === null && q.after === null) continue;
      out.push(`  - Why ${mdText(q.score)} (scorer's words): before ${text(q.before)}; after ${text(q.after)}`);
    }
  }
  return out;
}

function actionsSection(s: Summary): string[] {
  const out = ['### Recommended Actions', ''];
  for (const a of s.recommended_actions) {
    out.push(
      `- **${mdText(a.title)}** — \`${a.type}\` (intent \`${a.intent}\`, target ${mdCode(a.target)}), severity **${a.severity}**, ${a.blocking ? '**blocking**' : 'not blocking'}, ${a.requires_human_review ? 'needs human review' : 'no review needed'}. ${cell(a.reason)} Key \`${a.idempotency_key}\``,
    );
  }
  return out;
}

/** Each iteration's attempt side by side: what it changed, what it measured, what was decided. */
function iterationsSection(s: Summary): string[] {
  const attempts = s.verification.attempts ?? [];
  // One attempt is already the Score Impact section and the decision in the lead: side by side needs two.
  if (attempts.length < 2) return [];
  const target = attempts.find((a) => a.target_score)?.target_score ?? null;
  const out = [
    '### Iterations',
    '',
    `| Iteration | Plan steps | Files changed | ${target ? `${cell(target)} Δ` : 'Target Δ'} (train / validation) | Regressed rows | Decision | Change |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const a of attempts) {
    const files = a.files.length ? a.files.slice(0, 6).map((f) => mdCode(f)).join(', ') + (a.files.length > 6 ? ', …' : '') : '—';
    const change = a.accepted ? 'accepted' : a.reverted_files.length ? `not accepted, reverted (${a.reverted_files.length} file(s))` : 'not accepted';
    out.push(
      `| ${a.iteration} | ${a.route_ids.map((r) => mdCode(r)).join(', ') || '—'} | ${files} | ${signed(a.train_delta)} / ${signed(a.validation_delta)} | ${a.regression_count} | \`${a.rule}\` → ${cell(a.next)} | ${change} |`,
    );
  }
  const why = attempts.filter((a) => a.why_not_accepted.length);
  if (why.length) {
    out.push('');
    for (const a of why) out.push(`- Iteration ${a.iteration} not accepted: ${a.why_not_accepted.map((w) => mdText(w)).join('; ')}`);
  }
  return out;
}

function envSource(n: NonNullable<Summary['run']['eval_env']>[number]): string {
  switch (n.source) {
    case 'dotenv':
      return '.env';
    case 'env_file':
      return `--env-file ${n.file ?? ''}`;
    case 'eval_env':
      return '--eval-env';
    case 'worker_env':
      return `worker environment, over ${n.file ?? 'a file'}`;
  }
}

/** Gates answered the same way by the same party share a line; a gate with a note keeps its own. */
function gateLines(s: Summary): string[] {
  const out: string[] = [];
  const groups = new Map<string, Summary['gates']>();
  for (const g of s.gates) {
    if (g.note) {
      out.push(`- Gate ${mdCode(g.id)} (${g.kind}): ${g.decision} by ${mdText(g.by)} at ${g.at} — ${mdText(g.note)}`);
      continue;
    }
    const key = JSON.stringify([g.decision, g.by]);
    groups.set(key, [...(groups.get(key) ?? []), g]);
  }
  for (const gs of groups.values()) {
    const { decision, by } = gs[0]!;
    out.push(`- ${gs.length === 1 ? 'Gate' : 'Gates'} ${decision} by ${mdText(by)}: ${gs.map((g) => `${mdCode(g.id)} (${g.kind}) at ${g.at}`).join(', ')}`);
  }
  // What the dataset write gates showed (counts and target): what was approved.
  for (const g of s.gates) if (g.shown && g.kind === 'write') out.push(`- Write gate ${mdCode(g.id)} showed: ${mdText(g.shown, 400)}`);
  return out;
}

function runSection(s: Summary): string[] {
  const out = [
    '### Run',
    '',
    `- Project **${mdText(s.run.project.name)}**, goal “${mdText(s.goal)}”, ${s.run.iterations} of at most ${s.run.max_iterations} iteration(s); workflow ${mdCode(s.run.workflow_id)} run ${mdCode(s.run.run_id)}, ${s.run.mode} mode${s.run.mode_reason ? ` (${mdText(s.run.mode_reason)})` : ''}, ${s.run.started_at} → ${s.run.finished_at}`,
  ];
  const origin = [
    s.run.project_source ? `Project resolved from ${mdText(s.run.project_source)}` : null,
    s.run.baseline ? `baseline experiment ${mdCode(s.run.baseline.name)} (chosen by: ${mdText(s.run.baseline.chosen_by)})` : null,
    s.run.window ? `evidence window ${s.run.window.from} → ${s.run.window.to} (${s.run.window.days} days)` : null,
  ].filter((x): x is string => x != null);
  if (origin.length) out.push(`- ${origin.join('; ').replace(/^./, (c) => c.toUpperCase())}`);
  const evalEnv = s.run.eval_env ?? [];
  out.push(
    evalEnv.length
      ? `- \`bt eval\` environment (names only): ${evalEnv.map((n) => `\`${n.name}\` (${envSource(n)})`).join(', ')}`
      : '- `bt eval` environment: no variables beyond the flywheel\'s own (no `.env`, `--env-file` or `--eval-env`)',
  );
  for (const n of s.run.notes) out.push(`- _Note:_ ${mdText(n)}`);
  for (const d of s.verification.decisions) out.push(`- Iteration ${d.iteration}: \`${d.rule}\` → ${d.next === 'route' ? `route ${mdText(String(d.route))}` : `exit ${d.outcome}`} — ${mdText(d.reason)}`);
  out.push(...gateLines(s));
  if (s.run.error) out.push(`- Error in ${s.run.error.phase}: ${mdText(s.run.error.message)}`);
  return out;
}

export function renderNarrative(s: Summary): string {
  const refs = new Refs();
  const { main, rest } = splitFindings(s);
  main.forEach((f, i) => refs.findingNo.set(f.id, i + 1));
  const changed = s.changes_detail.length > 0;
  const lines: string[] = changed
    ? ['## Flywheel Optimization Run', '', '> Auto-generated by the bt-flywheel self-improvement cycle.', '']
    : [`## Flywheel Run — ${s.outcome.replace('_', ' ')}`, ''];
  lines.push(...lead(s, rest), '');
  if (changed) {
    lines.push(...changesSection(s, refs), '');
    lines.push(...findingsSection(s, '### Why These Changes', refs, main, rest), '');
    lines.push(...planSection(s, refs, false), '');
    lines.push(...scoreImpact(s), '', ...iterationsSection(s), '', ...distributionsSection(s), '');
    lines.push(
      '### Reviewer Checklist',
      '',
      '- [ ] Score improvements are genuine (not overfitting to the eval dataset)',
      '- [ ] No regressions in non-targeted metrics',
      '- [ ] Dataset additions reflect real production failure patterns',
      '- [ ] Agent/prompt changes are intentional and appropriately scoped',
      '',
    );
  } else {
    lines.push(...findingsSection(s, '### Findings', refs, main, rest), '');
    lines.push(...planSection(s, refs, true), '');
    if (s.verification.experiments.length) lines.push(...scoreImpact(s), '');
    lines.push(...iterationsSection(s), '');
    lines.push(...distributionsSection(s), '');
  }
  lines.push(...actionsSection(s), '', ...runSection(s), '', ...refs.queriesSection());
  return lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}
