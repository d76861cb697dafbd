// What a new approval request posts to a notify target: JSON for your own hook, or a Slack message (pure).
import type { Approval } from './approval.ts';

/** The console page of one approval: where the notice links to. */
export function approvalLink(issuer: string, approvalId: string): string {
  return `${issuer.replace(/\/+$/, '')}/console/approvals/${encodeURIComponent(approvalId)}`;
}

/** The approval as a notice shows it: everything an approver needs, nothing secret. */
export function approvalSummary(a: Approval) {
  return {
    id: a.id,
    kind: a.kind,
    client_id: a.client_id,
    task_id: a.task_id,
    ...(a.grant_id ? { grant_id: a.grant_id } : {}),
    purpose: a.intent.find((e) => e.purpose)?.purpose,
    intent: a.intent,
    pairs: a.pairs,
    reasons: approvalReasons(a),
    created_at: a.created_at,
    expires_at: a.expires_at,
  };
}

/** The distinct policy ids that asked for a human, in order. */
export function approvalReasons(a: Pick<Approval, 'pairs'>): string[] {
  return [...new Set(a.pairs.flatMap((p) => p.reasons))];
}

/** Slack mrkdwn needs &, < and > escaped in text that is not a link. */
const slackText = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The body posted for one new approval: `json` is `{type: "approval.requested", approval, link}`;
 * `slack` is an incoming-webhook message (`text` for notifications, `blocks` with the pairs and
 * a button to the console page).
 */
export function approvalNotice(a: Approval, issuer: string, format: 'json' | 'slack'): unknown {
  const link = approvalLink(issuer, a.id);
  const summary = approvalSummary(a);
  if (format === 'json') return { type: 'approval.requested', approval: summary, link };
  const pairs = a.pairs
    .map(
      (p) =>
        `• \`${slackText(p.action)}\` on ${slackText(p.location)} (${slackText(p.reasons.join(', ') || 'policy')})`,
    )
    .join('\n');
  const title = `Approval needed: agent ${slackText(a.client_id)}, task ${slackText(a.task_id)}${summary.purpose ? ` (${slackText(summary.purpose)})` : ''}`;
  return {
    text: `${title}: ${link}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${title}*\n${pairs}` } },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `${a.kind} request ${slackText(a.id)}, expires <!date^${a.expires_at}^{date_short_pretty} {time}|${new Date(a.expires_at * 1000).toISOString()}>`,
          },
        ],
      },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: { type: 'plain_text', text: 'Review in Mandate' },
            url: link,
            style: 'primary',
          },
        ],
      },
    ],
  };
}
