// The Cedar schema in force: the schema file plus the actions resource clients register (an MCP server's tool names).
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

/** The actions a schema text declares in its unnamed namespace; empty when it does not parse. */
export function declaredActions(schema: string): ReadonlySet<string> {
  const json = cedar.schemaToJson(schema);
  if (json.type !== 'success') return new Set();
  const root = (json.json as Record<string, { actions?: Record<string, unknown> }>)[''];
  return new Set(Object.keys(root?.actions ?? {}));
}

/**
 * `schema` with each registered action it does not declare already appended, applying to the
 * same principal, resource and context as Mandate's own actions (Agent, Resource, RequestContext).
 * Names are RegisteredActionSchema's (letters, digits, `_ . -`): safe inside a Cedar string.
 */
export function effectiveSchema(
  schema: string,
  declared: ReadonlySet<string>,
  registered: Iterable<string>,
): string {
  const extra = [...new Set(registered)].filter((a) => !declared.has(a)).sort();
  if (extra.length === 0) return schema;
  const names = extra.map((a) => JSON.stringify(a)).join(', ');
  return `${schema}\n// Registered by resource clients (actions).\naction ${names} appliesTo {\n  principal: [Agent],\n  resource: [Resource],\n  context: RequestContext,\n};\n`;
}
