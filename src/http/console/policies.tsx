// Policies: the set in force; edit -> validate -> simulate against live grants (with counts) -> apply.
import { hash } from 'node:crypto';
import type { Context } from 'hono';
import { z } from 'zod';
import { ProblemError } from '../../domain/errors.ts';
import type { PolicyProblem } from '../../domain/policy-registry.ts';
import { applyPolicy, distinctProblems } from '../../services/apply-policy.ts';
import { type SimulatedChange, simulatePolicy } from '../../services/simulate-policy.ts';
import type { HttpDeps } from '../http-deps.ts';
import { readForm } from './form.ts';
import { CsrfField, renderPage, Time } from './layout.tsx';
import { permits, requirePermission } from './operator.ts';
import { type ConsoleApp, type ConsoleEnv, checkCsrf } from './session.ts';
import { Reasons } from './view-parts.tsx';

// Browsers post a textarea's line breaks as CRLF: the set is kept with LF, as the API takes it.
const Text = z
  .string()
  .min(1)
  .max(1_000_000)
  .transform((t) => t.replace(/\r\n?/g, '\n'));
// The editor posts the same fields to check and to apply; checking ignores the apply-only ones.
const CheckFormSchema = z
  .object({
    csrf: z.string(),
    policies: Text,
    simulated: z.string().max(100).optional(),
    base_version: z.string().max(20).optional(),
  })
  .strict();
const ApplyFormSchema = z
  .object({
    csrf: z.string(),
    policies: Text,
    simulated: z.string().max(100),
    base_version: z.coerce.number().int(),
  })
  .strict();

/** What ties an apply to the simulation the operator saw: the digest of the text simulated. */
const digestOf = (text: string) => hash('sha256', text, 'base64url');

const OUTCOMES = ['keep', 'narrow', 'suspend', 'revoke'] as const;

