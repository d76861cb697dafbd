// Audit: verify the decision log's hash chain, and search decisions by grant, agent, kind and outcome.
import { z } from 'zod';
import type { DecisionKind } from '../../domain/decision-record.ts';
import { MAX_DECISIONS_PER_QUERY } from '../../domain/ports.ts';
import type { HttpDeps } from '../http-deps.ts';
import { renderPage, Time } from './layout.tsx';
import { permits, requirePermission } from './operator.ts';
import type { ConsoleApp } from './session.ts';
import { Choice, DataTable, Reasons, Status } from './view-parts.tsx';

const KINDS: readonly DecisionKind[] = [
  'mint',
  'refresh',
  'denial',
  'evaluation',
  'reevaluation',
  'revocation',
  'approval',
  'policy',
  'client',
];
const Text = z.string().trim().max(200).optional().catch(undefined);
const SearchSchema = z.object({
  grant_id: Text,
  client_id: Text,
  kind: Text,
  outcome: Text,
  limit: z.coerce.number().int().min(1).max(MAX_DECISIONS_PER_QUERY).catch(100),
});

/** /console/audit (search) and /console/audit/verify (the chain check). */
export function registerAudit(app: ConsoleApp, deps: HttpDeps): void {
  const { broker } = deps;

  app.get('/audit', async (c) => {
    const { operator } = c.var.session;
    requirePermission(operator, 'decisions:read');
    const q = SearchSchema.parse(c.req.query());
    const found = await broker.decisions.list({
      grant_id: q.grant_id || undefined,
      client_id: q.client_id || undefined,
      limit: q.limit,
    });
    // Kind and outcome narrow what the log returned; the log is searched by grant or agent.
    const records = found.filter(
      (r) =>
        r.kind !== 'inputs' &&
        (!q.kind || r.kind === q.kind) &&
        (!q.outcome || r.outcome === q.outcome),
    );
    return renderPage(
      c,
      deps,
      { title: 'Audit', section: '/console/audit' },
      <>
        {permits(operator, 'audit:verify') ? (
          <form class="inline" method="get" action="/console/audit/verify">
            <button type="submit">Verify the hash chain</button>
          </form>
        ) : null}
        <h2>Search decisions</h2>
        <form class="filters" method="get" action="/console/audit">
          <label for="grant_id">Grant</label>
          <input id="grant_id" name="grant_id" value={q.grant_id ?? ''} maxlength={200} />
          <label for="client_id">Agent</label>
          <input id="client_id" name="client_id" value={q.client_id ?? ''} maxlength={200} />
          <Choice id="kind" label="Kind" name="kind" value={q.kind} options={KINDS} any="any" />
          <label for="outcome">Outcome</label>
          <input id="outcome" name="outcome" value={q.outcome ?? ''} maxlength={200} />
          <label for="limit">Newest</label>
          <input
            id="limit"
            name="limit"
            type="number"
            min={1}
            max={MAX_DECISIONS_PER_QUERY}
            value={String(q.limit)}
          />
          <button type="submit">Search</button>
        </form>
        {records.length === 0 ? (
          <p class="empty">No decisions match.</p>
        ) : (
          <DataTable
            caption="Decision records, newest first"
            headers={['Time', 'Kind', 'Outcome', 'Agent', 'Grant', 'Reasons', 'By']}
          >
            {records.map((r) => (
              <tr>
                <td>
                  <Time sec={Math.floor(r.at_ms / 1000)} />
                </td>
                <td>{r.kind}</td>
                <td>
                  <Status value={r.outcome} />
                </td>
                <td>{r.client_id ? <code>{r.client_id}</code> : null}</td>
                <td>
                  {r.grant_id ? (
                    <a href={`/console/grants/${encodeURIComponent(r.grant_id)}`}>
                      <code>{r.grant_id}</code>
                    </a>
                  ) : null}
                </td>
                <td>
                  <Reasons reasons={r.reasons} />
                </td>
                <td>{typeof r.inputs.by === 'string' ? <code>{r.inputs.by}</code> : null}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </>,
    );
  });

  app.get('/audit/verify', async (c) => {
    requirePermission(c.var.session.operator, 'audit:verify');
    const verdict = await broker.decisions.verify();
    return renderPage(
      c,
      deps,
      { title: 'Audit chain', section: '/console/audit' },
      <>
        {verdict.ok ? (
          <p class="verdict ok" role="status">
            The chain holds: {verdict.records} records checked.
          </p>
        ) : (
          <div class="verdict broken" role="alert">
            <p>
              The chain is broken after {verdict.records} records, at record{' '}
              <code>{verdict.broken.id}</code> (chain <code>{verdict.broken.chain}</code>, seq{' '}
              {verdict.broken.seq}): {verdict.broken.problem}
            </p>
          </div>
        )}
        <p>
          <a href="/console/audit">Back to the decisions</a>
        </p>
      </>,
    );
  });
}
