// Approvals: the inbox of pending requests, one request with its full intent, and an approver's decision with a note.
import { z } from 'zod';
import type { Approval } from '../../domain/approval.ts';
import { ProblemError } from '../../domain/errors.ts';
import { decideApproval } from '../../services/approvals.ts';
import { nowSecOf } from '../../services/broker.ts';
import type { HttpDeps } from '../http-deps.ts';
import { readForm } from './form.ts';
import { CsrfField, renderPage, Time } from './layout.tsx';
import { permits, requirePermission } from './operator.ts';
import { type ConsoleApp, checkCsrf } from './session.ts';
import { Choice, DataTable, IntentEntry, Reasons, Status } from './view-parts.tsx';

const STATUSES = ['pending', 'approved', 'denied', 'consumed'] as const;
const ListQuerySchema = z.object({ status: z.enum(STATUSES).catch('pending') });
const DecisionFormSchema = z
  .object({
    csrf: z.string(),
    decision: z.enum(['approve', 'deny']),
    note: z.string().max(1000).optional(),
  })
  .strict();

const purposeOf = (a: Approval) => a.intent.find((e) => e.purpose)?.purpose;
const reasonsOf = (a: Approval) => [...new Set(a.pairs.flatMap((p) => p.reasons))];

/**
 * What the request looked like when it arrived: the source address and policy version of the
 * decision record that opened it (a mint or elevation's approval_required), or of the grant a
 * resume approval is about.
 */
async function arrivalOf(deps: HttpDeps, a: Approval) {
  if (a.kind === 'resume' && a.grant_id) {
    const grant = await deps.broker.grants.get(a.grant_id);
    return { ip: grant?.context.ip, policyVersion: grant?.policy_version };
  }
  const records = await deps.broker.decisions.list({ client_id: a.client_id, limit: 1000 });
  const opened = records.find((r) => r.inputs.auth_req_id === a.id);
  const context = opened?.inputs.context as { ip?: unknown } | undefined;
  return {
    ip: typeof context?.ip === 'string' ? context.ip : undefined,
    policyVersion: opened?.policy_version,
  };
}

