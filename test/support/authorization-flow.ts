// Drives /oauth/authorize the way a browser would (the demo's steps, shared): redirects by hand, a cookie jar, the upstream dev login and Mandate's consent form.
export {
  answerConsent,
  browse,
  type ConsentStep,
  CookieJar,
  followUpstream,
  signInUpstream,
} from '../../scripts/mcp/browser-steps.ts';
