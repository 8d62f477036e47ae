//! Hostile input, limits, rate limits, timeouts, panics and database
//! outages (DESIGN.md §6): every refusal is a clear, coded error.

use crate::db_tests;
use crate::helpers::{spawn_with, Backend, Options, TestApp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn admin(app: &TestApp) -> crate::helpers::UserFx {
    let p = app.partner("alpha").await;
    app.admin_of(&p, "ada").await
}

async fn raw_post(app: &TestApp, token: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let r = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.text().await.unwrap()).unwrap())
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"].as_str().unwrap_or("<none>")
}

async fn classic_attack_probes(app: TestApp) {
    let ada = admin(&app).await;
    let t = &ada.token;
    let refused = |r: &crate::helpers::Gql, what: &str| {
        assert_eq!(r.codes(), ["GRAPHQL_VALIDATION_FAILED"], "{what}: {:#}", r.body);
        assert_eq!(r.body["data"], Value::Null, "{what}: nothing executed");
    };

    // Alias overloading: 30 aliases pass, 31 are refused.
    let aliases = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n).map(|i| format!("a{i}: escalationBoundaries {{ kind }}")).collect::<Vec<_>>().join(" ")
        )
    };
    app.gql(t, &aliases(30), json!({})).await.ok();
    refused(&app.gql(t, &aliases(31), json!({})).await, "31 aliases");

    // Field duplication: merged by GraphQL, but still costed.
    let dup = format!("{{ viewer {{ {} }} }}", "role ".repeat(1500));
    refused(&app.gql(t, &dup, json!({})).await, "duplicated fields");

    // Directive overloading.
    let dirs = |n: usize| format!("{{ viewer {{ {} }} }}", "role @include(if: true) ".repeat(n));
    app.gql(t, &dirs(10), json!({})).await.ok();
    refused(&app.gql(t, &dirs(11), json!({})).await, "11 directives");

    // Circular introspection and deep nesting.
    let circular = "{ __schema { types { fields { type { fields { type { fields { type { fields { type { name } } } } } } } } } } }";
    refused(&app.gql(t, circular, json!({})).await, "circular introspection");
    // GraphiQL's own introspection query (graphql-js getIntrospectionQuery)
    // is 13 levels deep and must work.
    let r = app.gql(t, INTROSPECTION_QUERY, json!({})).await;
    assert!(r.ok()["__schema"]["types"].as_array().unwrap().len() > 20);
    // Circular introspection through other fan-out fields.
    let circular2 = "{ __schema { types { possibleTypes { possibleTypes { name } } } } }";
    refused(&app.gql(t, circular2, json!({})).await, "circular possibleTypes");

    // The deepest real path (8 levels) is fine when cheap.
    let deep = "{ clients(first: 1) { edges { node { auditEvents(first: 1) { edges { node { actor { id } } } } } } } }";
    app.gql(t, deep, json!({})).await.ok();

    // Complexity: a connection costs first × its per-item selection, plus
    // its connection-level fields once: a full page of 100 fits.
    let page = "{ clients(first: 100) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id clientId businessName status } } } }";
    app.gql(t, page, json!({})).await.ok();
    let page_var = "query($n: Int) { clients(first: $n) { nodes { clientId businessName webDomain timezone status contactName businessEmail createdAt updatedAt supportContactRequired } } }";
    app.gql(t, page_var, json!({ "n": 80 })).await.ok();
    refused(&app.gql(t, page_var, json!({ "n": 100 })).await, "complexity via a variable");
    let costly = "{ clients(first: 100) { nodes { clientId businessName webDomain timezone status contactName businessEmail createdAt updatedAt supportContactRequired assignments { supportContact } } } }";
    refused(&app.gql(t, costly, json!({})).await, "complexity");

    // Oversized document (15,000 characters) and body (64 KiB).
    let padding = format!("{{ viewer {{ role }} }} #{}", "x".repeat(15_000));
    let r = app.gql(t, &padding, json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.codes(), ["GRAPHQL_VALIDATION_FAILED"]);
    let huge = json!({ "query": "{ viewer { role } }", "variables": { "x": "y".repeat(70_000) } });
    let (status, body) = raw_post(&app, t, "application/json", serde_json::to_vec(&huge).unwrap()).await;
    assert_eq!(status, 413);
    assert_eq!(code(&body), "BAD_USER_INPUT");

    // Batch flooding: arrays are refused outright.
    let batch = json!([{ "query": "{ viewer { role } }" }, { "query": "{ viewer { role } }" }]);
    let (status, body) = raw_post(&app, t, "application/json", serde_json::to_vec(&batch).unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(code(&body), "BAD_USER_INPUT");

    // Not JSON.
    let (status, body) = raw_post(&app, t, "text/plain", b"{ viewer { role } }".to_vec()).await;
    assert_eq!(status, 415);
    assert_eq!(code(&body), "BAD_USER_INPUT");
    for bad in [&b"{ not json"[..], b"{}", b"{\"query\": 7}", b"\"text\"", b"\xff\xfe"] {
        let (status, body) = raw_post(&app, t, "application/json", bad.to_vec()).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(bad));
        assert_eq!(code(&body), "BAD_USER_INPUT");
    }

    // Mutations over GET: 405; queries over GET work.
    let get = |q: &str| {
        app.http
            .get(app.url("/graphql"))
            .bearer_auth(t)
            .query(&[("query", q)])
            .header("accept", "application/json")
            .send()
    };
    let r = get("mutation { provisionClient(input: {clientId: \"acme\", businessName: \"A\", webDomain: \"a.com\", contactName: \"A\", businessEmail: \"a@a.com\", timezone: \"UTC\"}) { created } }").await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let r = get("{ viewer { role } }").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["data"]["viewer"]["role"], "PARTNER_ADMIN");
    assert_eq!(app.gql(t, "{ clients { totalCount } }", json!({})).await.ok()["clients"]["totalCount"], 0);

    // Parse errors and unknown fields: coded, and no "did you mean".
    let r = app.gql(t, "{ viewer { role }", json!({})).await;
    assert_eq!(r.codes(), ["GRAPHQL_PARSE_FAILED"]);
    let r = app.gql(t, "{ viewer { rol } }", json!({})).await;
    assert_eq!(r.codes(), ["GRAPHQL_VALIDATION_FAILED"]);
    assert!(!r.body.to_string().to_lowercase().contains("did you mean"), "{}", r.body);
    // Wrong argument types are BAD_USER_INPUT-coded too.
    let r = app.gql(t, "query($n: Int) { clients(first: $n) { totalCount } }", json!({ "n": "many" })).await;
    assert!(!r.errors().is_empty());
    assert!(r.codes().iter().all(|c| c != "<none>" && c != "INTERNAL"), "{:#}", r.body);

    // The GraphQL-over-HTTP media type is honoured.
    let r = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(t)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ viewer { rol } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.headers()["content-type"], "application/graphql-response+json");
}

