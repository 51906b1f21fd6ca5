/**
 * writeHandoff: validates the summary (zod source, the generated v2 JSON Schema and the v1
 * schema older harnesses read) and writes both handoff files atomically (temp + rename).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, type FileRef } from '../activities/files.js';
import { packageRoot } from '../paths.js';
import { NARRATIVE_FILE, SUMMARY_FILE, SummarySchema, type Summary } from '../../schemas/summary.js';

export const SUMMARY_SCHEMA_PATH = join(packageRoot, 'schemas', 'bt-flywheel-summary.schema.json');
export const SUMMARY_V1_SCHEMA_PATH = join(packageRoot, 'schemas', 'bt-flywheel-summary.v1.schema.json');

export interface ValidationIssue {
  schema: 'zod' | 'v2' | 'v1';
  /** JSON pointer of the failing value ("" for the root). */
  path: string;
  message: string;
}

export class HandoffValidationError extends Error {
  override readonly name = 'HandoffValidationError';
  constructor(readonly issues: ValidationIssue[]) {
    super(
      `${SUMMARY_FILE} is invalid: ` +
        issues
          .slice(0, 10)
          .map((i) => `${i.path || '/'}: ${i.message} (${i.schema})`)
          .join('; ') +
        (issues.length > 10 ? `; and ${issues.length - 10} more` : ''),
    );
  }
}

type JsonValidator = ((data: unknown) => boolean) & {
  errors?: Array<{ instancePath: string; message?: string; params?: Record<string, unknown> }> | null;
};

let validators: Promise<{ v2: JsonValidator; v1: JsonValidator } | null> | undefined;

/**
 * Compiles both JSON Schemas with ajv (draft 2020-12). ajv is a dev dependency: when it is not
 * installed the zod source, which encodes the v1 shapes too, is the only check.
 */
function jsonValidators(): Promise<{ v2: JsonValidator; v1: JsonValidator } | null> {
  validators ??= (async () => {
    let mod: { default: unknown };
    try {
      mod = (await import('ajv/dist/2020.js')) as { default: unknown };
    } catch {
      return null;
    }
    const exported = mod.default as { default?: unknown };
    const Ajv2020 = (exported.default ?? exported) as new (opts: object) => {
      compile(schema: object): JsonValidator;
    };
    const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
    const [v2, v1] = await Promise.all([SUMMARY_SCHEMA_PATH, SUMMARY_V1_SCHEMA_PATH].map(async (p) => JSON.parse(await readFile(p, 'utf8')) as object));
    return { v2: ajv.compile(v2 as object), v1: ajv.compile(v1 as object) };
  })();
  return validators;
}

/** Every problem with a summary, from all three validators; empty when valid. */
export async function validateSummary(summary: unknown): Promise<ValidationIssue[]> {
  const issues: ValidationIssue[] = [];
  const parsed = SummarySchema.safeParse(summary);
  if (!parsed.success) {
    for (const i of parsed.error.issues) issues.push({ schema: 'zod', path: i.path.length ? '/' + i.path.map(String).join('/') : '', message: i.message });
  }
  const v = await jsonValidators();
  if (v) {
    for (const [schema, fn] of [['v2', v.v2], ['v1', v.v1]] as const) {
      if (fn(summary)) continue;
      for (const e of fn.errors ?? []) {
        const extra = e.params && 'additionalProperty' in e.params ? ` '${String(e.params.additionalProperty)}'` : '';
        issues.push({ schema, path: e.instancePath, message: `${e.message ?? 'invalid'}${extra}` });
      }
    }
  }
  return issues;
}

export async function assertValidSummary(summary: unknown): Promise<Summary> {
  const issues = await validateSummary(summary);
  if (issues.length) throw new HandoffValidationError(issues);
  return summary as Summary;
}

export interface HandoffFiles {
  summary: FileRef;
  narrative: FileRef;
}

/** Validates, then writes `bt-flywheel-summary.json` and `bt-flywheel-narrative.md` into `dir` (summary first). */
export async function writeHandoff(dir: string, summary: Summary, narrative: string): Promise<HandoffFiles> {
  await assertValidSummary(summary);
  const summaryRef = await writeFileAtomic(join(dir, SUMMARY_FILE), JSON.stringify(summary, null, 2) + '\n', 0o644);
  const narrativeRef = await writeFileAtomic(join(dir, NARRATIVE_FILE), narrative.endsWith('\n') ? narrative : narrative + '\n', 0o644);
  return { summary: summaryRef, narrative: narrativeRef };
}
