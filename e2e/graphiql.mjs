// End-to-end test of the GraphiQL page, as a person would use it: open it
// from the running service, paste the admin token into the Headers editor,
// run the Viewer query from docs/operations/viewer.graphql, and check the
// result pane shows the admin. Saves a screenshot either way. The page must
// do all this under its Content-Security-Policy: any violation fails.
//
// Needs the service running with --graphiql-assets (no CDN here), Debian's
// Chromium at /usr/bin/chromium, and `npm ci` done in codegen/ (playwright-core
// is resolved from there).
//
//   GRAPHIQL_URL    page to open (default http://127.0.0.1:8080/graphql)
//   E2E_TOKEN       a partner_admin bearer token (required; the demo banner
//                   prints one for ada@northwind.example)
//   E2E_EXPECT_EMAIL  the token's e-mail address (default ada@northwind.example)
//   E2E_SCREENSHOT  where to save the PNG (default .ci/artifacts/graphiql.png
//                   under the repository root)
//   CHROMIUM        browser binary (default /usr/bin/chromium)
//   E2E_REQUIRE_INTROSPECTION=1  fail (not only warn) when GraphiQL cannot
//                   load the schema with the token
import { createRequire } from 'node:module';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(repoRoot, 'codegen', 'package.json'));

const url = process.env.GRAPHIQL_URL || 'http://127.0.0.1:8080/graphql';
const token = process.env.E2E_TOKEN || '';
const expectEmail = process.env.E2E_EXPECT_EMAIL || 'ada@northwind.example';
const screenshot = process.env.E2E_SCREENSHOT
  ? path.resolve(process.env.E2E_SCREENSHOT)
  : path.join(repoRoot, '.ci', 'artifacts', 'graphiql.png');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_TIMEOUT = 20_000;

function fail(message) {
  console.error(`e2e graphiql: FAILED: ${message}`);
  process.exit(1);
}

if (!token) fail('E2E_TOKEN is not set (a partner_admin bearer token, without "Bearer ")');

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (err) {
  fail(`cannot load playwright-core (run \`npm ci\` in codegen/ first): ${err.message}`);
}

const viewerQuery = await readFile(path.join(repoRoot, 'docs', 'operations', 'viewer.graphql'), 'utf8');
const headersJson = JSON.stringify({ Authorization: `Bearer ${token}` });

const browser = await chromium
  .launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  .catch((err) => fail(`cannot start ${executablePath}: ${err.message}`));

const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.setDefaultTimeout(STEP_TIMEOUT);

