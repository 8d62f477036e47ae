//! The GraphiQL page served to browsers at `GET /graphql`, and its two small
//! same-origin helper files.
//!
//! Administrators paste bearer tokens into this page, so it is locked down
//! (DESIGN.md §7): a Content-Security-Policy that forbids framing and inline
//! script and style, allows scripts and styles only from this origin or the
//! exact pinned CDN files, and sends requests only to this origin; the CDN
//! tags carry Subresource Integrity hashes so a changed file is not run.
//!
//! The page's own bootstrap script and style are served from
//! [`BOOT_JS`]/[`BOOT_CSS`] rather than inlined and allowed by a hash: they
//! are static text, so a same-origin file keeps the policy to `'self'` plus
//! the CDN files, needs no hash to be recomputed and kept in sync when the
//! bootstrap changes, and leaves every inline script forbidden.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The bootstrap script: creates GraphiQL once the CDN/local files ran.
pub const BOOT_JS: &str = "/graphiql/boot.js";
/// The page's own few style rules.
pub const BOOT_CSS: &str = "/graphiql/boot.css";

/// One file the page loads from the CDN or from `--graphiql-assets`.
struct Asset {
    /// Its URL on unpkg (which serves the npm tarball's bytes).
    cdn: &'static str,
    /// Its name in the `--graphiql-assets` directory.
    local: &'static str,
    /// Subresource Integrity of the file.
    integrity: &'static str,
}

// The integrity values are of the files in the npm registry's tarballs, which
// unpkg serves byte for byte, computed with
//   npm pack react@18.3.1 react-dom@18.3.1 graphiql@3.8.3   (then untar each)
//   openssl dgst -sha384 -binary FILE | openssl base64 -A
// for package/umd/react.production.min.js, package/umd/react-dom.production.min.js,
// package/graphiql.min.js and package/graphiql.min.css. Changing a version
// means recomputing them; scripts/fetch-graphiql-assets.sh checks the same
// values (a unit test below keeps the two lists equal).
const REACT: Asset = Asset {
    cdn: "https://unpkg.com/react@18.3.1/umd/react.production.min.js",
    local: "react.production.min.js",
    integrity: "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
};
const REACT_DOM: Asset = Asset {
    cdn: "https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js",
    local: "react-dom.production.min.js",
    integrity: "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
};
const GRAPHIQL_JS: Asset = Asset {
    cdn: "https://unpkg.com/graphiql@3.8.3/graphiql.min.js",
    local: "graphiql.min.js",
    integrity: "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
};
const GRAPHIQL_CSS: Asset = Asset {
    cdn: "https://unpkg.com/graphiql@3.8.3/graphiql.min.css",
    local: "graphiql.min.css",
    integrity: "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
};
/// Scripts in the order the page runs them (the bootstrap comes last).
const SCRIPTS: [&Asset; 3] = [&REACT, &REACT_DOM, &GRAPHIQL_JS];

/// The policy of the page. `local`: the files come from `/graphiql-assets/`
/// (this origin), so no CDN is allowed at all.
fn page_policy(local: bool) -> String {
    let (mut scripts, mut styles) = (String::from("'self'"), String::from("'self'"));
    if !local {
        // The exact file URLs (not the whole host), and their hashes, which
        // browsers implementing CSP 3 also match against `integrity`.
        for a in SCRIPTS {
            scripts += &format!(" {} '{}'", a.cdn, a.integrity);
        }
        styles += &format!(" {}", GRAPHIQL_CSS.cdn);
    }
    // GraphiQL's stylesheet embeds its fonts and icons as data: URLs.
    // Inline style stays forbidden on purpose: the only inline style GraphiQL
    // 3.8.3 adds is react-remove-scroll's <style> when a dialog opens
    // (settings, short keys); the browser blocks it and logs a violation,
    // and the dialog still works (the page never scrolls anyway). Its text
    // depends on the scrollbar width, so no fixed hash could allow it.
    format!(
        "default-src 'self'; script-src {scripts}; style-src {styles}; font-src 'self' data:; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
}

/// The helper files are not documents; this only keeps them unframeable.
const HELPER_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// A response with the page's security headers.
fn locked_down(content_type: &'static str, policy: &str, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // A policy is built from the constants above, so it is always a valid
    // header value; a failure would only drop the header, never panic.
    if let Ok(v) = HeaderValue::from_str(policy) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // For browsers older than `frame-ancestors`.
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Tokens are typed into this page; keep it out of shared caches.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The GraphiQL page response, its files from this service's
/// `/graphiql-assets/` when `local`, otherwise from the public CDN.
pub fn page(local: bool) -> Response {
    locked_down("text/html; charset=utf-8", &page_policy(local), page_html(local))
}

/// The routes of the helper files, merged into the main router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let helper = |content_type: &'static str, body: &'static str| {
        move || async move {
            // Unlike the page, these hold no secrets; an hour of caching
            // is fine for a few lines that change only with a release.
            let mut r = locked_down(content_type, HELPER_POLICY, body);
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
            r
        }
    };
    Router::new()
        .route(BOOT_JS, get(helper("text/javascript; charset=utf-8", BOOT_JS_BODY)))
        .route(BOOT_CSS, get(helper("text/css; charset=utf-8", BOOT_CSS_BODY)))
}

