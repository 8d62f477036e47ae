// The GraphQL-over-HTTP conformance audit: graphql-http's `serverAudits`
// (pinned in e2e/package.json) against a running server, every request
// carrying a bearer token (the API answers nothing without one). Passes
// only with 0 errors (MUST) and 0 warnings (SHOULD); notices (MAY) are
// printed and do not fail.
//
//   GRAPHQL_URL  the endpoint (default http://127.0.0.1:8080/graphql)
//   AUDIT_TOKEN  a bearer token, without "Bearer " (required)
//
// Run `npm ci` in e2e/ first.
import { serverAudits } from 'graphql-http';

const url = process.env.GRAPHQL_URL || 'http://127.0.0.1:8080/graphql';
const token = process.env.AUDIT_TOKEN || '';
if (!token) {
  console.error('graphql-http audit: FAILED: AUDIT_TOKEN is not set');
  process.exit(1);
}

// Every audit request, with the token added to whatever headers it sets.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const audit of serverAudits({ url, fetchFn })) {
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    // The library throws only on fatal problems (the server is unreachable).
    result = { status: 'error', reason: `threw: ${err && err.message ? err.message : err}` };
  }
  counts[result.status] += 1;
  if (result.status !== 'ok') {
    let body = '';
    if (result.response) {
      body = await result.response.text().catch(() => '');
      body = ` | HTTP ${result.response.status} ${body.slice(0, 300)}`;
    }
    console.log(`graphql-http audit: ${result.status.toUpperCase()} ${audit.id} ${audit.name}: ${result.reason}${body}`);
  }
}
console.log(
  `graphql-http audit: ${counts.ok} ok, ${counts.error} errors, ${counts.warn} warnings, ${counts.notice} notices`,
);
process.exit(counts.error + counts.warn === 0 ? 0 : 1);
