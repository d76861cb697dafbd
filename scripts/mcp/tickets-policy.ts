// The ticket tools as Cedar actions for the MCP demo, benchmark and tests: a schema and policy folder written to a temp dir.
// Until resource clients can register their tool names as actions, the schema is the shipped one plus these.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TICKET_TOOLS = ['search_tickets', 'read_ticket', 'export_tickets'] as const;

const REPO = join(import.meta.dirname, '../..');

/** The shipped schema with the ticket tools as actions and the arguments their server exposes. */
export function ticketsSchema(shipped: string): string {
  const declared = 'type ToolArguments = {};';
  if (!shipped.includes(declared)) throw new Error(`the schema has no "${declared}" to extend`);
  return (
    shipped.replace(declared, 'type ToolArguments = { query?: String, format?: String };') +
    TOOL_ACTIONS
  );
}

const TOOL_ACTIONS = `
// The ticket MCP server's tools.
action ${TICKET_TOOLS.join(', ')} appliesTo {
  principal: [Agent],
  resource: [Resource],
  context: RequestContext,
};
`;

/** The ticket policies: reading for anyone, exporting for exporters after approval. */
export const TOOL_POLICIES = `// Any agent may search and read tickets; exporting them is for exporters, once a human approved.
@id("tickets-read")
permit (principal, action in [Action::"search_tickets", Action::"read_ticket"], resource);

// No searching for salaries through the ticket tools, whoever asks (the server exposes the query).
@id("tickets-no-salary-search")
forbid (principal, action == Action::"search_tickets", resource)
when { context has tool && context.tool.arguments has query && context.tool.arguments.query like "*salar*" };

@id("tickets-export")
permit (principal in Group::"exporters", action == Action::"export_tickets", resource);

@id("tickets-export-needs-approval")
@remedy("approval")
forbid (principal, action == Action::"export_tickets", resource)
unless { context.approved };
`;

/** Writes the schema and policies; returns the config YAML naming them and a remover. */
export function ticketsPolicy(): { yaml: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-mcp-policy-'));
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  copyFileSync(join(REPO, 'config/policies/default.cedar'), join(policies, 'default.cedar'));
  writeFileSync(join(policies, 'tickets.cedar'), TOOL_POLICIES);
  const schema = join(dir, 'schema.cedarschema');
  writeFileSync(
    schema,
    readFileSync(join(REPO, 'config/schema.cedarschema'), 'utf8') + TOOL_ACTIONS,
  );
  return {
    yaml: `policy:\n  dir: ${JSON.stringify(policies)}\n  schema: ${JSON.stringify(schema)}\n`,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
