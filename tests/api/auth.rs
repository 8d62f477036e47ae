//! Authentication and account rules (DESIGN.md §3, §6 "Tokens").

use crate::db_tests;
use crate::helpers::{spawn_with, Backend, Options, TestApp, TEST_SECRET};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use uuid::Uuid;

const VIEWER: &str =
    "{ viewer { role user { email } permissions { canProvisionClients canManageAssignments canViewContactDetails } } }";
const PROVISION: &str = "mutation($i: ProvisionClientInput!) { provisionClient(input: $i) { created } }";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn hs256(claims: Value, secret: &str) -> String {
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

/// Assert the one UNAUTHENTICATED answer: HTTP 401, GraphQL-shaped body.
async fn assert_401(app: &TestApp, token: Option<&str>, why: &str) {
    let r = app.post_json(token, &json!({ "query": VIEWER })).await;
    assert_eq!(r.status, 401, "{why}: {:#}", r.body);
    assert_eq!(r.codes(), vec!["UNAUTHENTICATED"], "{why}");
    assert_eq!(r.body["data"], Value::Null, "{why}");
    assert_eq!(
        r.errors()[0]["message"],
        "authentication required: send a valid bearer token",
        "{why}: every refusal has the same message"
    );
}

async fn bad_tokens_are_all_the_same_401(app: TestApp) {
    let p = app.partner("alpha").await;
    let admin = app.admin_of(&p, "ada").await;
    let sub = admin.id.to_string();
    let good = json!({ "sub": sub, "exp": now() + 600 });

    // Sanity: a well-formed token works.
    assert_eq!(
        app.gql(&hs256(good.clone(), TEST_SECRET), VIEWER, json!({})).await.ok()["viewer"]["role"],
        "PARTNER_ADMIN"
    );

    assert_401(&app, None, "missing").await;
    assert_401(&app, Some("not-a-jwt"), "malformed").await;
    assert_401(&app, Some(""), "empty").await;
    assert_401(&app, Some(&hs256(good.clone(), "another-secret-another-secret-0123456")), "forged").await;
    assert_401(&app, Some(&hs256(json!({ "sub": sub, "exp": now() - 120 }), TEST_SECRET)), "expired").await;
    assert_401(&app, Some(&hs256(json!({ "sub": sub }), TEST_SECRET)), "missing exp").await;
    assert_401(&app, Some(&hs256(json!({ "sub": sub, "exp": (now() + 600).to_string() }), TEST_SECRET)), "string exp")
        .await;
    assert_401(
        &app,
        Some(&hs256(json!({ "sub": sub, "exp": now() + 600, "nbf": now() + 300 }), TEST_SECRET)),
        "future nbf",
    )
    .await;
    assert_401(
        &app,
        Some(&hs256(json!({ "sub": sub, "exp": now() + 600, "scope": 7 }), TEST_SECRET)),
        "mistyped scope",
    )
    .await;
    assert_401(
        &app,
        Some(&hs256(json!({ "sub": Uuid::new_v4().to_string(), "exp": now() + 600 }), TEST_SECRET)),
        "unknown user",
    )
    .await;
    assert_401(&app, Some(&hs256(json!({ "sub": "not-a-uuid", "exp": now() + 600 }), TEST_SECRET)), "non-uuid sub")
        .await;

    // alg: none, unsigned.
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!("{}.{}.", b64(&json!({ "alg": "none", "typ": "JWT" })), b64(&good));
    assert_401(&app, Some(&none), "alg none").await;
    // The right key under another HMAC algorithm: the algorithm is pinned.
    let hs512 =
        encode(&Header::new(Algorithm::HS512), &good, &EncodingKey::from_secret(TEST_SECRET.as_bytes())).unwrap();
    assert_401(&app, Some(&hs512), "algorithm swap").await;

    // Within the 30 s leeway, expired and not-yet-valid tokens still work.
    let r = app
        .gql(&hs256(json!({ "sub": sub, "exp": now() - 10, "nbf": now() + 10 }), TEST_SECRET), VIEWER, json!({}))
        .await;
    assert_eq!(r.ok()["viewer"]["role"], "PARTNER_ADMIN");

    // Every 401 names the scheme.
    let r = app.post_json(None, &json!({ "query": VIEWER })).await;
    assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
}

async fn refused_accounts_are_forbidden_before_any_resolver(app: TestApp) {
    let p = app.partner("alpha").await;
    let customer = app.user(None, "cust", "customer_admin").await;
    let customer_user = app.user(None, "custu", "customer_user").await;
    let staff = app.user(None, "staff", "aidial_staff").await;
    let ghost = app.member_of(&p, "ghost").await;
    partner_clients::ops::admin::deactivate_user(&app.db, &ghost.email).await.unwrap();

    for (who, u) in [
        ("customer_admin", &customer),
        ("customer_user", &customer_user),
        ("aidial_staff", &staff),
        ("inactive", &ghost),
    ] {
        let before = app.statements().await;
        let r = app.gql(&u.token, "{ clients { totalCount nodes { clientId } } }", json!({})).await;
        let after = app.statements().await;
        assert_eq!(r.status, 403, "{who}: {:#}", r.body);
        assert_eq!(r.codes(), vec!["FORBIDDEN"], "{who}");
        assert_eq!(r.body["data"], Value::Null, "{who}");
        // Only the principal lookup ran: no resolver read data.
        assert_eq!(after - before, 1, "{who}: statements run for a refused account");
    }
    // On PostgreSQL a query's lookup also began its read transaction, with
    // settings from the refused row: it was rolled back, not left open on a
    // pooled connection.
    if app.backend == crate::helpers::Backend::Postgres {
        use sea_orm::ConnectionTrait;
        let open = "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                    AND state LIKE 'idle in transaction%'";
        let mut n = -1;
        for _ in 0..50 {
            let row = app.db.query_one_raw(sea_orm::Statement::from_string(app.db.get_database_backend(), open));
            n = row.await.unwrap().unwrap().try_get::<i64>("", "n").unwrap();
            if n == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        }
        assert_eq!(n, 0, "transactions left open after refusals");
    }
}

async fn principal_comes_from_the_database_not_the_token(app: TestApp) {
    let p = app.partner("alpha").await;
    let member = app.member_of(&p, "ben").await;
    // Claims that try to widen: ignored, the users table decides.
    let token = hs256(
        json!({ "sub": member.id.to_string(), "exp": now() + 600, "role": "partner_admin", "partner_id": Uuid::new_v4() }),
        TEST_SECRET,
    );
    let d = app.gql(&token, VIEWER, json!({})).await;
    assert_eq!(d.ok()["viewer"]["role"], "PARTNER_USER");
    assert_eq!(d.ok()["viewer"]["permissions"]["canViewContactDetails"], false);
    // Deactivation takes effect on the next request, with the same token.
    partner_clients::ops::admin::deactivate_user(&app.db, &member.email).await.unwrap();
    assert_eq!(app.gql(&token, VIEWER, json!({})).await.codes(), vec!["FORBIDDEN"]);
}

async fn read_only_scope_narrows_an_admin(app: TestApp) {
    let p = app.partner("alpha").await;
    let admin = app.admin_of(&p, "ada").await;
    let ro = app.read_only_token_for(admin.id);
    let d = app.gql(&ro, VIEWER, json!({})).await;
    assert_eq!(
        d.ok()["viewer"]["permissions"],
        json!({ "canProvisionClients": false, "canManageAssignments": false, "canViewContactDetails": true })
    );
    let r = app.gql(&ro, PROVISION, json!({ "i": crate::helpers::client_input("acme", "Acme") })).await;
    assert_eq!(r.codes(), vec!["FORBIDDEN"]);
    assert_eq!(r.data(), &Value::Null);
    // Nothing was written.
    let r = app.gql(&admin.token, "{ clients { totalCount } }", json!({})).await;
    assert_eq!(r.ok()["clients"]["totalCount"], 0);
    // A full token still writes.
    let r = app.gql(&admin.token, PROVISION, json!({ "i": crate::helpers::client_input("acme", "Acme") })).await;
    assert_eq!(r.ok()["provisionClient"]["created"], true);
}

db_tests!(
    bad_tokens_are_all_the_same_401,
    refused_accounts_are_forbidden_before_any_resolver,
    principal_comes_from_the_database_not_the_token,
    read_only_scope_narrows_an_admin,
);

/// Issuer and audience are required when configured.
#[tokio::test]
async fn issuer_and_audience_are_enforced_when_configured() {
    let mut opts = Options::default();
    opts.jwt.jwt_issuer = Some("https://auth.aidial.example".into());
    opts.jwt.jwt_audience = Some("partner-clients".into());
    let app = spawn_with(Backend::Sqlite, opts).await.unwrap();
    let p = app.partner("alpha").await;
    let admin = app.admin_of(&p, "ada").await;
    let sub = admin.id.to_string();
    let exp = now() + 600;
    // The app's own tokens carry both claims.
    assert_eq!(app.gql(&admin.token, VIEWER, json!({})).await.ok()["viewer"]["role"], "PARTNER_ADMIN");
    for (why, claims) in [
        ("no iss/aud", json!({ "sub": sub, "exp": exp })),
        ("wrong iss", json!({ "sub": sub, "exp": exp, "iss": "https://evil.example", "aud": "partner-clients" })),
        ("wrong aud", json!({ "sub": sub, "exp": exp, "iss": "https://auth.aidial.example", "aud": "other" })),
        ("missing aud", json!({ "sub": sub, "exp": exp, "iss": "https://auth.aidial.example" })),
    ] {
        assert_401(&app, Some(&hs256(claims, TEST_SECRET)), why).await;
    }
}

/// With an RS256 key configured, an HS256 token signed with the public key
/// as its secret (the classic algorithm-confusion attack) is refused.
#[tokio::test]
async fn rs256_config_refuses_hs256_confusion() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut opts = Options::default();
    opts.jwt = partner_clients::config::JwtArgs {
        jwt_public_key_file: Some(format!("{dir}/rs256-public.pem").into()),
        jwt_private_key_file: Some(format!("{dir}/rs256-private.pem").into()),
        ..Default::default()
    };
    let app = spawn_with(Backend::Sqlite, opts).await.unwrap();
    let p = app.partner("alpha").await;
    let admin = app.admin_of(&p, "ada").await;
    // Properly signed RS256 works.
    assert_eq!(app.gql(&admin.token, VIEWER, json!({})).await.ok()["viewer"]["role"], "PARTNER_ADMIN");
    let public_pem = std::fs::read_to_string(format!("{dir}/rs256-public.pem")).unwrap();
    let confused = hs256(json!({ "sub": admin.id.to_string(), "exp": now() + 600 }), &public_pem);
    assert_401(&app, Some(&confused), "HS256 signed with the RSA public key").await;
}
