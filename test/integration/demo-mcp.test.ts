// `npm run demo:mcp` in self-starting mode tells the MCP story and exits 0.
import { describe, expect, it } from 'vitest';
import { envWithoutBroker, runScript } from '../support/run-script.ts';

describe('npm run demo:mcp', () => {
  it('a person signs in for an MCP client; an agent connects through the MCP SDK, is refused export until approved, and is refused after a prompt change', async () => {
    const { code, out } = await runScript('scripts/demo-mcp.ts', envWithoutBroker());
    expect(out).toMatch(
      /behind mandate\/mcp, its tools registered as actions: tools:search_tickets tools:read_ticket tools:export_tickets\n/,
    );
    expect(out).toMatch(
      /✓ alice signs in at the upstream IdP for ticket-desk-\w+ \(code \+ PKCE\); the consent page allows search_tickets, read_ticket and shows export_tickets refused by policy\n/,
    );
    expect(out).toMatch(
      /✓ ticket-desk-\w+ acts for http:\/\/127\.0\.0\.1:\d+\|alice: tools\/list -> search_tickets, read_ticket; search_tickets\("printer"\) -> .*T-1/,
    );
    expect(out).not.toMatch(/oidc-provider NOTICE/);
    expect(out).toMatch(
      /✓ agent \S+ connected: 401 -> RFC 9728 metadata -> Mandate -> token of grant g_\S+/,
    );
    expect(out).toMatch(/✓ tools\/list shows what the grant allows: search_tickets, read_ticket\n/);
    expect(out).toMatch(/✓ search_tickets\("invoice"\) -> 200 .*T-3/);
    expect(out).toMatch(
      /✓ export_tickets is refused: 403 insufficient_scope, step up to scope ".*tools:export_tickets.*"/,
    );
    expect(out).toMatch(
      /✓ the agent asks Mandate for export_tickets: approval_required \(auth_req_id \S+\)/,
    );
    expect(out).toMatch(/✓ export_tickets -> 200: 3 tickets exported/);
    expect(out).toMatch(
      /✓ mid-task the prompt turns to deleting tickets: prompt_changed -> 202, grant revoked/,
    );
    expect(out).toMatch(
      /✓ the next tool call is refused: tools\/call search_tickets -> 401 invalid_token/,
    );
    expect(out).toMatch(/reevaluation\s+revoke\s+action_class_changed/);
    expect(out).toMatch(/evaluation\s+permit\s+export_tickets/);
    expect(out).not.toContain('✗');
    expect(code, out).toBe(0);
  }, 60_000);
});
