/**
 * Function definitions as the Braintrust API accepts them (`POST /v1/function`, `POST /insert-functions`): the shape
 * of `function_data` and `prompt_data` is checked here, so a definition the service would refuse is refused locally
 * too (https://www.braintrust.dev/docs/reference/api/Functions: `function_data` is one of `prompt`, `code` with an
 * inline or bundle body, `global`, `graph`, `remote_eval`, `facet`, `topic_map`, `parameters`).
 */
type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

const FUNCTION_DATA_TYPES = ['prompt', 'code', 'global', 'graph', 'remote_eval', 'facet', 'topic_map', 'parameters'];
const FUNCTION_TYPES = ['llm', 'scorer', 'task', 'tool', 'custom_view', 'preprocessor', 'facet', 'classifier', 'tag', 'parameters'];
const RUNTIMES = ['node', 'python'];
const PROMPT_TYPES = ['chat', 'completion'];

/** Why a function definition would be refused (null: it is well-formed). */
export function functionProblem(f: Json): string | null {
  if (!nonEmpty(f.name)) return 'name is required';
  if (!nonEmpty(f.slug)) return 'slug is required';
  if (f.function_type != null && (typeof f.function_type !== 'string' || !FUNCTION_TYPES.includes(f.function_type))) {
    return `function_type must be one of ${FUNCTION_TYPES.join(', ')}`;
  }
  const fd = obj(f.function_data);
  if (!fd) return 'function_data is required and must be an object';
  if (typeof fd.type !== 'string' || !FUNCTION_DATA_TYPES.includes(fd.type)) return `function_data.type must be one of ${FUNCTION_DATA_TYPES.join(', ')}`;
  if (fd.type === 'code') {
    const data = obj(fd.data);
    if (!data) return 'function_data.data is required for code functions';
    const rc = obj(data.runtime_context);
    if (data.type === 'inline') {
      if (!rc || typeof rc.runtime !== 'string' || !RUNTIMES.includes(rc.runtime) || typeof rc.version !== 'string') {
        return 'inline code needs runtime_context {runtime: node|python, version}';
      }
      if (typeof data.code !== 'string') return 'inline code needs a code string';
    } else if (data.type === 'bundle') {
      if (!nonEmpty(data.bundle_id)) return 'bundled code needs bundle_id';
    } else {
      return 'function_data.data.type must be inline or bundle';
    }
  }
  if (f.prompt_data != null) {
    const pd = obj(f.prompt_data);
    if (!pd) return 'prompt_data must be an object';
    const prompt = pd.prompt == null ? undefined : obj(pd.prompt);
    if (pd.prompt != null && !prompt) return 'prompt_data.prompt must be an object';
    if (prompt) {
      if (typeof prompt.type !== 'string' || !PROMPT_TYPES.includes(prompt.type)) return 'prompt_data.prompt.type must be chat or completion';
      if (prompt.type === 'chat' && !Array.isArray(prompt.messages)) return 'a chat prompt needs messages';
      if (prompt.type === 'completion' && typeof prompt.content !== 'string') return 'a completion prompt needs content';
    }
    const parser = pd.parser == null ? undefined : obj(pd.parser);
    if (pd.parser != null && !parser) return 'prompt_data.parser must be an object';
    if (parser && (parser.type !== 'llm_classifier' || !obj(parser.choice_scores))) return 'prompt_data.parser needs type llm_classifier and choice_scores';
  }
  if (fd.type === 'prompt' && !obj(f.prompt_data)) return 'a prompt function needs prompt_data';
  return null;
}