function Problems({ problems }: { problems: readonly PolicyProblem[] }) {
  return (
    <section class="problems" role="alert" aria-labelledby="problems">
      <h2 id="problems">The policy set does not validate</h2>
      <ul>
        {distinctProblems(problems).map((p) => (
          <li>
            line {p.line}, column {p.column}
            {p.policy_id ? (
              <>
                {' '}
                (<code>{p.policy_id}</code>)
              </>
            ) : null}
            : {p.message}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Changes({ title, changes }: { title: string; changes: readonly SimulatedChange[] }) {
  if (changes.length === 0) return null;
  return (
    <>
      <h3>{title}</h3>
      <ul class="changes">
        {changes.map((ch) => (
          <li>
            <a href={`/console/grants/${encodeURIComponent(ch.grant_id)}`}>
              <code>{ch.grant_id}</code>
            </a>{' '}
            agent <code>{ch.client_id}</code>, task <code>{ch.task_id}</code>:{' '}
            <Reasons reasons={ch.reasons} />
          </li>
        ))}
      </ul>
    </>
  );
}

/** The editor: the text, and the buttons this operator may press. */
function Editor(props: {
  c: Context<ConsoleEnv>;
  text: string;
  baseVersion: number;
  simulated?: string | undefined;
}) {
  const { session } = props.c.var;
  return (
    <form class="policy-editor" method="post" action="/console/policies/check">
      <CsrfField session={session} />
      <input type="hidden" name="base_version" value={String(props.baseVersion)} />
      <input type="hidden" name="simulated" value={props.simulated ?? ''} />
      <label for="policies">Cedar policy set</label>
      {/* The parser drops one newline right after <textarea>: this one, never the text's own. */}
      <textarea id="policies" name="policies" rows={24} spellcheck={false} required>
        {`\n${props.text}`}
      </textarea>
      <div class="buttons">
        {permits(session.operator, 'policies:simulate') ? (
          <button type="submit">Validate and simulate</button>
        ) : null}
        {props.simulated && permits(session.operator, 'policies:write') ? (
          <button type="submit" class="approve" formaction="/console/policies/apply">
            Apply this policy set
          </button>
        ) : null}
      </div>
    </form>
  );
}

/** /console/policies: view, check (validate and simulate), apply. */
export function registerPolicies(app: ConsoleApp, deps: HttpDeps): void {
  const { broker } = deps;
  const inForce = () => {
    const stored = broker.policy.stored();
    if (!stored) throw new ProblemError(503, 'No policy loaded');
    return stored;
  };

  app.get('/policies', async (c) => {
    requirePermission(c.var.session.operator, 'policies:read');
    const stored = inForce();
    return renderPage(
      c,
      deps,
      { title: 'Policies', section: '/console/policies' },
      <>
        <p>
          Version <strong>{stored.version}</strong>, updated <Time sec={stored.updated_at} />,
          SHA-256 <code>{stored.sha256}</code>. Edit the set below, then validate and simulate it
          against every live grant before applying it.
        </p>
        <Editor c={c} text={stored.text} baseVersion={stored.version} />
      </>,
    );
  });

  app.post('/policies/check', async (c) => {
    requirePermission(c.var.session.operator, 'policies:simulate');
    const form = await readForm(c, CheckFormSchema);
    checkCsrf(c, deps, form.csrf);
    const stored = inForce();
    const result = await simulatePolicy(broker, form.policies);
    if (!result.ok)
      return renderPage(
        c,
        deps,
        { title: 'Policies: invalid', section: '/console/policies', status: 400 },
        <>
          <Problems problems={result.problems} />
          <Editor c={c} text={form.policies} baseVersion={stored.version} />
        </>,
      );
    const changed = result.counts.narrow + result.counts.suspend + result.counts.revoke;
    return renderPage(
      c,
      deps,
      { title: 'Policies: simulation', section: '/console/policies' },
      <>
        <section class="simulation" aria-labelledby="simulation">
          <h2 id="simulation">
            Valid. Against the live grants it would change {changed} of{' '}
            {changed + result.counts.keep}
          </h2>
          <table class="sim-counts">
            <caption class="visually-hidden">Simulated outcome per live grant</caption>
            <thead>
              <tr>
                {OUTCOMES.map((o) => (
                  <th scope="col">{o}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              <tr>
                {OUTCOMES.map((o) => (
                  <td data-outcome={o}>{result.counts[o]}</td>
                ))}
              </tr>
            </tbody>
          </table>
          <Changes title="Would revoke" changes={result.revoke} />
          <Changes title="Would suspend (pending approval)" changes={result.suspend} />
          <Changes title="Would narrow" changes={result.narrow} />
          <p class="muted">
            Compared with version {stored.version} in force. Applying re-evaluates every live grant
            at once.
          </p>
        </section>
        <Editor
          c={c}
          text={form.policies}
          baseVersion={stored.version}
          simulated={digestOf(form.policies)}
        />
      </>,
    );
  });

  app.post('/policies/apply', async (c) => {
    const { operator } = c.var.session;
    requirePermission(operator, 'policies:write');
    const form = await readForm(c, ApplyFormSchema);
    checkCsrf(c, deps, form.csrf);
    if (form.simulated !== digestOf(form.policies))
      throw new ProblemError(409, 'Simulate first', 'the text changed since its simulation');
    if (inForce().version !== form.base_version)
      throw new ProblemError(
        409,
        'Policy changed meanwhile',
        'another version was applied since your simulation: simulate again',
      );
    const result = await applyPolicy(broker, form.policies, operator.id);
    if (!result.ok)
      return renderPage(
        c,
        deps,
        { title: 'Policies: invalid', section: '/console/policies', status: 400 },
        <>
          <Problems problems={result.problems} />
          <Editor c={c} text={form.policies} baseVersion={inForce().version} />
        </>,
      );
    return c.redirect('/console/policies?notice=applied', 303);
  });
}
