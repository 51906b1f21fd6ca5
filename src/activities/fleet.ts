/**
 * The fleet summary: one JSON document and one markdown page over every project's run — outcome, handoff paths,
 * links and the top next steps read from each project's own bt-flywheel-summary.json.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mdText } from '../untrusted.js';
import { writeFileAtomic } from './files.js';

export interface FleetRow {
  project: string;
  workflowId: string;
  outcome: string;
  summaryPath: string | null;
  narrativePath: string | null;
  iterations: number;
  error: string | null;
}

export const FLEET_SUMMARY_FILE = 'bt-flywheel-fleet.json';
export const FLEET_NARRATIVE_FILE = 'bt-flywheel-fleet.md';

interface ProjectDetail {
  reason: string | null;
  links: { name: string; url: string }[];
  nextSteps: { intent: string; priority: string; title: string }[];
}

async function detailOf(summaryPath: string | null): Promise<ProjectDetail> {
  const empty: ProjectDetail = { reason: null, links: [], nextSteps: [] };
  if (!summaryPath) return empty;
  try {
    const s = JSON.parse(await readFile(summaryPath, 'utf8')) as {
      summary?: string;
      links?: { name: string; url: string }[];
      next_steps?: { intent: string; priority: string; title: string }[];
    };
    return {
      reason: typeof s.summary === 'string' ? s.summary : null,
      links: (s.links ?? []).slice(0, 3).map((l) => ({ name: l.name, url: l.url })),
      nextSteps: (s.next_steps ?? []).slice(0, 3).map((n) => ({ intent: n.intent, priority: n.priority, title: n.title })),
    };
  } catch {
    return empty;
  }
}

export async function writeFleetSummary(p: { fleetId: string; outDir: string; rows: FleetRow[] }): Promise<{ summaryPath: string; narrativePath: string }> {
  const projects = await Promise.all(p.rows.map(async (r) => ({ ...r, ...(await detailOf(r.summaryPath)) })));
  const counts: Record<string, number> = {};
  for (const r of projects) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  const doc = { schema: 'bt-flywheel-fleet/1', fleet_id: p.fleetId, written_at: new Date().toISOString(), outcomes: counts, projects };
  const summary = await writeFileAtomic(join(p.outDir, FLEET_SUMMARY_FILE), JSON.stringify(doc, null, 2) + '\n', 0o644);
  const lines = [
    `# Flywheel fleet ${mdText(p.fleetId)}`,
    '',
    `${projects.length} projects: ${Object.entries(counts).map(([o, n]) => `${n} ${o}`).join(', ')}.`,
    '',
    '| project | outcome | iterations | handoff | first next step |',
    '|---|---|---|---|---|',
    ...projects.map((r) => {
      const step = r.nextSteps[0] ? `${r.nextSteps[0].priority}: ${mdText(r.nextSteps[0].title)}` : r.error ? mdText(r.error) : '';
      return `| ${mdText(r.project)} | ${r.outcome} | ${r.iterations} | ${r.summaryPath ? `\`${r.summaryPath}\`` : '—'} | ${step} |`;
    }),
    '',
  ];
  const narrative = await writeFileAtomic(join(p.outDir, FLEET_NARRATIVE_FILE), lines.join('\n'), 0o644);
  return { summaryPath: summary.path, narrativePath: narrative.path };
}

export function createFleetActivities() {
  return { writeFleetSummary };
}
export type FleetActivities = ReturnType<typeof createFleetActivities>;
