use super::embedded::{accepts_gzip, inflate, ALL};
use super::*;
use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use sha2::Digest;
use tower::ServiceExt;

#[test]
fn the_page_loads_only_from_this_origin() {
    for overridden in [false, true] {
        let html = page_html(overridden);
        assert!(!html.contains("https://") && !html.contains("http://"), "{html}");
        assert_eq!(html.matches("integrity=\"sha384-").count(), 4, "{html}");
        let prefix = if overridden { "/graphiql-assets/" } else { "/graphiql/vendor/graphiql@3.8.3/" };
        assert!(html.contains(&format!("src=\"{prefix}graphiql.min.js\"")), "{html}");
    }
    assert!(PAGE_POLICY.contains("script-src 'self';") && !PAGE_POLICY.contains("http"), "{PAGE_POLICY}");
}

/// The page may open a WebSocket to the host it came from, and nowhere else.
#[test]
fn the_page_may_open_a_websocket_to_its_own_host_only() {
    let policy = |host| page_policy(host).to_str().unwrap().to_owned();
    let own = policy(Some("clients.example:8443"));
    assert!(own.contains("connect-src 'self' ws://clients.example:8443 wss://clients.example:8443;"), "{own}");
    assert_eq!(own.replace(" ws://clients.example:8443 wss://clients.example:8443", ""), PAGE_POLICY);
    assert!(policy(Some("[::1]:8080")).contains("ws://[::1]:8080 "));
    for hostile in [None, Some(""), Some("evil.example; script-src *"), Some("a b"), Some("*")] {
        assert_eq!(policy(hostile), PAGE_POLICY, "{hostile:?}");
    }
    assert!(BOOT_JS_BODY.contains("subscriptionUrl"), "GraphiQL's fetcher gets the WebSocket URL");
}

/// The bootstrap finds the elements it drives.
#[test]
fn the_bootstrap_and_the_page_agree_on_element_ids() {
    let html = page_html(false);
    for id in ["graphiql", "hint", "hint-status", "hint-paste"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "the page has no #{id}");
        assert!(BOOT_JS_BODY.contains(&format!("getElementById('{id}')")), "boot.js does not use #{id}");
    }
}

/// The fetch script checks the files it installs against the same hashes,
/// so a page never fails its own integrity check.
#[test]
fn fetch_script_checks_the_same_hashes() {
    let script = include_str!("../../../scripts/fetch-graphiql-assets.sh");
    for a in ALL {
        let line = format!("{} {}", a.file, a.integrity);
        assert!(script.contains(&line), "fetch-graphiql-assets.sh lacks `{line}`");
        assert!(script.contains(&format!("={}\n", a.package)), "fetch-graphiql-assets.sh does not pack {}", a.package);
    }
}

/// What the binary embeds is what the page's `integrity` attributes name.
#[test]
fn embedded_files_inflate_to_their_integrity() {
    for a in ALL {
        let file = inflate(a.gz).unwrap();
        let sri = format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(&file)));
        assert_eq!(sri, a.integrity, "{}", a.file);
    }
}

#[test]
fn gzip_is_accepted_as_rfc_9110_says() {
    let cases = [
        (None, false),
        (Some("gzip"), true),
        (Some("deflate, gzip;q=0.5, br"), true),
        (Some("GZIP"), true),
        (Some("x-gzip"), true),
        (Some("br, *"), true),
        (Some("gzip;q=0"), false),
        (Some("gzip;q=0, *"), false),
        (Some("*;q=0"), false),
        (Some("identity"), false),
        (Some("br"), false),
        (Some("gzip;q=nonsense"), false),
        (Some(""), false),
    ];
    for (value, want) in cases {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
        }
        assert_eq!(accepts_gzip(&h), want, "Accept-Encoding: {value:?}");
    }
}

async fn get(path: &str, headers: &[(&'static str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = routes::<()>().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts.status, parts.headers, axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec())
}

fn hv<'a>(h: &'a HeaderMap, name: header::HeaderName) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn embedded_files_are_served_compressed_cached_and_revalidated() {
    let a = &GRAPHIQL_JS;
    let path = "/graphiql/vendor/graphiql@3.8.3/graphiql.min.js";
    assert_eq!(a.path(), path);

    let (status, h, body) = get(path, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hv(&h, header::CONTENT_ENCODING), "gzip");
    assert_eq!(hv(&h, header::CONTENT_TYPE), "text/javascript; charset=utf-8");
    assert_eq!(hv(&h, header::CACHE_CONTROL), "public, max-age=31536000, immutable");
    assert_eq!(hv(&h, header::VARY), "accept-encoding");
    let gz_tag = format!("\"{}.gz\"", a.integrity);
    assert_eq!(hv(&h, header::ETAG), gz_tag);
    assert_eq!(hv(&h, header::CONTENT_SECURITY_POLICY), FILE_POLICY);
    assert_eq!(body, a.gz);

    // No gzip: the same file inflated, under its own tag.
    let (status, h, body) = get(path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h.get(header::CONTENT_ENCODING).is_none());
    let tag = format!("\"{}\"", a.integrity);
    assert_eq!(hv(&h, header::ETAG), tag);
    assert_eq!(body, inflate(a.gz).unwrap());
    assert_eq!(hv(&h, header::CACHE_CONTROL), "public, max-age=31536000, immutable");

    // Revalidation: 304 for the representation's own tag only.
    let (status, h, body) = get(path, &[("accept-encoding", "gzip"), ("if-none-match", &gz_tag)]).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
    assert_eq!(hv(&h, header::ETAG), gz_tag);
    let (status, ..) = get(path, &[("if-none-match", &format!("\"x\", W/{tag}"))]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, ..) = get(path, &[("if-none-match", &gz_tag)]).await;
    assert_eq!(status, StatusCode::OK, "a gzip tag does not validate the plain file");

    for a in ALL {
        let (status, ..) = get(&a.path(), &[("accept-encoding", "gzip")]).await;
        assert_eq!(status, StatusCode::OK, "{}", a.path());
    }
}

#[tokio::test]
async fn own_files_and_licences_are_revalidated_by_tag() {
    for (path, needle) in [(BOOT_JS, "createRoot"), (BOOT_CSS, "#hint"), (embedded::LICENSES_PATH, "MIT License")] {
        let (status, h, body) = get(path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(String::from_utf8(body).unwrap().contains(needle), "{path}");
        assert_eq!(hv(&h, header::CACHE_CONTROL), "no-cache");
        assert_eq!(hv(&h, header::CONTENT_SECURITY_POLICY), FILE_POLICY);
        let tag = hv(&h, header::ETAG).to_owned();
        assert!(tag.len() > 2, "{path} has no ETag");
        let (status, _, body) = get(path, &[("if-none-match", &tag)]).await;
        assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0), "{path}");
    }
    let (_, _, body) = get(embedded::LICENSES_PATH, &[]).await;
    assert_eq!(String::from_utf8(body).unwrap().matches("MIT License").count(), 3);
}
