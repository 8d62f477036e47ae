//! GraphiQL's files, compiled into the binary so that the page works offline
//! and behind proxies that block CDNs.
//!
//! `assets/graphiql/` holds them gzip-compressed (about 1 MB instead of 4 MB;
//! `scripts/fetch-graphiql-assets.sh` writes it from the npm registry). Each
//! is served at a path naming its package and version, so a response can be
//! cached for a year (`immutable`): a new version is a new path. Clients that
//! accept gzip get the stored bytes as they are; the rare one that does not
//! (curl without `--compressed`, a proxy that strips `Accept-Encoding`) gets
//! them inflated on the fly. The `ETag` is the file's Subresource Integrity
//! value, with `.gz` appended for the compressed representation (the two
//! representations have different bytes, so they need different strong tags).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::io::Read;

/// One embedded file.
pub struct Asset {
    /// Its file name, in `assets/graphiql/` (plus `.gz`) and in a
    /// `--graphiql-assets` directory.
    pub file: &'static str,
    /// The npm package and version it comes from; part of its URL.
    pub package: &'static str,
    /// Subresource Integrity of the uncompressed file.
    pub integrity: &'static str,
    pub content_type: &'static str,
    /// The file, gzip-compressed.
    pub gz: &'static [u8],
}

impl Asset {
    /// Where the binary serves it.
    pub fn path(&self) -> String {
        format!("{PREFIX}/{}/{}", self.package, self.file)
    }
}

/// Where the embedded files live under the service's origin.
pub const PREFIX: &str = "/graphiql/vendor";

// The integrity values are of the files in the npm registry's tarballs,
// computed with
//   npm pack react@18.3.1 react-dom@18.3.1 graphiql@3.8.3   (then untar each)
//   openssl dgst -sha384 -binary FILE | openssl base64 -A
// for package/umd/react.production.min.js, package/umd/react-dom.production.min.js,
// package/graphiql.min.js and package/graphiql.min.css. Changing a version
// means rerunning scripts/fetch-graphiql-assets.sh with the new values (unit
// tests check that the script names the same values and that the embedded
// bytes inflate to files with these hashes).
pub const REACT: Asset = Asset {
    file: "react.production.min.js",
    package: "react@18.3.1",
    integrity: "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
    content_type: "text/javascript; charset=utf-8",
    gz: include_bytes!("../../../assets/graphiql/react.production.min.js.gz"),
};
pub const REACT_DOM: Asset = Asset {
    file: "react-dom.production.min.js",
    package: "react-dom@18.3.1",
    integrity: "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
    content_type: "text/javascript; charset=utf-8",
    gz: include_bytes!("../../../assets/graphiql/react-dom.production.min.js.gz"),
};
pub const GRAPHIQL_JS: Asset = Asset {
    file: "graphiql.min.js",
    package: "graphiql@3.8.3",
    integrity: "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    content_type: "text/javascript; charset=utf-8",
    gz: include_bytes!("../../../assets/graphiql/graphiql.min.js.gz"),
};
pub const GRAPHIQL_CSS: Asset = Asset {
    file: "graphiql.min.css",
    package: "graphiql@3.8.3",
    integrity: "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
    content_type: "text/css; charset=utf-8",
    gz: include_bytes!("../../../assets/graphiql/graphiql.min.css.gz"),
};
pub const ALL: [&Asset; 4] = [&REACT, &REACT_DOM, &GRAPHIQL_JS, &GRAPHIQL_CSS];

/// The three packages' MIT licences (the binary carries copies of their
/// files), served at [`LICENSES_PATH`].
pub const LICENSES: &str = concat!(
    "GraphiQL's files in this binary come from these npm packages.\n\n",
    "== react@18.3.1 ==\n\n",
    include_str!("../../../assets/graphiql/LICENSE.react"),
    "\n== react-dom@18.3.1 ==\n\n",
    include_str!("../../../assets/graphiql/LICENSE.react-dom"),
    "\n== graphiql@3.8.3 ==\n\n",
    include_str!("../../../assets/graphiql/LICENSE.graphiql"),
);
pub const LICENSES_PATH: &str = "/graphiql/vendor/LICENSES.txt";

/// The response for `asset`, given the request's headers.
pub async fn serve(asset: &'static Asset, request: HeaderMap) -> Response {
    let gzip = accepts_gzip(&request);
    let etag = if gzip { format!("\"{}.gz\"", asset.integrity) } else { format!("\"{}\"", asset.integrity) };
    let not_modified = if_none_match(&request, &etag);
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        asset.gz.into_response()
    } else {
        // Inflating graphiql.min.js takes a few tens of milliseconds: off the
        // async workers.
        match tokio::task::spawn_blocking(move || inflate(asset.gz)).await {
            Ok(Ok(body)) => body.into_response(),
            // Unreachable with the committed files (a unit test inflates
            // each), but never a panic in a request path.
            Ok(Err(e)) => return failed(asset, &e.to_string()),
            Err(e) => return failed(asset, &e.to_string()),
        }
    };
    let h = response.headers_mut();
    if !not_modified {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        if gzip {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    // The tag is built from base64 text and quotes: always a valid value.
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    // The same guards as the page's own files: not a document, never framed.
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(super::FILE_POLICY));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn failed(asset: &Asset, why: &str) -> Response {
    tracing::error!(file = asset.file, error = why, "cannot inflate an embedded GraphiQL file");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

pub fn inflate(gz: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(gz.len() * 5);
    flate2::read::GzDecoder::new(gz).read_to_end(&mut out)?;
    Ok(out)
}

/// Whether `Accept-Encoding` allows gzip: `gzip` or `x-gzip` with a
/// non-zero `q`, or else `*` with a non-zero `q` (RFC 9110 §12.5.3). No
/// header: identity, which every client understands.
pub fn accepts_gzip(request: &HeaderMap) -> bool {
    let (mut named, mut star) = (None, None);
    for value in request.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = Some(1.0_f32);
            for param in parts {
                if let Some((k, v)) = param.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("q") {
                        q = v.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q));
                    }
                }
            }
            // An unreadable q value makes the item void rather than a yes.
            let Some(q) = q else { continue };
            match coding.as_str() {
                "gzip" | "x-gzip" => named = Some(named.map_or(q, |n: f32| n.max(q))),
                "*" => star = Some(q),
                _ => {}
            }
        }
    }
    named.or(star).is_some_and(|q| q > 0.0)
}

/// Whether `If-None-Match` lists `etag` (weak comparison, as RFC 9110
/// §13.1.2 asks for this header) or is `*`.
fn if_none_match(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag))
}
