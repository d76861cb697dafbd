// Approval notifications over real HTTP: JSON and Slack payloads with the console deep link, retries, the pending gauge.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { POLICY_CONFIG } from '../support/action-time.ts';
import {
  admin,
  CRM,
  type Credentials,
  createClient,
  requestToken,
  waitFor,
} from '../support/broker.ts';
import { tempConfig } from '../support/temp-config.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

interface Hit {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: Record<string, unknown>;
}

let hook: Server;
let hookUrl: string;
const hits: Hit[] = [];
/** Answers 500 to the first two posts on /flaky. */
let flakyFailures = 0;

let broker: TestBroker;
let agent: Credentials;

const NOTIFY_TASK = [
  {
    type: 'agent_task',
    task_id: 'T-notify',
    purpose: 'quarterly export',
    actions: ['read', 'export'],
    locations: [CRM],
  },
];

beforeAll(async () => {
  hook = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString();
    });
    req.on('end', () => {
      hits.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: JSON.parse(text) as Record<string, unknown>,
      });
      if (req.url === '/flaky' && flakyFailures < 2) {
        flakyFailures += 1;
        res.writeHead(500).end();
      } else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((ok) => hook.listen(0, '127.0.0.1', ok));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
  broker = await startTestBroker({
    name: 'notify',
    worker: true,
    config: `${POLICY_CONFIG}
approvals:
  notify:
    - { url: "${hookUrl}/json", format: json }
    - { url: "${hookUrl}/slack", format: slack }
    - { url: "${hookUrl}/flaky", format: json }
  notify_allow_http: true
  notify_allow_private_targets: true
`,
  });
  agent = await createClient(broker.url, {
    name: 'exporter',
    kind: 'agent',
    groups: ['exporters', 'writers'],
  });
});

afterAll(async () => {
  await broker?.close();
  await new Promise<void>((ok) => hook.close(() => ok()));
});

async function pendingGauge(): Promise<number> {
  const text = await (await fetch(`${broker.url}/metrics`)).text();
  return Number(/^mandate_approvals_pending (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
}

describe('approval notifications', () => {
  it('posts each new approval as JSON and as a Slack message, both linking to its console page', async () => {
    expect(await pendingGauge()).toBe(0);
    const asked = await requestToken(broker.url, agent, NOTIFY_TASK);
    expect(asked.status, asked.text).toBe(400);
    const id = String(asked.body.auth_req_id);
    const link = `${broker.issuer}/console/approvals/${id}`;
    expect(
      await waitFor(
        async () => hits.some((h) => h.path === '/json') && hits.some((h) => h.path === '/slack'),
        10_000,
      ),
    ).toBe(true);

    const json = hits.find((h) => h.path === '/json') as Hit;
    expect(json.contentType).toBe('application/json');
    expect(json.body).toMatchObject({
      type: 'approval.requested',
      link,
      approval: {
        id,
        kind: 'mint',
        client_id: agent.client_id,
        task_id: 'T-notify',
        purpose: 'quarterly export',
      },
    });
    const approval = json.body.approval as { pairs: Array<{ action: string }>; reasons: string[] };
    expect(approval.pairs.map((p) => p.action)).toContain('export');
    expect(approval.reasons.length).toBeGreaterThan(0);

    const slack = (hits.find((h) => h.path === '/slack') as Hit).body as {
      text: string;
      blocks: Array<{ type: string; elements?: Array<{ type: string; url?: string }> }>;
    };
    expect(slack.text).toContain(link);
    expect(slack.text).toContain(agent.client_id);
    const button = slack.blocks.find((b) => b.type === 'actions')?.elements?.[0];
    expect(button).toMatchObject({ type: 'button', url: link });

    // The same request asked again is the same pending approval: no second notice.
    const again = await requestToken(broker.url, agent, NOTIFY_TASK);
    expect(again.body.auth_req_id).toBe(id);
    expect(await pendingGauge()).toBe(1);

    // A failing target is retried with backoff until it takes the notice.
    expect(
      await waitFor(async () => hits.filter((h) => h.path === '/flaky').length >= 3, 15_000),
    ).toBe(true);
    const flaky = hits.filter((h) => h.path === '/flaky');
    expect(flaky.map((h) => (h.body.approval as { id: string }).id)).toEqual([id, id, id]);
    expect(hits.filter((h) => h.path === '/json')).toHaveLength(1);

    const metrics = await (await fetch(`${broker.url}/metrics`)).text();
    expect(metrics).toMatch(/^mandate_approval_notifications_total\{outcome="retried"\} 2$/m);
    expect(metrics).toMatch(/^mandate_approval_notifications_total\{outcome="delivered"\} 3$/m);

    const denied = await admin(broker.url, 'POST', `/admin/approvals/${id}`, { decision: 'deny' });
    expect(denied.status).toBe(200);
    expect(await pendingGauge()).toBe(0);
  });

  it('lists approvals with what the CLI shows (requested, reasons, link) and shows one', async () => {
    const list = await admin<{ approvals: Array<Record<string, unknown>> }>(
      broker.url,
      'GET',
      '/admin/approvals?status=denied',
    );
    const first = list.body.approvals[0] as Record<string, unknown>;
    expect(first.requested).toEqual(first.intent);
    expect(Array.isArray(first.reasons)).toBe(true);
    expect(first.link).toBe(`${broker.issuer}/console/approvals/${String(first.id)}`);
    const one = await admin(broker.url, 'GET', `/admin/approvals/${String(first.id)}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: first.id, status: 'denied', decided_by: 'bootstrap' });
    expect((await admin(broker.url, 'GET', '/admin/approvals/ar_nope')).status).toBe(404);
  });

  it('refuses a plain-http or private notify URL unless config allows it', () => {
    const cfg = tempConfig(
      'approvals:\n  notify:\n    - { url: "http://127.0.0.1:9/x", format: json }\n',
    );
    try {
      expect(() => loadConfig({ MANDATE_CONFIG: cfg.path })).toThrow(/approvals\.notify\.0\.url/);
    } finally {
      cfg.remove();
    }
  });
});