async fn introspection_needs_a_principal(app: TestApp) {
    let ada = admin(&app).await;
    let q = json!({ "query": "{ __schema { queryType { name } } }" });
    assert_eq!(app.post_json(Some(&ada.token), &q).await.ok()["__schema"]["queryType"]["name"], "Query");
    assert_eq!(app.post_json(None, &q).await.status, 401);
}

async fn rate_limits_per_principal(app: TestApp) {
    // This app's limits are high; build one with tight ones on the same database kind.
    let mut opts = Options::default();
    opts.limits.requests_per_minute = 5;
    opts.limits.mutations_per_minute = 2;
    let app = spawn_with(app.backend, opts).await.unwrap();
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let cy = app.admin_of(&p, "cy").await;
    let q = "{ viewer { role } }";
    for _ in 0..5 {
        app.gql(&ada.token, q, json!({})).await.ok();
    }
    let r = app.gql(&ada.token, q, json!({})).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.codes(), ["RATE_LIMITED"]);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another principal is unaffected.
    app.gql(&cy.token, q, json!({})).await.ok();
    // The limit comes before the account is read: past it, a token of a
    // deactivated account costs the database nothing.
    let gone = app.member_of(&p, "gone").await;
    partner_clients::ops::admin::deactivate_user(&app.db, &gone.email).await.unwrap();
    for _ in 0..5 {
        assert_eq!(app.gql(&gone.token, q, json!({})).await.status, 403);
    }
    let before = app.statements().await;
    assert_eq!(app.gql(&gone.token, q, json!({})).await.status, 429);
    assert_eq!(app.statements().await - before, 0, "statements for a request past the limit");
    // Mutations have their own, lower limit.
    let m = "mutation($i: ProvisionClientInput!) { provisionClient(input: $i) { created } }";
    for i in 0..2 {
        let r = app.gql(&cy.token, m, json!({ "i": crate::helpers::client_input(&format!("m-{i}"), "M") })).await;
        assert_eq!(r.ok()["provisionClient"]["created"], true);
    }
    let r = app.gql(&cy.token, m, json!({ "i": crate::helpers::client_input("m-9", "M") })).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.codes(), ["RATE_LIMITED"]);
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("partner_clients_rate_limited_total{kind=\"mutation\"} 1"), "{metrics}");
}