fn page_html(local: bool) -> String {
    let url = |a: &Asset| if local { format!("/graphiql-assets/{}", a.local) } else { a.cdn.to_owned() };
    // Same-origin files carry `integrity` too: the fetch script installs
    // exactly these versions, and a different file should not run silently.
    let sri = |a: &Asset| format!(r#"integrity="{}" crossorigin="anonymous""#, a.integrity);
    let mut scripts = String::new();
    for a in SCRIPTS {
        scripts += &format!("  <script src=\"{}\" {}></script>\n", url(a), sri(a));
    }
    scripts += &format!("  <script src=\"{BOOT_JS}\"></script>\n");
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>partner-clients · GraphiQL</title>
  <link rel="stylesheet" href="{css}" {css_sri}>
  <link rel="stylesheet" href="{BOOT_CSS}">
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
{scripts}</body>
</html>
"#,
        css = url(&GRAPHIQL_CSS),
        css_sri = sri(&GRAPHIQL_CSS),
    )
}

const BOOT_CSS_BODY: &str = "body { margin: 0; height: 100vh; }\n#graphiql { height: 100vh; }\n";

const BOOT_JS_BODY: &str = r#"// Paste a token from `partner-clients token --email …` (or the demo
// banner) into the Headers tab below: {"Authorization": "Bearer <token>"}
const fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
const defaultQuery = `# Paste your token into the Headers tab first:
# {"Authorization": "Bearer <token>"}
query Viewer {
  viewer { user { displayName email } partner { name } role permissions { canProvisionClients canManageAssignments canViewContactDetails } }
}
`;
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery,
    defaultHeaders: '{"Authorization": "Bearer <paste token here>"}',
    defaultEditorToolsVisibility: 'headers',
    // Tokens stay out of localStorage.
    shouldPersistHeaders: false,
  })
);
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_page_loads_nothing_from_elsewhere() {
        let html = page_html(true);
        assert!(!html.contains("https://"), "{html}");
        assert_eq!(html.matches("integrity=\"sha384-").count(), 4);
        let policy = page_policy(true);
        assert!(!policy.contains("https://") && policy.contains("script-src 'self';"), "{policy}");
    }

    /// The fetch script checks the files it installs against the same
    /// hashes, so a local-assets page never fails its own integrity check.
    #[test]
    fn fetch_script_checks_the_same_hashes() {
        let script = include_str!("../../scripts/fetch-graphiql-assets.sh");
        for a in [&REACT, &REACT_DOM, &GRAPHIQL_JS, &GRAPHIQL_CSS] {
            let line = format!("{} {}", a.local, a.integrity);
            assert!(script.contains(&line), "fetch-graphiql-assets.sh lacks `{line}`");
            // The CDN URL's package@version is the one the script packs.
            let pkg = a.cdn.trim_start_matches("https://unpkg.com/").split('/').next().unwrap_or("");
            assert!(script.contains(&format!("={pkg}\n")), "fetch-graphiql-assets.sh does not pack {pkg}");
        }
    }
}
