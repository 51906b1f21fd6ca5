import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:');
const c = await inst.connect();
const q = async (s: string) => { try { const r = await c.runAndReadAll(s); console.log('=>', JSON.stringify(r.getRowObjectsJson())); } catch (e) { console.log(s.slice(0,80), 'ERR', (e as Error).message); } };
await q(`CREATE TABLE b AS SELECT * FROM (VALUES ('r1', '{"a b":1,"c":0.5}'::JSON), ('r1', '{"a b":0}'::JSON), ('r2', NULL)) t(root_span_id, scores)`);
await q(`SELECT b.root_span_id, k, json_extract(b.scores, k) x, b.scores -> k y FROM b, unnest(json_keys(b.scores)) u(k)`);
await q(`SELECT r, json_group_object(k, v) FROM (SELECT b.root_span_id r, k, avg(TRY_CAST(b.scores -> k AS DOUBLE)) v FROM b, unnest(json_keys(b.scores)) u(k) GROUP BY ALL) GROUP BY r`);