/// A request stuck behind a lock is cut off at the request time limit with
/// a coded error, its transaction rolled back, and the service carries on.
async fn request_timeout_rolls_back(app: TestApp) {
    use sea_orm::ConnectionTrait;
    let mut opts = Options::default();
    opts.limits.request_secs = 1;
    let app = spawn_with(app.backend, opts).await.unwrap();
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let ben = app.member_of(&p, "ben").await;
    let bo = app.member_of(&p, "bo").await;
    app.provision(&ada, "acme", "Acme").await;
    app.assign(&ada, "acme", &[&ben, &bo], true).await;

    // Hold the lock the mutation needs.
    let blocker = partner_clients::db::begin_write(&app.db).await.unwrap();
    if app.backend == Backend::Postgres {
        blocker.execute_unprepared("SELECT id FROM clients FOR UPDATE").await.unwrap();
    }
    let unassign = "mutation($i: UnassignPartnerUserInput!) { unassignPartnerUser(input: $i) { userErrors { code } } }";
    let started = Instant::now();
    let r = app.gql(&ada.token, unassign, json!({ "i": { "clientId": "acme", "userId": ben.gid() } })).await;
    assert_eq!(r.codes(), ["TIMEOUT"], "{:#}", r.body);
    assert!(started.elapsed() < Duration::from_secs(5));
    blocker.rollback().await.unwrap();

    // Nothing was written, and the service still serves reads and writes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let q = "{ client(clientId: \"acme\") { assignments { user { email } } auditEvents { totalCount } } }";
    let d = app.gql(&ada.token, q, json!({})).await;
    assert_eq!(d.ok()["client"]["assignments"].as_array().unwrap().len(), 2);
    assert_eq!(d.ok()["client"]["auditEvents"]["totalCount"], 3);
    let r = app.gql(&ada.token, unassign, json!({ "i": { "clientId": "acme", "userId": ben.gid() } })).await;
    assert_eq!(r.ok()["unassignPartnerUser"]["userErrors"], json!([]));
}

/// A resolver panic becomes INTERNAL with no panic text, and the server
/// keeps serving.
async fn panics_are_internal_and_contained(app: TestApp) {
    use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo};
    struct PanicOnBoundaries;
    struct PanicExt;
    impl ExtensionFactory for PanicOnBoundaries {
        fn create(&self) -> std::sync::Arc<dyn Extension> {
            std::sync::Arc::new(PanicExt)
        }
    }
    #[async_graphql::async_trait::async_trait]
    impl Extension for PanicExt {
        async fn resolve(
            &self,
            ctx: &ExtensionContext<'_>,
            info: ResolveInfo<'_>,
            next: NextResolve<'_>,
        ) -> async_graphql::ServerResult<Option<async_graphql::Value>> {
            if info.name == "escalationBoundaries" {
                panic!("boom in /srv/partner-clients/src/secret.rs: SELECT * FROM users");
            }
            next.run(ctx, info).await
        }
    }
    let mut opts = Options::default();
    opts.extend_schema = |b| b.extension(PanicOnBoundaries);
    let app = spawn_with(app.backend, opts).await.unwrap();
    let ada = admin(&app).await;
    for _ in 0..3 {
        let r = app.gql(&ada.token, "{ escalationBoundaries { kind } }", json!({})).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.codes(), ["INTERNAL"]);
        let text = r.body.to_string();
        for leak in ["boom", "secret.rs", "SELECT", "panick"] {
            assert!(!text.contains(leak), "{leak} leaked: {text}");
        }
        assert_eq!(app.gql(&ada.token, "{ viewer { role } }", json!({})).await.ok()["viewer"]["role"], "PARTNER_ADMIN");
    }
}

db_tests!(
    classic_attack_probes,
    introspection_needs_a_principal,
    rate_limits_per_principal,
    request_timeout_rolls_back,
    panics_are_internal_and_contained,
);

/// Limits are configuration: a lower depth limit applies.
#[tokio::test]
async fn depth_limit_is_configurable() {
    let mut opts = Options::default();
    opts.limits.depth = 3;
    let app = spawn_with(Backend::Sqlite, opts).await.unwrap();
    let ada = admin(&app).await;
    app.gql(&ada.token, "{ viewer { user { email } } }", json!({})).await.ok();
    let r = app.gql(&ada.token, "{ clients { nodes { assignments { supportContact } } } }", json!({})).await;
    assert_eq!(r.codes(), ["GRAPHQL_VALIDATION_FAILED"]);
    assert!(r.errors()[0]["message"].as_str().unwrap().contains("too deep"));
}

