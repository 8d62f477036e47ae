// End-to-end test of the GraphiQL page, as an administrator meets it, with
// no network but the service: the page loads from the binary's embedded
// files, says what to paste and sends no introspection until a token is in
// the Headers tab; after the paste the schema loads by itself (the docs
// explorer shows the Query type's fields, completion offers them), and the
// Viewer query from docs/operations/viewer.graphql shows the admin; a
// subscription run from the page shows a change made meanwhile. All of it
// under the page's Content-Security-Policy: any violation fails. Saves a
// screenshot either way.
//
// Needs the service running WITHOUT --graphiql-assets, Debian's Chromium at
// /usr/bin/chromium, and `npm ci` done in codegen/ (playwright-core is
// resolved from there).
//
//   GRAPHIQL_URL    page to open (default http://127.0.0.1:8080/graphql)
//   E2E_TOKEN       a partner_admin bearer token (required; the demo banner
//                   prints one for ada@northwind.example)
//   E2E_EXPECT_EMAIL  the token's e-mail address (default ada@northwind.example)
//   E2E_SCREENSHOT  where to save the PNG (default .ci/artifacts/graphiql.png
//                   under the repository root)
//   CHROMIUM        browser binary (default /usr/bin/chromium)
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
const origin = new URL(url).origin;
const host = new URL(url).hostname;

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
      // No network but the service: every other host name resolves to
      // nothing (the request interception below also aborts and records).
      `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${host}`,
    ],
  })
  .catch((err) => fail(`cannot start ${executablePath}: ${err.message}`));

const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.setDefaultTimeout(STEP_TIMEOUT);

