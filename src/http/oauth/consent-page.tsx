// The pages a person sees during /oauth/authorize: the consent page (what the client would get, after policy) and the error page.
import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ConsentPair, PendingAuthorization } from '../../domain/authorization-request.ts';
import { CONSOLE_CSP } from '../console/security-headers.ts';

/** The page frame: our stylesheet only, no script. */
function Page(props: { title: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Mandate`}</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
      </head>
      <body>{props.children}</body>
    </html>
  );
}

/** Headers of every page of the flow: the console's strict CSP (forms may also post to `formTarget`), no framing, no caching. */
function pageHeaders(formTargets: readonly string[] = []): Record<string, string> {
  const csp = CONSOLE_CSP.replace(
    "form-action 'self'",
    ["form-action 'self'", ...formTargets].join(' '),
  );
  return {
    'Content-Security-Policy': csp,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    // same-origin, not no-referrer: a form post must carry our Origin (no-referrer makes it `null`).
    'Referrer-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
}

/** An error shown in the browser (never redirected: the redirect is not trusted, or the request is not). */
export function authorizeErrorPage(
  c: Context,
  status: ContentfulStatusCode,
  error: string,
  detail: string,
): Response | Promise<Response> {
  return c.html(
    <Page title="Cannot continue">
      <main id="main" class="error-page">
        <h1>Cannot continue</h1>
        <p>{detail}</p>
        <p>Go back to the app you came from and start again.</p>
        <p class="status">
          <code>{error}</code> · HTTP {status}
        </p>
      </main>
    </Page>,
    status,
    pageHeaders(),
  );
}

export interface ConsentView {
  readonly clientName: string;
  readonly clientId: string;
  readonly pending: PendingAuthorization;
}

/** Where the form's redirect may lead (CSP form-action also covers redirects): the client's redirect origin, any port on loopback. */
function redirectSource(redirectUri: string): string {
  const url = new URL(redirectUri);
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
    return loopback ? `${url.protocol}//${url.hostname}:*` : url.origin;
  }
  return url.protocol;
}

/** What a pair reads as: the action (an MCP tool's name) on its location. */
function PairItem({ pair }: { pair: ConsentPair }) {
  return (
    <li>
      <strong>{pair.action}</strong> on <code>{pair.location}</code>
      {pair.effect !== 'permit' && pair.reasons.length ? (
        <span class="hint"> (policy: {pair.reasons.join(', ')})</span>
      ) : null}
    </li>
  );
}

/** The pairs of one kind, as a list. */
function PairList({ pairs }: { pairs: readonly ConsentPair[] }) {
  return (
    <ul class="consent-list">
      {pairs.map((p) => (
        <PairItem pair={p} />
      ))}
    </ul>
  );
}

/** The consent page: who asks, for whom, what policy grants, refuses, or leaves to an approver. */
export function consentPage(c: Context, view: ConsentView): Response | Promise<Response> {
  const { pending } = view;
  const pairs = pending.pairs ?? [];
  const permitted = pairs.filter((p) => p.effect === 'permit');
  const refused = pairs.filter((p) => p.effect === 'deny');
  const needsApprover = pairs.filter((p) => p.effect === 'approval');
  const redirectHost = new URL(pending.redirect_uri).host || new URL(pending.redirect_uri).protocol;
  const person = pending.person;
  return c.html(
    <Page title="Allow access?">
      <main id="main" class="consent">
        <h1>Allow {view.clientName} to act for you?</h1>
        <p>
          <strong>{view.clientName}</strong>
          {view.clientId !== view.clientName ? (
            <span>
              {' '}
              (<code>{view.clientId}</code>)
            </span>
          ) : null}{' '}
          will receive access at <strong>{redirectHost}</strong>.
        </p>
        {person ? (
          <p>
            Signed in as <strong>{person.name ?? person.sub}</strong>.
          </p>
        ) : null}
        <section aria-labelledby="granted-heading">
          <h2 id="granted-heading">It would be allowed to</h2>
          {permitted.length ? (
            <PairList pairs={permitted} />
          ) : (
            <p>Nothing: policy permits none of what it asked for.</p>
          )}
        </section>
        {refused.length ? (
          <section aria-labelledby="refused-heading">
            <h2 id="refused-heading">Refused by policy</h2>
            <PairList pairs={refused} />
          </section>
        ) : null}
        {needsApprover.length ? (
          <section aria-labelledby="approval-heading">
            <h2 id="approval-heading">Needs an approver: not included</h2>
            <p class="hint">
              Policy lets these happen only after an approver agrees. They are left out of this
              grant; the app can ask for them separately.
            </p>
            <PairList pairs={needsApprover} />
          </section>
        ) : null}
        <p class="hint">
          Policy checks every use again, and the access can be revoked at any time.
        </p>
        <form method="post" action="/oauth/consent">
          <input type="hidden" name="csrf" value={pending.csrf ?? ''} />
          <div class="buttons">
            {permitted.length ? (
              <button type="submit" name="decision" value="approve" class="approve">
                Allow
              </button>
            ) : null}
            <button type="submit" name="decision" value="deny" class="danger">
              Deny
            </button>
          </div>
        </form>
      </main>
    </Page>,
    200,
    pageHeaders([redirectSource(pending.redirect_uri)]),
  );
}