const INTROSPECTION_QUERY: &str = "query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}";

#[tokio::test]
async fn no_introspection_flag_turns_it_off() {
    let opts = Options { introspection: false, ..Options::default() };
    let app = spawn_with(Backend::Sqlite, opts).await.unwrap();
    let ada = admin(&app).await;
    let r = app.gql(&ada.token, "{ __schema { queryType { name } } }", json!({})).await;
    assert!(!r.errors().is_empty());
    assert_ne!(r.codes(), ["INTERNAL"]);
    assert_eq!(r.body["data"].get("__schema").cloned().unwrap_or(Value::Null), Value::Null);
    // Ordinary queries are unaffected.
    app.gql(&ada.token, "{ viewer { role } }", json!({})).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_cancels_on_postgres() {
    use sea_orm::ConnectionTrait;
    let opts = Options { statement_timeout_secs: 1, ..Options::default() };
    let Some(app) = spawn_with(Backend::Postgres, opts).await else { return };
    let ada = admin(&app).await;
    let ben = app.member_of(&app_partner(&app).await, "ben").await;
    app.provision(&ada, "acme", "Acme").await;
    app.assign(&ada, "acme", &[&ben], false).await;
    let blocker = partner_clients::db::begin_write(&app.db).await.unwrap();
    blocker.execute_unprepared("SELECT id FROM clients FOR UPDATE").await.unwrap();
    let r = app
        .gql(
            &ada.token,
            "mutation($i: UnassignPartnerUserInput!) { unassignPartnerUser(input: $i) { userErrors { code } } }",
            json!({ "i": { "clientId": "acme", "userId": ben.gid() } }),
        )
        .await;
    assert_eq!(r.codes(), ["TIMEOUT"], "{:#}", r.body);
    blocker.rollback().await.unwrap();
    let d = app.gql(&ada.token, "{ client(clientId: \"acme\") { assignments { supportContact } } }", json!({})).await;
    assert_eq!(d.ok()["client"]["assignments"].as_array().unwrap().len(), 1);
}

async fn app_partner(app: &TestApp) -> crate::helpers::PartnerFx {
    use sea_orm::EntityTrait;
    let p = entity::partner::Entity::find().one(&app.db).await.unwrap().unwrap();
    crate::helpers::PartnerFx { id: p.id, slug: p.slug }
}

/// With the database unreachable: /readyz 503, GraphQL a quick coded error,
/// nothing half-written; service recovers by itself when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_and_recovery() {
    let Ok(base) = std::env::var("TEST_DATABASE_URL") else { return };
    let proxy = crate::helpers::TcpProxy::start("127.0.0.1:5432").await;
    // The app reaches its (fresh) database through the proxy.
    let app = crate::helpers::spawn_postgres_via(proxy.port, Options::default(), &base).await;
    let ada = admin(&app).await;
    let ben = app.member_of(&app_partner(&app).await, "ben").await;
    app.provision(&ada, "acme", "Acme").await;
    let ready = |app: &TestApp| {
        let url = app.url("/readyz");
        let http = app.http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(ready(&app).await, 200);

    proxy.set_up(false);
    assert_eq!(ready(&app).await, 503);
    let started = Instant::now();
    let r = app.gql(&ada.token, "{ clients { totalCount } }", json!({})).await;
    assert_eq!(r.codes(), ["SERVICE_UNAVAILABLE"], "{:#}", r.body);
    assert_eq!(r.status, 503);
    assert!(!r.body.to_string().contains("5432"), "driver details leaked: {}", r.body);
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    // A write attempted during the outage.
    let w = app
        .gql(
            &ada.token,
            "mutation($i: AssignPartnerUsersInput!) { assignPartnerUsers(input: $i) { userErrors { code } } }",
            json!({ "i": { "clientId": "acme", "userIds": [ben.gid()] } }),
        )
        .await;
    assert_eq!(w.codes(), ["SERVICE_UNAVAILABLE"]);

    proxy.set_up(true);
    let deadline = Instant::now() + Duration::from_secs(15);
    while ready(&app).await != 200 {
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut recovered = None;
    while Instant::now() < deadline {
        let r =
            app.gql(&ada.token, "{ client(clientId: \"acme\") { assignments { supportContact } } }", json!({})).await;
        if r.errors().is_empty() {
            recovered = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = recovered.expect("GraphQL recovered");
    assert_eq!(r.ok()["client"]["assignments"], json!([]), "the write during the outage left nothing behind");
}