const offsite = [];
const pageErrors = [];
const loaded = []; // same-origin URLs the page fetched
const introspections = []; // { authorization, status } per introspection POST
await page.route('**/*', (route) => {
  const target = route.request().url();
  if (target.startsWith(`${origin}/`)) {
    loaded.push(target);
    return route.continue();
  }
  if (target.startsWith('data:') || target.startsWith('blob:')) return route.continue();
  offsite.push(target);
  return route.abort('internetdisconnected');
});
page.on('request', (req) => {
  if (req.method() === 'POST' && (req.postData() || '').includes('IntrospectionQuery')) {
    introspections.push({ authorization: req.headers()['authorization'] || '' });
  }
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
  await step(`open ${url} (no network but the service)`, async () => {
    const response = await page.goto(url, { waitUntil: 'load' });
    if (!response || response.status() !== 200) {
      throw new Error(`GET ${url} answered ${response ? response.status() : 'nothing'}`);
    }
    const csp = response.headers()['content-security-policy'] || '';
    if (!csp.includes("frame-ancestors 'none'") || !/script-src 'self'(;| ')/.test(csp) || /https?:/.test(csp)) {
      throw new Error(`the page has no same-origin-only Content-Security-Policy: ${JSON.stringify(csp)}`);
    }
    await page.locator('.graphiql-container .graphiql-query-editor .CodeMirror').waitFor();
    if ((await page.evaluate(() => typeof window.GraphiQL)) !== 'function') throw new Error('GraphiQL did not load');
    // From the binary, not from a --graphiql-assets directory.
    const vendor = loaded.filter((u) => u.includes('/graphiql/vendor/'));
    if (vendor.length !== 4 || loaded.some((u) => u.includes('/graphiql-assets/'))) {
      throw new Error(`expected the 4 embedded files under /graphiql/vendor/, loaded: ${loaded.join(', ')}`);
    }
  });

  await step('the page says what to paste, and sends no introspection yet', async () => {
    const hint = page.locator('#hint');
    await hint.waitFor({ state: 'visible' });
    const text = await hint.innerText();
    for (const needle of ['"Authorization": "Bearer <token>"', 'Headers', 'partner-clients token']) {
      if (!text.includes(needle)) throw new Error(`the hint does not say ${needle}: ${JSON.stringify(text)}`);
    }
    await page.waitForTimeout(1000); // GraphiQL would have introspected on load by now
    if (introspections.length) throw new Error(`introspection sent before a token: ${JSON.stringify(introspections)}`);
    if (await page.getByText('Error fetching schema').count()) throw new Error('"Error fetching schema" shown');
  });

  await step('paste the admin token into the Headers editor: the schema loads by itself', async () => {
    await page.getByRole('button', { name: 'Headers', exact: true }).click();
    const headers = '.graphiql-editor-tool .graphiql-editor:not(.hidden)';
    const schemaLoaded = page.waitForResponse(
      (r) => r.request().method() === 'POST' && (r.request().postData() || '').includes('IntrospectionQuery'),
    );
    await pasteInto(headers, headersJson);
    const value = await editorValue(headers);
    if (value.trim() !== headersJson) throw new Error(`Headers editor holds ${JSON.stringify(value)}`);
    const response = await schemaLoaded;
    const body = await response.json().catch(() => null);
    if (response.status() !== 200 || !body || !body.data || !body.data.__schema) {
      throw new Error(`introspection answered HTTP ${response.status()}: ${JSON.stringify(body && body.errors)}`);
    }
    if (introspections.some((i) => i.authorization !== `Bearer ${token}`)) {
      throw new Error(`an introspection without the pasted token: ${JSON.stringify(introspections)}`);
    }
    await page.locator('#hint').waitFor({ state: 'hidden' });
  });

  await step('the docs explorer shows the Query type and its fields', async () => {
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const explorer = page.locator('.graphiql-doc-explorer');
    await explorer.locator('a', { hasText: /^Query$/ }).first().click();
    await explorer.locator('.graphiql-doc-explorer-field-name', { hasText: /^viewer$/ }).first().waitFor();
    await explorer.locator('.graphiql-doc-explorer-field-name', { hasText: /^clients$/ }).first().waitFor();
  });

  await step('completion offers the schema', async () => {
    // Typing a letter opens GraphiQL's completion list (from the schema).
    await pasteInto('.graphiql-query-editor', '{\n  ');
    await page.keyboard.press('Control+End');
    await page.keyboard.type('cli');
    const hints = page.locator('.CodeMirror-hints li');
    await hints.filter({ hasText: /^clients$/ }).first().waitFor();
    await hints.filter({ hasText: /^client$/ }).first().waitFor();
    await page.keyboard.press('Escape');
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
    await page.locator('.result-window', { hasText: expectEmail }).waitFor();
  });

  await step('the result pane shows the admin', async () => {
    const result = JSON.parse(await editorValue('.result-window'));
    const viewer = result.data && result.data.viewer;
    const p = viewer && viewer.permissions;
    if (!viewer || viewer.role !== 'PARTNER_ADMIN' || !p.canProvisionClients || !p.canManageAssignments) {
      throw new Error(`unexpected viewer: ${JSON.stringify(viewer)}`);
    }
    // What a person sees, not only the editor's model.
    const shown = await page.locator('.result-window').innerText();
    for (const needle of [expectEmail, 'PARTNER_ADMIN']) {
      if (!shown.includes(needle)) throw new Error(`result pane does not show ${needle}`);
    }
  });

  await step('run a subscription: a change made elsewhere shows in the result pane', async () => {
    // GraphiQL opens a WebSocket to this host (the page's CSP allows it)
    // and sends the Headers tab as connection_init's payload.
    const subscription = 'subscription LiveE2e { clientEvents { action clientId client { clientId status } } }';
    await pasteInto('.graphiql-query-editor', subscription);
    // GraphiQL picks up the new operation's name a moment after the edit.
    await page.waitForTimeout(500);
    // Frames are recorded from the moment the socket opens: waiting for
    // `connection_ack` only after `websocket` fired could miss an ack that
    // arrived in between (a fast server answered before the listener was on).
    const frames = { received: [], sent: [] };
    const opened = new Promise((resolve) => {
      page.once('websocket', (socket) => {
        socket.on('framereceived', (f) => frames.received.push(String(f.payload)));
        socket.on('framesent', (f) => frames.sent.push(String(f.payload)));
        resolve(socket);
      });
    });
    await page.locator('.graphiql-execute-button').click();
    const ws = await opened;
    if (!ws.url().startsWith(`ws://${new URL(url).host}/graphql`)) throw new Error(`a WebSocket to ${ws.url()}`);
    const seen = async (what, test) => {
      for (let i = 0; i < 200 && !test(); i += 1) await page.waitForTimeout(100);
      if (!test()) throw new Error(`no ${what} within 20 s: ${JSON.stringify(frames)}`);
    };
    await seen('connection_ack', () => frames.received.some((f) => f.includes('connection_ack')));
    await seen('subscribe message', () => frames.sent.some((f) => f.includes('"subscribe"')));
    // The subscription is live once the server has taken it: give it a moment.
    await page.waitForTimeout(500);
    const clientId = `e2e-live-${Date.now()}`;
    const provision = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: 'mutation($i: ProvisionClientInput!) { provisionClient(input: $i) { created } }',
        variables: {
          i: {
            clientId,
            businessName: 'E2E Live',
            webDomain: `${clientId}.example.com`,
            contactName: 'Casey Contact',
            businessEmail: `casey@${clientId}.example.com`,
            timezone: 'Europe/Berlin',
          },
        },
      }),
    }).then((r) => r.json());
    if (!provision.data || provision.data.provisionClient.created !== true) {
      throw new Error(`provisioning failed: ${JSON.stringify(provision.errors)}`);
    }
    await page.locator('.result-window', { hasText: clientId }).waitFor();
    const result = JSON.parse(await editorValue('.result-window'));
    const event = result.data && result.data.clientEvents;
    if (!event || event.action !== 'CLIENT_PROVISIONED' || event.client.status !== 'PROVISIONED') {
      throw new Error(`unexpected event: ${JSON.stringify(result)}`);
    }
    await page.locator('.graphiql-execute-button').click(); // stop it
  });

  if (offsite.length) throw new Error(`the page tried to leave the service: ${offsite.join(', ')}`);
  if (pageErrors.length) throw new Error(`JavaScript errors on the page: ${pageErrors.join(' | ')}`);
  const blocked = await cspViolations();
  if (blocked.length) throw new Error(`Content-Security-Policy violations: ${blocked.join(' | ')}`);
} catch (err) {
  failure = `${current}: ${err.message.split('\n')[0]}`;
}

try {
  // The docs explorer open on Query beside the result: what the admin sees.
  await page.getByRole('button', { name: 'Show Documentation Explorer' }).click({ timeout: 2000 }).catch(() => {});
  await mkdir(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot });
  console.log(`e2e graphiql: screenshot ${screenshot}`);
} catch (err) {
  failure = failure || `screenshot: ${err.message}`;
}
await browser.close();

if (failure) fail(failure);
console.log('e2e graphiql: passed');
