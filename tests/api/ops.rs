//! Health, readiness, metrics and request ids.

use crate::db_tests;
use crate::helpers::TestApp;
use serde_json::json;

async fn health_metrics_and_request_ids(app: TestApp) {
    let get = |path: &'static str| app.http.get(app.url(path)).send();
    let r = get("/healthz").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(get("/readyz").await.unwrap().status().as_u16(), 200);

    // Every response carries a request id, refusals included; a caller's own is kept.
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let r = app.post_json(None, &json!({ "query": "{ viewer { role } }" })).await;
    assert_eq!(r.status, 401);
    assert!(r.headers.contains_key("x-request-id"));
    let r = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&ada.token)
        .header("x-request-id", "trace-me-123")
        .json(&json!({ "query": "query Viewer { viewer { role } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-123");

    app.gql(&ada.token, "query Viewer { viewer { role } }", json!({})).await.ok();
    app.gql(&ada.token, "query Missing { client(clientId: \"nosuch\") { id } }", json!({})).await;
    app.provision(&ada, "acme", "Acme").await;
    let text = get("/metrics").await.unwrap().text().await.unwrap();
    for needle in [
        // Known operations by name; anything else is `other` (no client text in labels).
        "partner_clients_graphql_requests_total{operation=\"Viewer\",code=\"OK\"} 2",
        "partner_clients_graphql_requests_total{operation=\"other\",code=\"NOT_FOUND\"} 1",
        "partner_clients_graphql_requests_total{operation=\"other\",code=\"UNAUTHENTICATED\"} 1",
        "partner_clients_graphql_request_duration_seconds_count{operation=\"Viewer\"} 2",
        "partner_clients_clients_provisioned_total 1",
        "partner_clients_db_pool_connections_idle",
        "partner_clients_db_statements_total",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

/// The opening tags named `name` (`<script …>`, `<link …>`) in an HTML page.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    html.match_indices(&open)
        .filter(|(i, _)| html[i + open.len()..].starts_with([' ', '>']))
        .map(|(i, _)| &html[i..i + html[i..].find('>').map_or(html.len() - i, |e| e + 1)])
        .collect()
}

/// The value of `attr="…"` in one opening tag.
fn attr<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let key = format!(" {attr}=\"");
    let start = tag.find(&key)? + key.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// The sources of one CSP directive (`script-src` → `['self', …]`).
fn directive<'a>(csp: &'a str, name: &str) -> Vec<&'a str> {
    csp.split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(name).filter(|rest| rest.is_empty() || rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no {name} in CSP {csp}"))
        .split_whitespace()
        .collect()
}

/// GraphiQL is where administrators paste tokens (DESIGN.md §7): it may not
/// be framed, runs no inline script, and loads CDN files only by integrity.
async fn graphiql_page_is_locked_down(app: TestApp) {
    let r = app.http.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers().clone();
    let header = |name: &str| h.get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap().to_owned();
    assert!(header("content-type").starts_with("text/html"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("x-frame-options"), "DENY");
    let csp = header("content-security-policy");
    assert_eq!(directive(&csp, "frame-ancestors"), ["'none'"]);
    assert_eq!(directive(&csp, "default-src"), ["'self'"]);
    assert_eq!(directive(&csp, "connect-src")[0], "'self'");
    assert_eq!(directive(&csp, "object-src"), ["'none'"]);
    assert_eq!(directive(&csp, "base-uri"), ["'none'"]);
    let scripts = directive(&csp, "script-src");
    let styles = directive(&csp, "style-src");
    for sources in [&scripts, &styles] {
        assert_eq!(sources[0], "'self'");
        for s in sources {
            assert!(!["'unsafe-inline'", "'unsafe-eval'", "*", "https:", "data:"].contains(s), "{s} in {csp}");
            assert!(!s.ends_with('/') && !s.ends_with('*'), "a whole host or folder allowed: {s} in {csp}");
        }
    }

    let html = r.text().await.unwrap();
    let script_tags = tags(&html, "script");
    let style_links: Vec<_> =
        tags(&html, "link").into_iter().filter(|t| attr(t, "rel") == Some("stylesheet")).collect();
    assert!(script_tags.len() >= 4 && style_links.len() >= 2, "{html}");
    assert!(tags(&html, "style").is_empty(), "inline <style> in {html}");
    assert!(!html.contains(" style="), "inline style attribute in {html}");
    let mut same_origin = Vec::new();
    for (tag, url_attr, allowed) in
        script_tags.iter().map(|t| (t, "src", &scripts)).chain(style_links.iter().map(|t| (t, "href", &styles)))
    {
        // No inline scripts: the bootstrap is a same-origin file.
        let url = attr(tag, url_attr).unwrap_or_else(|| panic!("inline script (no {url_attr}): {tag}"));
        if url.starts_with('/') && !url.starts_with("//") {
            same_origin.push(url.to_owned());
            continue;
        }
        let integrity = attr(tag, "integrity").unwrap_or_else(|| panic!("no integrity on {tag}"));
        assert!(integrity.starts_with("sha384-") && integrity.len() == 7 + 64, "{tag}");
        assert_eq!(attr(tag, "crossorigin"), Some("anonymous"), "{tag}");
        assert!(url.starts_with("https://"), "{tag}");
        assert!(allowed.contains(&url), "{url} is not allowed by {csp}");
    }

    // The same-origin helper files: real JavaScript / CSS, same headers.
    assert!(!same_origin.is_empty());
    for path in same_origin {
        let r = app.http.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let h = r.headers();
        let kind = if path.ends_with(".js") { "text/javascript" } else { "text/css" };
        assert!(h["content-type"].to_str().unwrap().starts_with(kind), "{path}: {:?}", h["content-type"]);
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let own = h["content-security-policy"].to_str().unwrap();
        assert_eq!(directive(own, "frame-ancestors"), ["'none'"], "{path}");
    }

    // JSON API answers are not sniffed either.
    let r = app.post_json(None, &json!({ "query": "{ viewer { role } }" })).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
}

db_tests!(health_metrics_and_request_ids, graphiql_page_is_locked_down);
