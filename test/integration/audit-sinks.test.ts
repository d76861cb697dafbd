// Audit sinks over real Redis and HTTP: records in stream order in a rotated file and at an OTLP/HTTP receiver; a stalled sink never holds up a token.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, CRM, createClient, requestToken, waitFor } from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

interface OtlpReceiver {
  readonly url: string;
  /** The log record bodies received, in order. */
  readonly bodies: string[];
  /** While true, requests are held unanswered. */
  stalled: boolean;
  close(): Promise<void>;
}

/** A tiny OTLP/HTTP logs receiver: decodes the JSON export and keeps each log record's body. */
async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const held: ServerResponse[] = [];
  const receiver = {
    url: '',
    bodies: [] as string[],
    stalled: false,
    close: async () => undefined,
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString();
    });
    req.on('end', () => {
      if (receiver.stalled) {
        held.push(res);
        return;
      }
      expect(req.url).toBe('/v1/logs');
      expect(req.headers['content-type']).toContain('application/json');
      const body = JSON.parse(text) as {
        resourceLogs: Array<{
          resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
          scopeLogs: Array<{ logRecords: Array<{ body: { stringValue: string } }> }>;
        }>;
      };
      for (const rl of body.resourceLogs) {
        expect(rl.resource.attributes).toContainEqual({
          key: 'service.name',
          value: { stringValue: 'mandate' },
        });
        for (const sl of rl.scopeLogs)
          for (const lr of sl.logRecords) receiver.bodies.push(lr.body.stringValue);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;
  receiver.close = async () => {
    for (const r of held) r.destroy();
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
  };
  return receiver;
}

/** Every record the broker keeps, oldest first, as the export route gives them (exact text). */
async function streamRecords(base: string): Promise<string[]> {
  const out: string[] = [];
  let from = 'since=0';
  for (;;) {
    const res = await admin<{ records: unknown[]; next: string | null }>(
      base,
      'GET',
      `/admin/audit/records?${from}&limit=1000`,
    );
    expect(res.status, res.text).toBe(200);
    out.push(...res.body.records.map((r) => JSON.stringify(r)));
    if (!res.body.next) return out;
    from = `after=${res.body.next}`;
  }
}

/** The lines the file sink wrote, oldest file first. */
function fileLines(path: string, keep: number): string[] {
  const out: string[] = [];
  for (const p of [...Array.from({ length: keep }, (_, i) => `${path}.${keep - i}`), path]) {
    try {
      out.push(...readFileSync(p, 'utf8').split('\n').filter(Boolean));
    } catch {
      // not rotated that far
    }
  }
  return out;
}

/** `got` is a contiguous run of `all`, in order, and holds every one of `mustHave`. */
function expectInStreamOrder(got: string[], all: string[], mustHave: string[]) {
  const start = all.indexOf(got[0] as string);
  expect(start, 'first written record is in the stream').toBeGreaterThanOrEqual(0);
  expect(got).toEqual(all.slice(start, start + got.length));
  for (const r of mustHave) expect(got).toContain(r);
}

async function mintSome(base: string, n: number) {
  const agent = await createClient(base, {
    name: 'sink agent',
    kind: 'agent',
    groups: ['readers'],
  });
  for (let i = 0; i < n; i += 1) {
    const res = await requestToken(base, agent, [
      { type: 'agent_task', task_id: `T-sink-${i}`, actions: ['read'], locations: [CRM] },
    ]);
    expect(res.status, res.text).toBe(200);
  }
}

describe('audit sinks: file with rotation and OTLP', () => {
  let broker: TestBroker;
  let otlp: OtlpReceiver;
  let dir: string;
  const KEEP = 20;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mandate-sinks-'));
    otlp = await startOtlpReceiver();
    broker = await startTestBroker({
      name: 'sinks',
      worker: true,
      config: `audit:
  sinks:
    - { type: file, path: "${join(dir, 'audit.jsonl')}", max_bytes: 4096, keep: ${KEEP} }
    - { type: otlp, url: "${otlp.url}" }
`,
    });
  });

  afterAll(async () => {
    await broker?.close();
    await otlp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes every new record, in stream order with its chain fields, to a size-rotated file and to OTLP', async () => {
    const before = await streamRecords(broker.url);
    await mintSome(broker.url, 12);
    const all = await streamRecords(broker.url);
    const fresh = all.slice(before.length);
    expect(fresh.length).toBeGreaterThanOrEqual(13);
    const path = join(dir, 'audit.jsonl');
    expect(
      await waitFor(async () => {
        const lines = fileLines(path, KEEP);
        return fresh.every((r) => lines.includes(r)) && fresh.every((r) => otlp.bodies.includes(r));
      }, 15_000),
    ).toBe(true);
    const lines = fileLines(path, KEEP);
    expectInStreamOrder(lines, all, fresh);
    expectInStreamOrder(otlp.bodies, all, fresh);
    // Rotated by size: several files, none past the limit.
    expect(statSync(`${path}.1`).size).toBeGreaterThan(0);
    for (let i = 1; i <= KEEP; i += 1) {
      try {
        expect(statSync(`${path}.${i}`).size).toBeLessThanOrEqual(4096);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    const record = JSON.parse(lines.at(-1) as string) as Record<string, unknown>;
    expect(Object.keys(record)).toEqual(expect.arrayContaining(['chain', 'seq', 'prev', 'hash']));
    const metrics = await (await fetch(`${broker.url}/metrics`)).text();
    expect(metrics).toMatch(/^mandate_audit_sink_records_total\{sink="file"\} \d+$/m);
    expect(metrics).toMatch(/^mandate_audit_sink_records_total\{sink="otlp"\} \d+$/m);
    const ready = await (await fetch(`${broker.url}/readyz`)).json();
    expect(ready).toMatchObject({ status: 'ready', checks: { audit_sinks: true } });
  });
});

describe('a stalled audit sink', () => {
  let broker: TestBroker;
  let otlp: OtlpReceiver;

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    broker = await startTestBroker({
      name: 'stall',
      worker: true,
      config: `audit:
  sinks:
    - { type: otlp, url: "${otlp.url}", max_queue: 10, timeout_ms: 300 }
`,
    });
  });

  afterAll(async () => {
    await broker?.close();
    await otlp?.close();
  });

  it('counts what it falls behind on and degrades /readyz, tokens keep coming, and it catches up in order', async () => {
    otlp.stalled = true;
    const started = performance.now();
    await mintSome(broker.url, 30);
    // Every token answered while the sink is stuck (30 mints and a client: well under a second each).
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(
      await waitFor(async () => {
        const metrics = await (await fetch(`${broker.url}/metrics`)).text();
        const dropped = Number(
          /^mandate_audit_sink_dropped_total\{sink="otlp"\} (\d+)$/m.exec(metrics)?.[1] ?? 0,
        );
        return dropped > 0;
      }, 10_000),
    ).toBe(true);
    expect(
      await waitFor(async () => {
        const res = await fetch(`${broker.url}/readyz`);
        const body = (await res.json()) as { status: string; checks: Record<string, boolean> };
        return (
          res.status === 200 && body.status === 'degraded' && body.checks.audit_sinks === false
        );
      }, 10_000),
    ).toBe(true);

    otlp.stalled = false;
    const all = await streamRecords(broker.url);
    expect(
      await waitFor(async () => all.slice(-30).every((r) => otlp.bodies.includes(r)), 30_000),
    ).toBe(true);
    // At least once: a batch whose answer was lost may come twice; order holds once deduplicated.
    const seen = [...new Set(otlp.bodies)];
    expectInStreamOrder(seen, all, all.slice(-30));
    expect(
      await waitFor(async () => {
        const body = (await (await fetch(`${broker.url}/readyz`)).json()) as { status: string };
        return body.status === 'ready';
      }, 10_000),
    ).toBe(true);
  });
});
