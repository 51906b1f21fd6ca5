/**
 * SQL builders: exact produced SQL for the seed queries, and hostile inputs that must stay inside
 * their literal or identifier.
 */
import { describe, expect, it } from 'vitest';
import {
  errorsQuery,
  experimentRegressionsQuery,
  experimentRowsQuery,
  experimentScoreDistributionQuery,
  experimentScoreStatsQuery,
  facetDistributionQuery,
  fieldPath,
  highLatencyQuery,
  lowScoresQuery,
  matchClause,
  projectLogs,
  schemaDiscoveryQuery,
  scoreDistributionQuery,
  searchCall,
  searchLogsQuery,
  since,
  SqlBuildError,
  sqlIdent,
  sqlNumber,
  sqlString,
  textEquals,
} from '../src/bt/sql.js';

const P = '11111111-2222-4333-8444-555555555555';
const E = 'exp-123';

/**
 * A minimal reader for the two quoting forms: returns the decoded literal and what follows it.
 * Used to prove a hostile value round-trips and nothing escapes the quotes.
 */
function readQuoted(text: string, quote: "'" | '"'): { value: string; rest: string } {
  expect(text[0]).toBe(quote);
  let value = '';
  for (let i = 1; i < text.length; i++) {
    if (text[i] === quote) {
      if (text[i + 1] === quote) {
        value += quote;
        i++;
      } else return { value, rest: text.slice(i + 1) };
    } else value += text[i];
  }
  throw new Error('unterminated');
}

const HOSTILE = [
  "it's",
  "'); DROP TABLE logs; --",
  "' OR '1'='1",
  'back\\slash\\',
  "trailing backslash \\'",
  'new\nline\r\n',
  '-- comment',
  '/* block */ */',
  'unicode ✓ 日本語 🙂 \u202e',
  '"double" ""quotes""',
  '',
  "''''",
];

const QUOTABLE = HOSTILE.filter((s) => !s.includes('\\'));

describe('sqlString', () => {
  it.each(QUOTABLE)('round-trips %j and nothing follows the literal', (s) => {
    const lit = sqlString(s);
    const { value, rest } = readQuoted(lit, "'");
    expect(value).toBe(s);
    expect(rest).toBe('');
  });

  it('doubles quotes and never emits a backslash (its meaning inside quotes is not documented)', () => {
    expect(sqlString("it's")).toBe("'it''s'");
    expect(sqlString("'); DROP")).toBe("'''); DROP'");
    for (const s of HOSTILE.filter((x) => x.includes('\\'))) expect(() => sqlString(s), s).toThrow(/backslash.*textEquals/);
    expect(() => sqlString('C:\\temp\\')).toThrow(SqlBuildError);
  });

  it('textEquals: exact equality when quotable, else a backslash-free LIKE superset plus an exact check', () => {
    expect(textEquals('error', "it's")).toMatchObject({ sql: "error = 'it''s'", exact: true });
    const m = textEquals('error', 'file not found: C:\\temp\\');
    expect(m).toMatchObject({ sql: "error LIKE 'file not found: C:_temp_'", exact: false });
    expect(m.matches('file not found: C:\\temp\\')).toBe(true);
    expect(m.matches('file not found: C:/temp/')).toBe(false);
    const inj = textEquals('error', "nomatch\\' OR id IS NOT NULL AND created >= NOW() - INTERVAL 7 day --");
    expect(inj.sql).toBe("error LIKE 'nomatch_'' OR id IS NOT NULL AND created >= NOW() - INTERVAL 7 day --'");
    expect(textEquals('x', '50%_a\0b').sql).toBe("x LIKE '50__a_b'");
    for (const s of HOSTILE) expect(textEquals('f', s).sql.includes('\\'), s).toBe(false);
  });

  it('rejects NUL and non-strings', () => {
    expect(() => sqlString('a\0b')).toThrow(SqlBuildError);
    expect(() => sqlString(5 as unknown as string)).toThrow(SqlBuildError);
  });
});

describe('identifiers and paths', () => {
  it.each(QUOTABLE.filter((s) => s !== ''))('sqlIdent round-trips %j', (s) => {
    const { value, rest } = readQuoted(sqlIdent(s), '"');
    expect(value).toBe(s);
    expect(rest).toBe('');
  });

  it('fieldPath quotes every segment after a plain column', () => {
    expect(fieldPath('scores', 'My "Score"')).toBe('scores."My ""Score"""');
    expect(fieldPath('scores', 'Factuality')).toBe('scores."Factuality"');
    expect(fieldPath('metadata', 'a', 'b.c')).toBe('metadata."a"."b.c"');
    expect(fieldPath('weird col', 'x')).toBe('"weird col"."x"');
    expect(fieldPath('scores', "x'); DROP --")).toBe(`scores."x'); DROP --"`);
  });

  it('rejects empty, NUL and backslash identifiers', () => {
    expect(() => sqlIdent('')).toThrow(SqlBuildError);
    expect(() => sqlIdent('a\\" OR true --')).toThrow(/backslash/);
    expect(() => fieldPath('scores', 'a\0')).toThrow(SqlBuildError);
  });
});

