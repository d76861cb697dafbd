// Agents: every client, one agent with its grants, and the kill switch (disable) behind a confirmation page.
import { z } from 'zod';
import { type Client, ClientIdSchema } from '../../domain/client.ts';
import { ProblemError } from '../../domain/errors.ts';
import { nowSecOf } from '../../services/broker.ts';
import { getClient, updateClient } from '../../services/manage-clients.ts';
import type { HttpDeps } from '../http-deps.ts';
import { readForm } from './form.ts';
import { CsrfField, renderPage, Time } from './layout.tsx';
import { permits, requirePermission } from './operator.ts';
import { type ConsoleApp, checkCsrf } from './session.ts';
import { DataTable, Status } from './view-parts.tsx';

const SwitchFormSchema = z.object({ csrf: z.string() }).strict();
const agentPath = (id: string) => `/console/agents/${encodeURIComponent(id)}`;

/** The client the path names, or 404. */
async function clientOf(deps: HttpDeps, raw: string): Promise<Client> {
  const id = ClientIdSchema.safeParse(raw);
  if (!id.success) throw new ProblemError(404, 'Agent not found', 'no such client');
  return getClient(deps.broker, id.data);
}

/** /console/agents, /console/agents/{id}, the disable confirmation and the switch itself. */
export function registerAgents(app: ConsoleApp, deps: HttpDeps): void {
  const { broker } = deps;

  app.get('/agents', async (c) => {
    requirePermission(c.var.session.operator, 'clients:read');
    const clients = (await broker.clients.list()).sort((a, b) =>
      a.kind === b.kind ? a.client_id.localeCompare(b.client_id) : a.kind === 'agent' ? -1 : 1,
    );
    return renderPage(
      c,
      deps,
      { title: 'Agents and resource servers', section: '/console/agents' },
      <DataTable caption="Clients" headers={['Client', 'Name', 'Kind', 'Groups', 'State']}>
        {clients.map((cl) => (
          <tr>
            <td>
              <a href={agentPath(cl.client_id)}>
                <code>{cl.client_id}</code>
              </a>
            </td>
            <td>{cl.name}</td>
            <td>{cl.kind}</td>
            <td>{cl.groups.join(', ')}</td>
            <td>
              <Status value={cl.disabled ? 'disabled' : 'enabled'} />
            </td>
          </tr>
        ))}
      </DataTable>,
    );
  });

  app.get('/agents/:id', async (c) => {
    const { operator } = c.var.session;
    requirePermission(operator, 'clients:read');
    const client = await clientOf(deps, c.req.param('id'));
    const grants = permits(operator, 'grants:read')
      ? await broker.grants.list({ client_id: client.client_id, limit: 100 }, nowSecOf(broker))
      : [];
    const live = grants.filter((g) => g.status !== 'revoked');
    const canSwitch = client.kind === 'agent' && permits(operator, 'clients:write');
    return renderPage(
      c,
      deps,
      {
        title: `${client.kind === 'agent' ? 'Agent' : 'Resource server'} ${client.client_id}`,
        section: '/console/agents',
      },
      <>
        <dl class="facts">
          <dt>Name</dt>
          <dd>{client.name}</dd>
          <dt>State</dt>
          <dd>
            <Status value={client.disabled ? 'disabled' : 'enabled'} />
          </dd>
          <dt>Groups</dt>
          <dd>{client.groups.join(', ') || <span class="muted">none</span>}</dd>
          {client.resources.length > 0 ? (
            <>
              <dt>Serves</dt>
              <dd>{client.resources.join(', ')}</dd>
            </>
          ) : null}
          <dt>Authentication</dt>
          <dd>{client.token_endpoint_auth_method}</dd>
          <dt>Updated</dt>
          <dd>
            <Time sec={client.updated_at} />
          </dd>
          <dt>Live grants</dt>
          <dd>
            <a href={`/console/grants?client_id=${encodeURIComponent(client.client_id)}`}>
              {live.length}
              {grants.length >= 100 ? '+' : ''}
            </a>
          </dd>
        </dl>
        {canSwitch && !client.disabled ? (
          <p>
            <a class="button danger" href={`${agentPath(client.client_id)}/disable`}>
              Disable agent (kill switch)…
            </a>
          </p>
        ) : null}
        {canSwitch && client.disabled ? (
          <form method="post" action={`${agentPath(client.client_id)}/enable`}>
            <CsrfField session={c.var.session} />
            <button type="submit">Enable agent</button>
          </form>
        ) : null}
      </>,
    );
  });

  // The confirmation step: a page of its own, so the kill switch is one deliberate click away.
  app.get('/agents/:id/disable', async (c) => {
    requirePermission(c.var.session.operator, 'clients:write');
    const client = await clientOf(deps, c.req.param('id'));
    const ids = await broker.grants.grantIdsOfClient(client.client_id, nowSecOf(broker));
    return renderPage(
      c,
      deps,
      { title: `Disable ${client.client_id}?`, section: '/console/agents' },
      <form
        class="confirm danger-zone"
        method="post"
        action={`${agentPath(client.client_id)}/disable`}
      >
        <p>
          Disabling <strong>{client.name}</strong> (<code>{client.client_id}</code>) revokes every
          live grant it holds (up to {ids.length}) and all their tokens at once, on every broker
          process, and it gets no new token until it is enabled again.
        </p>
        <CsrfField session={c.var.session} />
        <div class="buttons">
          <button type="submit" class="danger">
            Yes, disable {client.client_id}
          </button>
          <a href={agentPath(client.client_id)}>Cancel</a>
        </div>
      </form>,
    );
  });

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(`/agents/:id/${action}`, async (c) => {
      const { operator } = c.var.session;
      requirePermission(operator, 'clients:write');
      const form = await readForm(c, SwitchFormSchema);
      checkCsrf(c, deps, form.csrf);
      const client = await clientOf(deps, c.req.param('id'));
      if (client.kind !== 'agent')
        throw new ProblemError(400, 'Not an agent', 'only agents have the kill switch here');
      await updateClient(broker, client.client_id, { disabled }, operator.id);
      return c.redirect(`${agentPath(client.client_id)}?notice=${action}d`, 303);
    });
  }
}
