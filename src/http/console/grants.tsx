// Grants: live and ended grants by agent, task or status; one grant's timeline of decisions ("why was it revoked?"); revoke.
import { z } from 'zod';
import type { DecisionRecord } from '../../domain/decision-record.ts';
import { sharedRefOf } from '../../domain/decision-record.ts';
import { ProblemError } from '../../domain/errors.ts';
import { nowSecOf } from '../../services/broker.ts';
import { revokeByAdmin } from '../../services/revoke.ts';
import type { HttpDeps } from '../http-deps.ts';
import { readForm } from './form.ts';
import { CsrfField, renderPage, Time } from './layout.tsx';
import { permits, requirePermission } from './operator.ts';
import { type ConsoleApp, checkCsrf } from './session.ts';
import { Choice, DataTable, IntentEntry, Json, Reasons, Status } from './view-parts.tsx';

const STATUSES = ['active', 'suspended', 'revoked'] as const;
const Id = z.string().trim().max(200);
const FilterSchema = z.object({
  status: z.enum(STATUSES).optional().catch(undefined),
  client_id: Id.optional().catch(undefined),
  task_id: Id.optional().catch(undefined),
});
const RevokeFormSchema = z
  .object({ csrf: z.string(), reason: z.string().trim().min(1).max(500) })
  .strict();

/** Who made a decision: the operator or client named in its inputs, else the broker itself. */
const actorOf = (r: DecisionRecord) => (typeof r.inputs.by === 'string' ? r.inputs.by : undefined);

/** The record that ended or suspended the grant: the last one whose outcome is a revoke or suspend. */
function endingOf(history: readonly DecisionRecord[]): DecisionRecord | undefined {
  return [...history].reverse().find((r) => /^(revoke|revoked|suspend|suspended)$/.test(r.outcome));
}

function Timeline(props: {
  history: readonly DecisionRecord[];
  shared: Record<string, Record<string, unknown> | null>;
  ending: DecisionRecord | undefined;
}) {
  return (
    <ol class="timeline">
      {props.history.map((r) => {
        const ref = sharedRefOf(r);
        return (
          <li class={r === props.ending ? 'ending' : undefined}>
            <div class="when">
              <Time sec={Math.floor(r.at_ms / 1000)} />
            </div>
            <div class="what">
              <strong>{r.kind}</strong> <Status value={r.outcome} />
              {actorOf(r) ? (
                <span>
                  {' '}
                  by <code>{actorOf(r)}</code>
                </span>
              ) : null}
              {r.policy_version !== undefined ? (
                <span class="muted"> · policy v{r.policy_version}</span>
              ) : null}
            </div>
            <div class="why">
              Reasons: <Reasons reasons={r.reasons} />
            </div>
            <details>
              <summary>Inputs</summary>
              <Json value={r.inputs} />
              {ref ? <Json value={{ shared_inputs: props.shared[ref.record] ?? null }} /> : null}
            </details>
          </li>
        );
      })}
    </ol>
  );
}