// The page must work offline: every request goes to the service itself.
const origin = new URL(url).origin;
const offsite = [];
const pageErrors = [];
await page.route('**/*', (route) => {
  const target = route.request().url();
  if (target.startsWith(origin) || target.startsWith('data:') || target.startsWith('blob:')) {
    return route.continue();
  }
  offsite.push(target);
  return route.abort();
});
page.on('pageerror', (err) => pageErrors.push(err.message));
// The page runs under a Content-Security-Policy; anything it blocks is a
// failure (a blocked script would leave the page blank). Init scripts run
// outside the page's policy.
await page.addInitScript(() => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}`),
  );
});
const cspViolations = () => page.evaluate(() => window.__cspViolations || []);

// The CodeMirror 5 instance inside an element (GraphiQL 3 editors).
const editorValue = (selector) =>
  page.$eval(`${selector} .CodeMirror`, (el) => el.CodeMirror.getValue());

// Replace an editor's text the way a person pastes: focus, select all, insert.
async function pasteInto(selector, text) {
  await page.locator(`${selector} .CodeMirror`).click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
  await page.keyboard.press('Control+Home');
}

let current = 'start';
async function step(name, fn) {
  current = name;
  await fn();
  console.log(`e2e graphiql: ok: ${name}`);
}

let failure = null;
try {
  await step(`open ${url}`, async () => {
    const response = await page.goto(url, { waitUntil: 'load' });
    if (!response || response.status() !== 200) {
      throw new Error(`GET ${url} answered ${response ? response.status() : 'nothing'}`);
    }
    const csp = response.headers()['content-security-policy'] || '';
    if (!csp.includes("frame-ancestors 'none'") || !csp.includes("script-src 'self'")) {
      throw new Error(`the page has no locked-down Content-Security-Policy: ${JSON.stringify(csp)}`);
    }
    await page.locator('.graphiql-container .graphiql-query-editor .CodeMirror').waitFor();
    if ((await page.evaluate(() => typeof window.GraphiQL)) !== 'function') throw new Error('GraphiQL did not load');
  });

  await step('paste the admin token into the Headers editor', async () => {
    await page.getByRole('button', { name: 'Headers', exact: true }).click();
    const headers = '.graphiql-editor-tool .graphiql-editor:not(.hidden)';
    await pasteInto(headers, headersJson);
    const value = await editorValue(headers);
    if (value.trim() !== headersJson) throw new Error(`Headers editor holds ${JSON.stringify(value)}`);
  });

  await step('run the Viewer query', async () => {
    await pasteInto('.graphiql-query-editor', viewerQuery);
    const value = await editorValue('.graphiql-query-editor');
    if (value.trim() !== viewerQuery.trim()) throw new Error('query editor does not hold viewer.graphql');
    const [response] = await Promise.all([
      page.waitForResponse(
        (r) => r.request().method() === 'POST' && (r.request().postData() || '').includes('query Viewer'),
      ),
      page.locator('.graphiql-execute-button').click(),
    ]);
    const body = await response.json().catch(() => null);
    if (response.status() !== 200 || !body || body.errors) {
      throw new Error(`the server answered HTTP ${response.status()}: ${JSON.stringify(body && body.errors)}`);
    }
    const who = body.data && body.data.viewer && body.data.viewer.user;
    if (!who || who.email !== expectEmail) {
      throw new Error(`the query answered for ${who ? who.email : 'nobody'}, not ${expectEmail}`);
    }
    // Then wait until the result pane shows it.
    await page.locator('.result-window', { hasText: expectEmail }).waitFor();
  });

  await step('the result pane shows the admin', async () => {
    const text = await editorValue('.result-window');
    let result;
    try {
      result = JSON.parse(text);
    } catch {
      throw new Error(`result pane is not JSON: ${text.slice(0, 300)}`);
    }
    if (result.errors) throw new Error(`the query answered errors: ${JSON.stringify(result.errors)}`);
    const viewer = result.data && result.data.viewer;
    const problems = [];
    if (!viewer) problems.push('no data.viewer');
    else {
      if (viewer.user.email !== expectEmail) problems.push(`email ${viewer.user.email}`);
      if (viewer.role !== 'PARTNER_ADMIN') problems.push(`role ${viewer.role}`);
      const p = viewer.permissions;
      if (!p.canProvisionClients || !p.canManageAssignments || !p.canViewContactDetails) {
        problems.push(`permissions ${JSON.stringify(p)}`);
      }
    }
    if (problems.length) throw new Error(`unexpected viewer: ${problems.join(', ')}`);
    // What a person sees, not only the editor's model.
    const shown = await page.locator('.result-window').innerText();
    for (const needle of [expectEmail, 'PARTNER_ADMIN']) {
      if (!shown.includes(needle)) throw new Error(`result pane does not show ${needle}`);
    }
  });

  if (offsite.length) throw new Error(`the page tried to leave the service: ${offsite.join(', ')}`);
  if (pageErrors.length) throw new Error(`JavaScript errors on the page: ${pageErrors.join(' | ')}`);
  const blocked = await cspViolations();
  if (blocked.length) throw new Error(`Content-Security-Policy violations: ${blocked.join(' | ')}`);
} catch (err) {
  failure = `${current}: ${err.message.split('\n')[0]}`;
}

try {
  await mkdir(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot });
  console.log(`e2e graphiql: screenshot ${screenshot}`);
} catch (err) {
  failure = failure || `screenshot: ${err.message}`;
}

// GraphiQL introspects once on load (with the placeholder header, so that
// fails with UNAUTHENTICATED); with a real token, "Re-fetch GraphQL schema"
// must load the schema for the docs explorer and autocompletion. A failure
// here is a warning unless E2E_REQUIRE_INTROSPECTION=1. (It runs after the
// screenshot: GraphiQL writes introspection errors into the result pane.)
if (!failure) {
  const required = process.env.E2E_REQUIRE_INTROSPECTION === '1';
  try {
    await page.getByRole('button', { name: 'Re-fetch GraphQL schema' }).click();
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const explorer = page.locator('.graphiql-doc-explorer');
    const loaded = explorer.locator('a', { hasText: /^Query$/ }).first();
    const broken = explorer.getByText('Error fetching schema');
    await loaded.or(broken).first().waitFor();
    if (await broken.isVisible()) {
      const why = await editorValue('.result-window').catch(() => '');
      let message = why;
      try {
        message = JSON.parse(why).errors.map((e) => `${e.message} (${e.extensions?.code})`).join('; ');
      } catch {}
      throw new Error(`GraphiQL's introspection query was refused: ${message}`);
    }
    console.log('e2e graphiql: ok: re-fetch the schema with the token (docs explorer shows Query)');
  } catch (err) {
    const message = err.message.split('\n')[0];
    if (required) failure = `introspection: ${message}`;
    else console.warn(`e2e graphiql: WARNING: introspection: ${message}`);
  }
}
if (!failure) {
  const blocked = await cspViolations().catch((err) => [`cannot read violations: ${err.message}`]);
  if (blocked.length) failure = `after introspection: Content-Security-Policy violations: ${blocked.join(' | ')}`;
}
await browser.close();

if (failure) fail(failure);
console.log('e2e graphiql: passed');
