// The console's page frame: navigation by permission, live counts, notices, the sign-out form.
import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import type { Permission } from '../../domain/operator.ts';
import type { OperatorSession } from '../../domain/operator-session.ts';
import { type LiveCounts, liveCounts } from '../../services/live-counts.ts';
import type { HttpDeps } from '../http-deps.ts';
import { permits } from './operator.ts';
import type { ConsoleEnv } from './session.ts';

const NAV: Array<{ href: string; label: string; needs: Permission }> = [
  { href: '/console/approvals', label: 'Approvals', needs: 'approvals:read' },
  { href: '/console/grants', label: 'Grants', needs: 'grants:read' },
  { href: '/console/agents', label: 'Agents', needs: 'clients:read' },
  { href: '/console/policies', label: 'Policies', needs: 'policies:read' },
  { href: '/console/audit', label: 'Audit', needs: 'decisions:read' },
];

/** What a redirect after an action may say (a code in the query, never text from the request). */
const NOTICES: Record<string, string> = {
  approved: 'Approved. The agent gets its token at its next poll.',
  denied: 'Denied. The agent gets access_denied at its next poll.',
  revoked: 'Revoked. Every broker process refuses its tokens now.',
  disabled: 'Agent disabled: every live grant of it is revoked and it can get no new token.',
  enabled: 'Agent enabled again.',
  applied: 'Policy applied. Every live grant is being re-evaluated against it.',
};

/** The head shared by every console page, signed in or not. */
export function Document(props: { title: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Mandate console`}</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
        <script src="/console/assets/console.js" defer />
      </head>
      <body>{props.children}</body>
    </html>
  );
}

function Counts({ counts }: { counts: LiveCounts }) {
  const tiles = [
    ['Live grants', String(counts.liveGrants), 'live-grants'],
    [
      'Pending approvals',
      `${counts.pendingApprovals}${counts.pendingAtLeast ? '+' : ''}`,
      'pending-approvals',
    ],
    [
      'Decisions / min',
      `${counts.decisionsLastMinute}${counts.decisionsAtLeast ? '+' : ''}`,
      'decisions-per-minute',
    ],
    ['Denials / min', String(counts.denialsLastMinute), 'denials-per-minute'],
  ] as const;
  return (
    <section class="counts" aria-label="Live counts" data-counts-url="/console/counts">
      {tiles.map(([label, value, key]) => (
        <div
          class={`count${key === 'pending-approvals' && counts.pendingApprovals > 0 ? ' attention' : ''}`}
        >
          <span class="count-value" data-count={key}>
            {value}
          </span>
          <span class="count-label">{label}</span>
        </div>
      ))}
    </section>
  );
}

function Header({ session, current }: { session: OperatorSession; current: string }) {
  const { operator } = session;
  return (
    <header class="top">
      <a class="brand" href="/console">
        Mandate
      </a>
      <nav aria-label="Console">
        <ul>
          {NAV.filter((n) => permits(operator, n.needs)).map((n) => (
            <li>
              <a href={n.href} aria-current={current === n.href ? 'page' : undefined}>
                {n.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <form class="sign-out" method="post" action="/console/sign-out">
        <input type="hidden" name="csrf" value={session.csrf} />
        <span class="who">
          {operator.name}
          {operator.email && operator.email !== operator.name ? ` <${operator.email}>` : null}{' '}
          <span class="roles">({operator.roles.join(', ')})</span>
        </span>
        <button type="submit" class="link">
          Sign out
        </button>
      </form>
    </header>
  );
}

export interface PageOptions {
  readonly title: string;
  /** The nav entry to mark as current. */
  readonly section: string;
  readonly status?: 200 | 400 | 403 | 404 | 409 | 410 | 422;
}

/** A signed-in page: frame, live counts, the notice named in `?notice=`, then `body`. */
export async function renderPage(
  c: Context<ConsoleEnv>,
  deps: HttpDeps,
  opts: PageOptions,
  body: Child,
): Promise<Response> {
  const counts = await liveCounts(deps.broker);
  const notice = NOTICES[c.req.query('notice') ?? ''];
  return c.html(
    <Document title={opts.title}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header session={c.var.session} current={opts.section} />
      <Counts counts={counts} />
      <main id="main">
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        <h1>{opts.title}</h1>
        {body}
      </main>
    </Document>,
    opts.status ?? 200,
  );
}

/** The hidden field every state-changing form carries. */
export function CsrfField({ session }: { session: OperatorSession }) {
  return <input type="hidden" name="csrf" value={session.csrf} />;
}

/** Epoch seconds as an ISO-8601 UTC time, in a <time> element. */
export function Time({ sec }: { sec: number | undefined }) {
  if (sec === undefined) return <span>—</span>;
  const iso = new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
  return <time datetime={iso}>{iso.replace('T', ' ')}</time>;
}