/** /console/grants, /console/grants/{id} and its revoke form. */
export function registerGrants(app: ConsoleApp, deps: HttpDeps): void {
  const { broker } = deps;

  app.get('/grants', async (c) => {
    requirePermission(c.var.session.operator, 'grants:read');
    const f = FilterSchema.parse(c.req.query());
    const filter = {
      status: f.status,
      client_id: f.client_id || undefined,
      task_id: f.task_id || undefined,
      limit: 200,
    };
    const grants = await broker.grants.list(filter, nowSecOf(broker));
    return renderPage(
      c,
      deps,
      { title: 'Grants', section: '/console/grants' },
      <>
        <form class="filters" method="get" action="/console/grants">
          <Choice
            id="status"
            label="Status"
            name="status"
            value={f.status}
            options={STATUSES}
            any="any"
          />
          <label for="client_id">Agent</label>
          <input id="client_id" name="client_id" value={filter.client_id ?? ''} maxlength={200} />
          <label for="task_id">Task</label>
          <input id="task_id" name="task_id" value={filter.task_id ?? ''} maxlength={200} />
          <button type="submit">Filter</button>
        </form>
        {grants.length === 0 ? (
          <p class="empty">No grants match.</p>
        ) : (
          <DataTable
            caption="Grants"
            headers={['Grant', 'Agent', 'Task', 'Status', 'Reason', 'Ends']}
          >
            {grants.map((g) => (
              <tr>
                <td>
                  <a href={`/console/grants/${encodeURIComponent(g.id)}`}>
                    <code>{g.id}</code>
                  </a>
                </td>
                <td>
                  <code>{g.client_id}</code>
                </td>
                <td>
                  <code>{g.task_id}</code>
                </td>
                <td>
                  <Status value={g.status} />
                </td>
                <td>{g.reason ? <code>{g.reason}</code> : null}</td>
                <td>
                  <Time sec={g.expires_at} />
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </>,
    );
  });

  app.get('/grants/:id', async (c) => {
    const { operator } = c.var.session;
    requirePermission(operator, 'grants:read');
    const id = c.req.param('id');
    const grant = id.length <= 200 ? await broker.grants.get(id) : undefined;
    if (!grant) throw new ProblemError(404, 'Grant not found', 'no such grant (or it ended)');
    const history = await broker.decisions.list({ grant_id: id, limit: 1000 });
    const shared = await broker.decisions.sharedInputs(history);
    const ending = grant.status === 'active' ? undefined : endingOf(history);
    return renderPage(
      c,
      deps,
      { title: `Grant ${grant.id}`, section: '/console/grants' },
      <>
        {grant.status !== 'active' ? (
          <section class="why-box" aria-labelledby="why">
            <h2 id="why">Why it is {grant.status}</h2>
            <p class="why-reason">
              Reason: <code>{grant.reason ?? 'unknown'}</code>
            </p>
            {ending ? (
              <div>
                {ending.kind} ({ending.outcome}) at <Time sec={Math.floor(ending.at_ms / 1000)} />{' '}
                by{' '}
                {actorOf(ending) ? (
                  <code>{actorOf(ending)}</code>
                ) : (
                  'the broker (re-evaluation against the policy)'
                )}
                {ending.policy_version !== undefined ? `, policy v${ending.policy_version}` : ''}.
                Reasons and policy ids: <Reasons reasons={ending.reasons} />
              </div>
            ) : (
              <p class="muted">No decision record of the change was found.</p>
            )}
          </section>
        ) : null}
        <dl class="facts">
          <dt>Agent</dt>
          <dd>
            <a href={`/console/agents/${encodeURIComponent(grant.client_id)}`}>
              <code>{grant.client_id}</code>
            </a>
          </dd>
          <dt>Task</dt>
          <dd>
            <code>{grant.task_id}</code>
          </dd>
          <dt>Status</dt>
          <dd>
            <Status value={grant.status} />
          </dd>
          <dt>Policy version</dt>
          <dd>{grant.policy_version}</dd>
          <dt>Source address</dt>
          <dd>
            {grant.context.ip ? (
              <code>{grant.context.ip}</code>
            ) : (
              <span class="muted">unknown</span>
            )}
          </dd>
          <dt>Created</dt>
          <dd>
            <Time sec={grant.created_at} />
          </dd>
          <dt>Ends</dt>
          <dd>
            <Time sec={grant.expires_at} />
          </dd>
        </dl>
        <h2>Granted</h2>
        {grant.granted.map((e) => (
          <IntentEntry entry={e} />
        ))}
        <h2>Timeline</h2>
        <Timeline history={history} shared={shared} ending={ending} />
        {grant.status !== 'revoked' && permits(operator, 'grants:revoke') ? (
          <form
            class="danger-zone"
            method="post"
            action={`/console/grants/${encodeURIComponent(grant.id)}/revoke`}
          >
            <h2>Revoke this grant</h2>
            <CsrfField session={c.var.session} />
            <label for="reason">Reason (recorded)</label>
            <input id="reason" name="reason" required maxlength={500} />
            <button type="submit" class="danger">
              Revoke grant
            </button>
          </form>
        ) : null}
      </>,
    );
  });

  app.post('/grants/:id/revoke', async (c) => {
    const { operator } = c.var.session;
    requirePermission(operator, 'grants:revoke');
    const form = await readForm(c, RevokeFormSchema);
    checkCsrf(c, deps, form.csrf);
    const id = c.req.param('id');
    if (id.length > 200) throw new ProblemError(404, 'Grant not found', 'no such grant');
    await revokeByAdmin(broker, { grant_id: id }, form.reason, operator.id);
    return c.redirect(`/console/grants/${encodeURIComponent(id)}?notice=revoked`, 303);
  });
}
