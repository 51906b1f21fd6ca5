import { startLocalServer } from '../../src/local-server/index.js';
import { execa } from 'execa';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const tmp = mkdtempSync(join(tmpdir(), 'lsx-'));
const h = await startLocalServer({ dataFile: join(tmp, 'db.duckdb'), apiKey: 'k1' });
console.log(h.appUrl);
const env = { PATH: process.env.PATH!, HOME: tmp, XDG_CONFIG_HOME: join(tmp, 'cfg'), ...h.btEnv() };
const bt = async (...args: string[]) => {
  const r = await execa('/work/main/node_modules/.bin/bt', args, { env, extendEnv: false, stdin: 'ignore', reject: false, cwd: tmp });
  console.log('$ bt', args.join(' '), '=> exit', r.exitCode, '\n', r.stdout.slice(0, 1500), '\n', r.stderr.slice(0, 1500));
  return r;
};
await bt('projects', 'list', '--json');
const auth = { authorization: 'Bearer k1', 'content-type': 'application/json' };
const p = await (await fetch(h.apiUrl + '/v1/project', { method: 'POST', headers: auth, body: JSON.stringify({ name: 'proj' }) })).json() as any;
console.log(p);
const now = Date.now();
const rows = [];
for (let i = 0; i < 5; i++) {
  rows.push({ id: 'r' + i, project_id: p.id, log_id: 'g', span_id: 'r' + i, root_span_id: 'r' + i, created: new Date(now - i * 3600e3).toISOString(), input: { q: 'question ' + i }, output: 'answer ' + i, scores: { 'My Score': i / 4, acc: i % 2 }, metrics: { duration_ms: i * 5000, start: 1, end: 2 }, metadata: { model: i % 2 ? 'a' : 'b' }, facets: { Topic: i % 2 ? 'billing' : 'auth' }, error: i === 3 ? 'boom' : undefined, tags: ['t' + i] });
  rows.push({ id: 'c' + i, project_id: p.id, log_id: 'g', span_id: 'c' + i, root_span_id: 'r' + i, span_parents: ['r' + i], created: new Date(now - i * 3600e3).toISOString(), input: 'child', span_attributes: { type: 'llm', name: 'chat' }, metrics: { prompt_tokens: 10 } });
}
console.log(await (await fetch(h.apiUrl + '/logs3', { method: 'POST', headers: auth, body: JSON.stringify({ rows, api_version: 2 }) })).text());
await bt('sql', '--json', `SELECT * FROM project_logs('${p.id}') WHERE is_root = true AND created >= NOW() - INTERVAL 1 day LIMIT 1`);
await bt('sql', '--json', `SELECT id, scores."My Score" FROM project_logs('${p.id}') WHERE is_root = true AND scores."My Score" <= 0.5 AND created >= NOW() - INTERVAL 7 day LIMIT 20`);
await bt('sql', '--json', `SELECT scores."My Score", COUNT(*) AS count FROM project_logs('${p.id}') WHERE is_root = true AND created >= NOW() - INTERVAL 7 day GROUP BY scores."My Score" ORDER BY scores."My Score"`);
await bt('sql', '--json', `SELECT facets."Topic", COUNT(*) AS count FROM project_logs('${p.id}', shape => 'traces') WHERE created >= NOW() - INTERVAL 7 day GROUP BY facets."Topic" ORDER BY count DESC`);
await bt('sql', '--json', `SELECT id, error FROM project_logs('${p.id}') WHERE is_root = true AND error IS NOT NULL AND created >= NOW() - INTERVAL 7 day LIMIT 20`);
await bt('sql', '--json', `SELECT id FROM project_logs('${p.id}')`);
await bt('sql', '--json', `SELECT a.id FROM project_logs('${p.id}') a JOIN project_logs('x') b ON a.id = b.id`);
await bt('sql', `SELECT id, metrics.duration_ms FROM project_logs('proj') WHERE is_root AND metrics.duration_ms > 10000 AND created >= NOW() - INTERVAL 7 day ORDER BY metrics.duration_ms DESC LIMIT 20`);
await bt('view', 'logs', '--json', '-p', 'proj', '--window', '3d', '--limit', '2');
await bt('view', 'logs', '--json', '-p', 'proj', '--window', '3d', '--list-mode', 'spans', '--search', 'question');
await bt('view', 'trace', '--json', '-p', 'proj', '--trace-id', 'r1');
await bt('view', 'span', '--json', '-p', 'proj', '--id', 'c1');
await h.close();
