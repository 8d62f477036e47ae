// The GraphiQL page's bootstrap, served from the binary at /graphiql/boot.js
// (the page's Content-Security-Policy forbids inline script).
//
// Until a bearer token is in the Headers tab, GraphiQL gets `schema: null`:
// it sends no introspection (which the server would refuse) and shows no
// "Error fetching schema"; the hint above the editor says what to paste.
// When a token appears (or changes), GraphiQL gets a new fetcher and
// `schema: undefined`, and GraphiQL 3 re-runs its introspection whenever
// its fetcher changes, reading the Headers tab at that moment: the docs
// explorer and completion then work with no other click.
'use strict';

const PLACEHOLDER = '{"Authorization": "Bearer <paste token here>"}';
const hint = document.getElementById('hint');
const hintStatus = document.getElementById('hint-status');
const hintPaste = document.getElementById('hint-paste');

// state: 'paste' (no token yet), 'loading', 'refused' (with why), 'ready'.
function showHint(state, why) {
  hint.dataset.state = state;
  hint.hidden = state === 'ready';
  hintPaste.hidden = state === 'loading';
  hintStatus.textContent =
    state === 'loading'
      ? 'Loading the schema with your token…'
      : state === 'refused'
        ? `The server refused that token (${why}).`
        : '';
}

// The bearer token in the Headers tab's text, or null (no JSON yet, the
// placeholder, anything that is not `Bearer <token>`).
function bearer(text) {
  let headers;
  try {
    headers = JSON.parse(text || '{}');
  } catch {
    return null;
  }
  if (!headers || typeof headers !== 'object') return null;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === 'authorization');
  const value = key === undefined ? null : headers[key];
  const m = typeof value === 'string' && /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/.exec(value.trim());
  return m ? m[1] : null;
}

// Subscriptions run over a WebSocket on the same path (graphql-transport-ws);
// GraphiQL sends the Headers tab as connection_init's payload, so the pasted
// {"Authorization": "Bearer …"} authenticates it too.
const wsScheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
const http = GraphiQL.createFetcher({
  url: window.location.pathname,
  subscriptionUrl: `${wsScheme}//${window.location.host}${window.location.pathname}`,
});

// A fetcher per token: its identity is what makes GraphiQL introspect again.
// It also tells the hint whether the introspection was refused.
function fetcherFor(token) {
  return (params, options) => {
    const result = http(params, options);
    if (token && params.operationName === 'IntrospectionQuery') {
      result.then(
        (r) => {
          if (r && Array.isArray(r.errors) && r.errors.length) showHint('refused', r.errors[0].message);
        },
        (e) => showHint('refused', e && e.message ? e.message : String(e)),
      );
    }
    return result;
  };
}

const defaultQuery = `# Paste your token into the Headers tab first:
# {"Authorization": "Bearer <token>"}
query Viewer {
  viewer { user { displayName email } partner { name } role permissions { canProvisionClients canManageAssignments canViewContactDetails } }
}
`;

// Module-level, not a new closure per render: GraphiQL's introspection
// depends on this callback's identity and would run again on every render.
const onSchemaChange = () => showHint('ready');

function App() {
  const [token, setToken] = React.useState(null);
  const fetcher = React.useMemo(() => fetcherFor(token), [token]);
  const timer = React.useRef(null);
  // Typing a token fires a change per key: wait until the text settles
  // (a paste is one change) so that partial tokens are not sent.
  const onEditHeaders = React.useCallback((text) => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setToken(bearer(text)), 300);
  }, []);
  React.useEffect(() => showHint(token ? 'loading' : 'paste'), [token]);
  return React.createElement(GraphiQL, {
    fetcher,
    schema: token ? undefined : null,
    onSchemaChange,
    onEditHeaders,
    defaultQuery,
    defaultHeaders: PLACEHOLDER,
    defaultEditorToolsVisibility: 'headers',
    // Tokens stay out of localStorage.
    shouldPersistHeaders: false,
  });
}

ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(App));