/** /console/approvals and /console/approvals/{id} (the deep link approval notifications carry). */
export function registerApprovals(app: ConsoleApp, deps: HttpDeps): void {
  const { broker } = deps;

  app.get('/approvals', async (c) => {
    requirePermission(c.var.session.operator, 'approvals:read');
    const { status } = ListQuerySchema.parse({ status: c.req.query('status') });
    const nowSec = nowSecOf(broker);
    const approvals = (await broker.approvals.list(status, nowSec, 200)).filter(
      (a) => status !== 'pending' || a.expires_at > nowSec,
    );
    return renderPage(
      c,
      deps,
      {
        title: status === 'pending' ? 'Pending approvals' : `Approvals: ${status}`,
        section: '/console/approvals',
      },
      <>
        <form class="filters" method="get" action="/console/approvals">
          <Choice id="status" label="Status" name="status" value={status} options={STATUSES} />
          <button type="submit">Show</button>
        </form>
        {approvals.length === 0 ? (
          <p class="empty">No {status} approval requests.</p>
        ) : (
          <DataTable
            caption={`Approval requests, ${status}`}
            headers={['Request', 'Agent', 'Task and purpose', 'Asks for', 'Policies', 'Expires']}
          >
            {approvals.map((a) => (
              <tr>
                <td>
                  <a href={`/console/approvals/${encodeURIComponent(a.id)}`}>{a.kind} request</a>{' '}
                  <Status value={a.status} />
                </td>
                <td>
                  <code>{a.client_id}</code>
                </td>
                <td>
                  <code>{a.task_id}</code>
                  {purposeOf(a) ? <div class="muted">{purposeOf(a)}</div> : null}
                </td>
                <td>
                  {a.pairs.map((p) => (
                    <div>
                      <code class="chip">{p.action}</code> <code>{p.location}</code>
                    </div>
                  ))}
                </td>
                <td>
                  <Reasons reasons={reasonsOf(a)} />
                </td>
                <td>
                  <Time sec={a.expires_at} />
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </>,
    );
  });

  app.get('/approvals/:id', async (c) => {
    const { operator } = c.var.session;
    requirePermission(operator, 'approvals:read');
    const id = c.req.param('id');
    const a = id.length <= 128 ? await broker.approvals.get(id) : undefined;
    if (!a) throw new ProblemError(404, 'Approval not found', 'no such approval request');
    const arrival = await arrivalOf(deps, a);
    const nowSec = nowSecOf(broker);
    const open = a.status === 'pending' && a.expires_at > nowSec;
    return renderPage(
      c,
      deps,
      { title: `Approval request: ${a.task_id}`, section: '/console/approvals' },
      <>
        <dl class="facts">
          <dt>Status</dt>
          <dd>
            <Status value={open || a.status !== 'pending' ? a.status : 'expired'} />
          </dd>
          <dt>Kind</dt>
          <dd>{a.kind}</dd>
          <dt>Agent</dt>
          <dd>
            <a href={`/console/agents/${encodeURIComponent(a.client_id)}`}>
              <code>{a.client_id}</code>
            </a>
          </dd>
          <dt>Task</dt>
          <dd>
            <code>{a.task_id}</code>
          </dd>
          <dt>Purpose</dt>
          <dd>{purposeOf(a) ?? <span class="muted">not given</span>}</dd>
          {a.grant_id ? (
            <>
              <dt>Grant</dt>
              <dd>
                <a href={`/console/grants/${encodeURIComponent(a.grant_id)}`}>
                  <code>{a.grant_id}</code>
                </a>
              </dd>
            </>
          ) : null}
          <dt>Source address</dt>
          <dd>{arrival.ip ? <code>{arrival.ip}</code> : <span class="muted">unknown</span>}</dd>
          <dt>Policies asking</dt>
          <dd>
            <Reasons reasons={reasonsOf(a)} />
            {arrival.policyVersion !== undefined ? (
              <span class="muted"> (policy version {arrival.policyVersion})</span>
            ) : null}
          </dd>
          <dt>Requested</dt>
          <dd>
            <Time sec={a.created_at} />
          </dd>
          <dt>Expires</dt>
          <dd>
            <Time sec={a.expires_at} />
          </dd>
          {a.decided_by ? (
            <>
              <dt>Decided by</dt>
              <dd>
                <code>{a.decided_by}</code> at <Time sec={a.decided_at} />
              </dd>
              <dt>Note</dt>
              <dd>{a.note ?? <span class="muted">none</span>}</dd>
            </>
          ) : null}
        </dl>

        <h2>Pairs needing a human</h2>
        <DataTable headers={['Action', 'Location', 'Reasons (policy ids)']}>
          {a.pairs.map((p) => (
            <tr>
              <td>
                <code>{p.action}</code>
              </td>
              <td>
                <code>{p.location}</code>
              </td>
              <td>
                <Reasons reasons={p.reasons} />
              </td>
            </tr>
          ))}
        </DataTable>

        <h2>Full intent</h2>
        {a.intent.map((entry) => (
          <IntentEntry entry={entry} />
        ))}

        {open && permits(operator, 'approvals:decide') ? (
          <form
            class="decide"
            method="post"
            action={`/console/approvals/${encodeURIComponent(a.id)}`}
          >
            <h2>Decide</h2>
            <CsrfField session={c.var.session} />
            <label for="note">Note (kept with the decision)</label>
            <textarea id="note" name="note" maxlength={1000} rows={3} />
            <div class="buttons">
              <button type="submit" name="decision" value="approve" class="approve">
                Approve
              </button>
              <button type="submit" name="decision" value="deny" class="danger">
                Deny
              </button>
            </div>
          </form>
        ) : null}
      </>,
    );
  });

  app.post('/approvals/:id', async (c) => {
    const { operator } = c.var.session;
    requirePermission(operator, 'approvals:decide');
    const form = await readForm(c, DecisionFormSchema);
    checkCsrf(c, deps, form.csrf);
    const id = c.req.param('id');
    await decideApproval(broker, id, form.decision, form.note || undefined, operator.id);
    const notice = form.decision === 'approve' ? 'approved' : 'denied';
    return c.redirect(`/console/approvals/${encodeURIComponent(id)}?notice=${notice}`, 303);
  });
}
