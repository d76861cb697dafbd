// The ticket tools' policies for the MCP demo, benchmark and tests, added to the set in force through the admin API.
// The tools are Cedar actions because the MCP server's resource client registers them (`actions`).

/** The ticket MCP server's tools: the `actions` its resource client registers. */
export const TICKET_TOOLS = ['search_tickets', 'read_ticket', 'export_tickets'] as const;

/** The ticket server's fourth tool, registered and allowed only where a test adds REFUND_POLICIES. */
export const REFUND_TOOL = 'refund_ticket';

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

/**
 * Refunds under 100 only: the server shows policy the amount (never the note). A grant may hold the
 * tool; each call needs the amount shown and under 100, so a server that forgot it refunds nothing.
 */
export const REFUND_POLICIES = `@id("tickets-refund")
permit (principal, action == Action::"refund_ticket", resource);

@id("tickets-refund-under-100")
forbid (principal, action == Action::"refund_ticket", resource)
when { context has tool && !(context.tool.arguments has amount && context.tool.arguments.amount < 100) };
`;

/**
 * Appends the ticket policies (and `extra`, e.g. REFUND_POLICIES) to the set in force at `baseUrl` (`PUT /admin/policies`). The tools
 * must be registered first (a resource client with `actions: TICKET_TOOLS`), or Mandate refuses
 * the policies with a 400 naming the unknown action. Nothing changes when they are in force already.
 */
export async function addTicketPolicies(
  baseUrl: string,
  adminToken: string,
  extra = '',
): Promise<void> {
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const current = await fetch(`${baseUrl}/admin/policies`, { headers });
  if (current.status !== 200) throw new Error(`reading the policies: ${current.status}`);
  const { policies } = (await current.json()) as { policies: string };
  if (policies.includes('@id("tickets-read")')) return;
  const put = await fetch(`${baseUrl}/admin/policies`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ policies: `${policies}\n${TOOL_POLICIES}${extra && `\n${extra}`}` }),
  });
  if (put.status !== 200)
    throw new Error(`adding the ticket policies: ${put.status} ${await put.text()}`);
}
