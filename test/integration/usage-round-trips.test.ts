// The request path's Redis cost per evaluation, counted on the broker's own request connection:
// the client pipelines the commands one turn issues, so each turn that sends commands is one round
// trip. Guards the usage windows' "same cost" promise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate, evaluationRequest, POLICY_CONFIG } from '../support/action-time.ts';
import { admin, CRM, type Credentials, createClients, mintToken, task } from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

let broker: TestBroker;
let agent: Credentials;
let resource: Credentials;
/** Round trips and commands seen on the request connection since the last reset. */
const seen = { trips: 0, commands: [] as string[] };

beforeAll(async () => {
  broker = await startTestBroker({ config: `${POLICY_CONFIG}\n` });
  ({ agent, resource } = await createClients(broker.url, {
    groups: ['writers'],
    resources: [CRM],
  }));
  const redis = broker.mandate.deps.redis as unknown as {
    sendCommand(cmd: { name: string }, ...rest: unknown[]): unknown;
  };
  const send = redis.sendCommand.bind(redis);
  let open = false;
  redis.sendCommand = (cmd, ...rest) => {
    if (!open) {
      open = true;
      seen.trips += 1;
      setImmediate(() => {
        open = false;
      });
    }
    seen.commands.push(cmd.name);
    return send(cmd, ...rest);
  };
});

afterAll(async () => {
  await broker?.close();
});

async function measured(
  run: () => Promise<unknown>,
): Promise<{ trips: number; commands: string[] }> {
  seen.trips = 0;
  seen.commands = [];
  await run();
  return { trips: seen.trips, commands: [...seen.commands] };
}

describe('Redis round trips per evaluation', () => {
  it('stay at their budget on the snapshot path, the full path and a denial', async () => {
    // Write is granted at mint (no call counted there) and denied by policy at every evaluation.
    const policies = [
      '@id("all") permit (principal, action, resource);',
      '@id("no-write") forbid (principal, action == Action::"write", resource) when { context.usage.calls_last_minute > 0 };',
      '@id("calls") forbid (principal, action, resource) when { context.usage.calls_last_minute > 600 };',
      '@id("denials") forbid (principal, action, resource) when { context.usage.denied_last_hour > 50 };',
    ].join('\n');
    expect((await admin(broker.url, 'PUT', '/admin/policies', { policies })).status).toBe(200);
    const t = await mintToken(broker.url, agent, [task(['read', 'list', 'write'])]);
    const call = (action: string) => () =>
      evaluate(
        broker.url,
        resource,
        evaluationRequest(agent.client_id, t.access_token, action, CRM),
      );
    // Warm: client and token caches, scripts loaded.
    await call('read')();
    await call('read')();
    const snapshot = await measured(call('read'));
    const full = await measured(call('list'));
    const denied = await measured(call('write'));
    const mint = await measured(() => mintToken(broker.url, agent, [task(['read', 'list'])]));
    // A policy that reads usage.new_action: the mint reads the agent's history first.
    const readsNew =
      '@id("new") forbid (principal, action, resource) when { context.usage.new_action };';
    expect(
      (await admin(broker.url, 'PUT', '/admin/policies', { policies: `${policies}\n${readsNew}` }))
        .status,
    ).toBe(200);
    const mintReadingHistory = await measured(() =>
      mintToken(broker.url, agent, [task(['read', 'list'])]),
    );
    console.log(JSON.stringify({ snapshot, full, denied, mint, mintReadingHistory }));
    // As before trailing windows: the snapshot path one script; the full path the read script,
    // the outcome (used action or denial) and the record's append.
    // Budgets, not exact counts: the client pipelines what one turn issues, so the full path's
    // outcome (sadd, expire) may leave with the record's append (2 trips) or just before it (3).
    expect(snapshot).toEqual({ trips: 1, commands: ['evalsha'] });
    expect(full.trips).toBeGreaterThanOrEqual(2);
    expect(full.trips).toBeLessThanOrEqual(3);
    expect(full.commands).toEqual(['evalsha', 'sadd', 'expire', 'evalsha']);
    expect(denied.commands).toEqual(['evalsha', 'evalsha', 'evalsha']);
    expect(denied.trips).toBeLessThanOrEqual(3);
    expect(mint.trips).toBe(1);
    expect(mintReadingHistory.trips).toBe(2);
    expect(mintReadingHistory.commands[0]).toBe('smismember');
  });
});
