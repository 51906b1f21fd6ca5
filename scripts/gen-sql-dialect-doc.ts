/** Rewrites the generated table in docs/sql-dialect.md from src/local-server/btql/dialect.ts (`npm run gen:sql-dialect`). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIALECT_DOC_BEGIN, DIALECT_DOC_END, renderDialectTable } from '../src/local-server/btql/dialect.js';

const file = join(import.meta.dirname, '..', 'docs', 'sql-dialect.md');
const text = readFileSync(file, 'utf8');
const a = text.indexOf(DIALECT_DOC_BEGIN);
const b = text.indexOf(DIALECT_DOC_END);
if (a < 0 || b < a) throw new Error(`${file} has no ${DIALECT_DOC_BEGIN} … ${DIALECT_DOC_END} markers`);
writeFileSync(file, `${text.slice(0, a + DIALECT_DOC_BEGIN.length)}\n${renderDialectTable()}${text.slice(b)}`);
