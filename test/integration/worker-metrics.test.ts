// `mandate worker` serves /metrics, /healthz and /readyz on worker.metrics_port, with the state gauges and the standard process metrics.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { waitFor } from '../support/broker.ts';
import { freePort } from '../support/redis-server.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

let worker: TestBroker;
let base: string;
let port: number;

beforeAll(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  worker = await startTestBroker({
    name: 'wmetrics',
    api: false,
    worker: true,
    config: 'worker: { sweep_every_ms: 1000 }\n',
    env: { MANDATE_WORKER_METRICS_PORT: String(port) },
  });
});

afterAll(async () => {
  await worker?.close();
});

describe('the worker process', () => {
  it('serves its metrics: process_* and nodejs_* unprefixed, the state gauges, the sweep', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(
      await waitFor(async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        return /^mandate_sweep_last_success_timestamp_seconds \d+/m.test(text);
      }, 10_000),
    ).toBe(true);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(text).not.toMatch(/^mandate_process_/m);
    expect(text).toMatch(/^mandate_grants_live 0$/m);
    expect(text).toMatch(/^mandate_approvals_pending 0$/m);
    expect(text).toMatch(/^mandate_queue_depth\{queue="reevaluate",state="wait"\} \d+$/m);
    expect(text).toMatch(/^mandate_signing_key_age_seconds \d+$/m);
    expect(text).toMatch(/^mandate_sweep_duration_seconds [\d.e-]+$/m);
    expect((await fetch(`${base}/oauth/token`, { method: 'POST' })).status).toBe(404);
  });

  it('a second worker on the same host runs on without the port it finds taken', async () => {
    const second = await startTestBroker({
      prefix: worker.prefix,
      api: false,
      worker: true,
      env: { MANDATE_WORKER_METRICS_PORT: String(port) },
    });
    await second.close();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('the shipped alert rules and dashboard', () => {
  it('name only metrics Mandate exports', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const rules = parseYaml(readFileSync('ops/prometheus/mandate-alerts.yml', 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
    };
    const dashboard = readFileSync('ops/grafana/mandate-dashboard.json', 'utf8');
    const exprs = [
      ...rules.groups.flatMap((g) => g.rules.map((r) => r.expr)),
      ...(
        JSON.parse(dashboard) as { panels: Array<{ targets: Array<{ expr: string }> }> }
      ).panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ];
    expect(exprs.length).toBeGreaterThan(20);
    const names = new Set(
      exprs.flatMap((e) => e.match(/\b(mandate|process|nodejs)_[a-z0-9_]+/g) ?? []),
    );
    for (const name of names) {
      const family = name.replace(/_(bucket|count|sum)$/, '');
      expect(text, name).toContain(`# TYPE ${family} `);
    }
  });
});