describe('small builders', () => {
  it('since validates an integer day count', () => {
    expect(since(7)).toBe('created >= NOW() - INTERVAL 7 day');
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, '7; DROP' as unknown as number]) expect(() => since(bad)).toThrow(SqlBuildError);
  });

  it('search, match, numbers, sources', () => {
    expect(searchCall("can't log in")).toBe("search('can''t log in')");
    expect(searchCall('C:\\new\\path')).toBe("search('C: new path')");
    expect(matchClause('output', 'refund')).toBe("output MATCH 'refund'");
    expect(sqlNumber(0.25)).toBe('0.25');
    expect(() => sqlNumber(Number.NaN)).toThrow(SqlBuildError);
    expect(projectLogs(P)).toBe(`project_logs('${P}')`);
    expect(projectLogs(P, 'traces')).toBe(`project_logs('${P}', shape => 'traces')`);
    expect(projectLogs("x') OR ('1")).toBe("project_logs('x'') OR (''1')");
  });
});

describe('seed query templates (exact SQL)', () => {
  it('project_logs queries', () => {
    expect(schemaDiscoveryQuery(P)).toBe(`SELECT * FROM project_logs('${P}') WHERE is_root = true AND created >= NOW() - INTERVAL 1 day LIMIT 1`);
    expect(schemaDiscoveryQuery(P, 30)).toContain('INTERVAL 30 day');
    expect(errorsQuery(P)).toBe(
      `SELECT id, error FROM project_logs('${P}') WHERE is_root = true AND error IS NOT NULL AND created >= NOW() - INTERVAL 7 day LIMIT 20`,
    );
    expect(lowScoresQuery(P, 'Response Quality', { threshold: 0.3, days: 3, limit: 5 })).toBe(
      `SELECT id, scores."Response Quality" FROM project_logs('${P}') WHERE is_root = true AND scores."Response Quality" <= 0.3 AND created >= NOW() - INTERVAL 3 day LIMIT 5`,
    );
    expect(highLatencyQuery(P)).toBe(
      `SELECT id, metrics."duration_ms" FROM project_logs('${P}') WHERE is_root = true AND metrics."duration_ms" > 10000 AND created >= NOW() - INTERVAL 7 day ORDER BY metrics."duration_ms" DESC LIMIT 20`,
    );
    expect(scoreDistributionQuery(P, 'acc')).toBe(
      `SELECT scores."acc", COUNT(*) AS count FROM project_logs('${P}') WHERE is_root = true AND created >= NOW() - INTERVAL 7 day GROUP BY scores."acc" ORDER BY scores."acc"`,
    );
    expect(facetDistributionQuery(P, 'Sentiment')).toBe(
      `SELECT facets."Sentiment", COUNT(*) AS count FROM project_logs('${P}', shape => 'traces') WHERE created >= NOW() - INTERVAL 7 day GROUP BY facets."Sentiment" ORDER BY count DESC`,
    );
    expect(searchLogsQuery(P, 'refund', { days: 1, limit: 3 })).toBe(
      `SELECT id, input, output FROM project_logs('${P}') WHERE is_root = true AND search('refund') AND created >= NOW() - INTERVAL 1 day LIMIT 3`,
    );
  });

  it('experiment queries', () => {
    expect(experimentRowsQuery(E, 'acc')).toBe(`SELECT id, scores."acc", output FROM experiment('${E}') LIMIT 20`);
    expect(experimentScoreStatsQuery(E, 'acc')).toBe(
      `SELECT AVG(scores."acc") AS avg_score, MIN(scores."acc") AS min_score, MAX(scores."acc") AS max_score FROM experiment('${E}')`,
    );
    expect(experimentRegressionsQuery(E, 'acc', { threshold: 0.9 })).toBe(`SELECT id, scores."acc" FROM experiment('${E}') WHERE scores."acc" < 0.9`);
    expect(experimentScoreDistributionQuery(E, 'acc')).toBe(
      `SELECT scores."acc", COUNT(*) AS count FROM experiment('${E}') GROUP BY scores."acc" ORDER BY scores."acc"`,
    );
  });

  it('hostile names and ids stay inside their quotes', () => {
    const score = 'Q"; DROP TABLE x; --';
    const id = "e'); DELETE FROM y; /*";
    expect(experimentScoreStatsQuery(id, score)).toBe(
      `SELECT AVG(scores."Q""; DROP TABLE x; --") AS avg_score, MIN(scores."Q""; DROP TABLE x; --") AS min_score, MAX(scores."Q""; DROP TABLE x; --") AS max_score FROM experiment('e''); DELETE FROM y; /*')`,
    );
    const q = lowScoresQuery(P, 'line\nbreak');
    expect(q).toContain('scores."line\nbreak" <= 0.5');
    expect(searchLogsQuery(P, "x') OR true --")).toContain("search('x'') OR true --') AND created >=");
  });

  it('invalid limits and thresholds throw', () => {
    expect(() => errorsQuery(P, { limit: 0 })).toThrow(SqlBuildError);
    expect(() => errorsQuery(P, { days: 2.5 })).toThrow(SqlBuildError);
    expect(() => lowScoresQuery(P, 'a', { threshold: Number.POSITIVE_INFINITY })).toThrow(SqlBuildError);
  });
});
