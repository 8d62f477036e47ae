//! The GraphiQL page served to browsers at `GET /graphql`, and the files it
//! loads, all from this origin.
//!
//! GraphiQL's own files (React, ReactDOM, GraphiQL's script and stylesheet)
//! are compiled into the binary ([`embedded`]), so the page works offline
//! and behind proxies; `--graphiql-assets DIR` serves them from a directory
//! instead (`/graphiql-assets/`, filled by `scripts/fetch-graphiql-assets.sh
//! DIR`). There is no CDN mode any more: a page that needs the network to
//! show an editor for a local service failed exactly where it is needed.
//!
//! Administrators paste bearer tokens into this page, so it is locked down
//! (DESIGN.md §7): a Content-Security-Policy that forbids framing, inline
//! script and inline style, and allows scripts, styles and requests only
//! from this origin; the script and style tags carry Subresource Integrity
//! hashes as well, so a different file (a stale `--graphiql-assets`
//! directory, a tampering proxy) is not run.
//!
//! The page's bootstrap script and style ([`BOOT_JS`], [`BOOT_CSS`]) are
//! same-origin files rather than inline code allowed by a hash: a hash would
//! have to be recomputed whenever the bootstrap changes, and with none the
//! policy forbids every inline script.

mod embedded;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use embedded::{Asset, GRAPHIQL_CSS, GRAPHIQL_JS, REACT, REACT_DOM};

/// The bootstrap script: creates GraphiQL once its files ran.
pub const BOOT_JS: &str = "/graphiql/boot.js";
/// The page's own few style rules.
pub const BOOT_CSS: &str = "/graphiql/boot.css";
const BOOT_JS_BODY: &str = include_str!("graphiql/boot.js");
const BOOT_CSS_BODY: &str = include_str!("graphiql/boot.css");

/// Scripts in the order the page runs them (the bootstrap comes last).
const SCRIPTS: [&Asset; 3] = [&REACT, &REACT_DOM, &GRAPHIQL_JS];

/// The policy of the page: everything from this origin only. GraphiQL's
/// stylesheet embeds its fonts and icons as data: URLs.
///
/// Inline style stays forbidden on purpose: the only inline style GraphiQL
/// 3.8.3 adds is react-remove-scroll's `<style>` when a dialog opens
/// (settings, short keys); the browser blocks it and logs a violation, and
/// the dialog still works (the page never scrolls anyway). Its text depends
/// on the scrollbar width, so no fixed hash could allow it.
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; font-src 'self' data:; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The files are not documents; this only keeps them unframeable.
const FILE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// A response with the page's security headers.
fn locked_down(content_type: &'static str, policy: &'static str, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // For browsers older than `frame-ancestors`.
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Tokens are typed into this page; keep it out of shared caches.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The GraphiQL page response, its files from the binary, or from the
/// `--graphiql-assets` directory (`/graphiql-assets/`) when `overridden`.
/// `host`: the request's `Host`, which the page's WebSocket goes to.
pub fn page(overridden: bool, host: Option<&str>) -> Response {
    let mut response = locked_down("text/html; charset=utf-8", PAGE_POLICY, page_html(overridden));
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, page_policy(host));
    response
}

/// [`PAGE_POLICY`], letting the page open a WebSocket to the host it came
/// from: GraphiQL runs subscriptions over `ws(s)://<host>/graphql`. Only
/// CSP Level 3 browsers count `ws:` as `'self'`; naming the host works in
/// every one. A `Host` that is not a plain `host[:port]` gets the policy
/// without it (no subscriptions from that page; nothing else changes).
fn page_policy(host: Option<&str>) -> HeaderValue {
    let plain = |h: &&str| {
        !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    };
    let with_ws = host
        .filter(plain)
        .map(|h| PAGE_POLICY.replacen("connect-src 'self'", &format!("connect-src 'self' ws://{h} wss://{h}"), 1));
    with_ws.and_then(|p| HeaderValue::from_str(&p).ok()).unwrap_or(HeaderValue::from_static(PAGE_POLICY))
}

/// The routes of the page's files, merged into the main router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new()
        .route(BOOT_JS, get(|h: HeaderMap| async move { own_file("text/javascript; charset=utf-8", BOOT_JS_BODY, &h) }))
        .route(BOOT_CSS, get(|h: HeaderMap| async move { own_file("text/css; charset=utf-8", BOOT_CSS_BODY, &h) }))
        .route(
            embedded::LICENSES_PATH,
            get(|h: HeaderMap| async move { own_file("text/plain; charset=utf-8", embedded::LICENSES, &h) }),
        );
    for asset in embedded::ALL {
        r = r.route(&asset.path(), get(move |h: HeaderMap| embedded::serve(asset, h)));
    }
    r
}

/// One of the page's own small files. They change with a release but their
/// paths do not, so caches must ask each time: `no-cache` with an `ETag`
/// (a hash of the text), answered by a 304 when unchanged.
fn own_file(content_type: &'static str, body: &'static str, request: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", fnv1a(body.as_bytes()));
    let fresh = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag));
    let mut r = if fresh {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        r.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        r
    } else {
        locked_down(content_type, FILE_POLICY, body)
    };
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Hex digits and quotes: always a valid header value.
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// FNV-1a, 64 bits: a content tag for [`own_file`], not a security hash.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn page_html(overridden: bool) -> String {
    let url = |a: &Asset| if overridden { format!("/graphiql-assets/{}", a.file) } else { a.path() };
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
  <p id="hint" role="status" data-state="paste"><span id="hint-status"></span>
    <span id="hint-paste">To use the API, paste <code>{{"Authorization": "Bearer &lt;token&gt;"}}</code>
    into the <b>Headers</b> tab below, with a token from
    <code>partner-clients token --email you@example.com</code> (or the <code>serve --demo</code> banner).
    The schema, the docs and completion load as soon as it is in.</span></p>
  <div id="graphiql">Loading GraphiQL… (if this stays, its scripts did not load: see the browser console)</div>
{scripts}</body>
</html>
"#,
        css = url(&GRAPHIQL_CSS),
        css_sri = sri(&GRAPHIQL_CSS),
    )
}

#[cfg(test)]
mod tests;
