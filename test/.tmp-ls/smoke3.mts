import { startLocalServer } from '../../src/local-server/index.js';
import { execa } from 'execa';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const tmp = mkdtempSync(join(tmpdir(), 'lsx-'));
const evalDir = mkdtempSync('/work/main/test/.tmp-ls/ev-');
const h = await startLocalServer({ dataFile: join(tmp, 'db.duckdb'), apiKey: 'k1' });
const env = { PATH: '/work/main/node_modules/.bin:' + process.env.PATH!, HOME: tmp, XDG_CONFIG_HOME: join(tmp, 'cfg'), XDG_CACHE_HOME: join(tmp, 'cache'), ...h.btEnv() };
const bt = async (...args: string[]) => {
  const r = await execa('/work/main/node_modules/.bin/bt', args, { env, extendEnv: false, stdin: 'ignore', reject: false, cwd: evalDir });
  console.log('$ bt', args.join(' '), '=> exit', r.exitCode, '\n', r.stdout.slice(0, 3000), '\n', r.stderr.slice(0, 3000));
  return r;
};
await fetch(h.apiUrl + '/v1/project', { method: 'POST', headers: { authorization: 'Bearer k1', 'content-type': 'application/json' }, body: JSON.stringify({ name: 'evproj' }) });
await bt('datasets', 'create', 'evalds', '-p', 'evproj', '--json', '--rows', JSON.stringify([{ id: 'a', input: 'hello', expected: 'HELLO' }, { id: 'b', input: 'abc', expected: 'ABC' }, { id: 'c', input: 'xyz', expected: 'XYZ' }]));
writeFileSync(join(evalDir, 'eval_upper.ts'), `import { Eval, initDataset } from "braintrust";
const mode = process.env.EVAL_MODE ?? "good";
Eval("evproj", {
  experimentName: "upper-" + mode,
  data: initDataset("evproj", { dataset: "evalds" }),
  task: async (input: string) => mode === "good" ? input.toUpperCase() : (input === "abc" ? input.toUpperCase() : input),
  scores: [({ output, expected }) => ({ name: "exact", score: output === expected ? 1 : 0 })],
});
`);
const r1 = await bt('eval', '--jsonl', join(evalDir, 'eval_upper.ts'));
const eid = JSON.parse(r1.stdout.split('\n').find(l => l.includes('experimentName'))!).experimentId;
await bt('sql','--json', `SELECT id, span_id, root_span_id, span_parents, is_root, scores, span_attributes, output FROM experiment('${eid}')`);
env.EVAL_MODE = 'bad' as any;
(env as any).EVAL_MODE = 'bad';
await bt('eval', '--jsonl', join(evalDir, 'eval_upper.ts'));
await bt('sql','--json', "SELECT id, input, output, expected, scores, is_root, span_attributes FROM experiment('" + '' + "') LIMIT 1");
await h.close();
