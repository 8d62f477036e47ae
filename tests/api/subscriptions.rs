//! Live updates (DESIGN §10): `Subscription.clientEvents` over a WebSocket
//! (graphql-transport-ws), scoped per viewer on every event, on both
//! databases; two replicas on one PostgreSQL; the transport's rules
//! (`transport`); the listener on `LISTEN_DATABASE_URL` (`listen`).

pub(crate) mod client;
mod listen;
mod transport;

use crate::db_tests;
use crate::helpers::{client_input, Backend, TestApp, UserFx};
use client::{until_subscribed, Ws, EVENTS};
use partner_clients::ops::admin;
use sea_orm::ConnectionTrait;
use serde_json::json;

db_tests!(
    events_arrive_in_commit_order,
    partner_users_hear_of_assigned_clients_and_their_own_unassignment,
    a_foreign_client_is_refused_like_an_absent_one,
    a_rolled_back_change_sends_nothing,
);

async fn events_arrive_in_commit_order(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let bo = app.member_of(&p, "bo").await;
    let mut ws = Ws::connect(app.addr, &ada.token).await;
    ws.subscribe("all", EVENTS, json!({})).await;
    until_subscribed(&app, 1).await;

    app.provision(&ada, "acme", "Acme").await;
    app.assign(&ada, "acme", &[&bo], true).await;
    admin::set_client_status(&app.db, &p.slug, "acme", "ACTIVE").await.unwrap();

    let e = ws.client_event("all").await;
    assert_eq!(e["action"], "CLIENT_PROVISIONED");
    assert_eq!(e["clientId"], "acme");
    assert_eq!(e["actor"]["email"], ada.email);
    assert_eq!(e["subjectUser"], json!(null));
    // The client as the viewer sees it when the event is sent: an
    // administrator reads the contact fields.
    assert_eq!(e["client"]["contactName"], "Casey Contact");
    assert!(e["occurredAt"].as_str().is_some_and(|t| t.ends_with("+00:00")), "{e}");
    let e = ws.client_event("all").await;
    assert_eq!((e["action"].as_str(), e["subjectUser"]["email"].as_str()), (Some("USER_ASSIGNED"), Some(&*bo.email)));
    let e = ws.client_event("all").await;
    assert_eq!(e["action"], "CLIENT_STATUS_CHANGED");
    assert_eq!(e["actor"], json!(null), "AiDial's own workflow");
    assert_eq!(e["client"]["status"], "ACTIVE");
    assert_eq!(e["client"]["assignments"][0]["user"]["email"], bo.email);
    ws.silent().await;
    assert_eq!(app.state.metrics.ws_events_sent.get(), 3);
}

async fn partner_users_hear_of_assigned_clients_and_their_own_unassignment(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let bo = app.member_of(&p, "bo").await;
    let mut ws = Ws::connect(app.addr, &bo.token).await;
    ws.subscribe("all", EVENTS, json!({})).await;
    until_subscribed(&app, 1).await;

    app.provision(&ada, "hidden", "Hidden").await;
    app.provision(&ada, "beta", "Beta").await;
    app.assign(&ada, "beta", &[&bo], false).await;
    // The first thing Bo hears of: his assignment (not the provisionings).
    // Scope is checked when an event is sent (README, "Scope on every
    // event"): on a busy machine beta's provisioning may be checked after
    // the assignment committed, and then Bo, who sees beta by then, hears it
    // first. "hidden" he never hears of.
    let mut e = ws.client_event("all").await;
    if (e["action"].as_str(), e["clientId"].as_str()) == (Some("CLIENT_PROVISIONED"), Some("beta")) {
        e = ws.client_event("all").await;
    }
    assert_eq!((e["action"].as_str(), e["clientId"].as_str()), (Some("USER_ASSIGNED"), Some("beta")));
    // Masked exactly as in queries.
    assert_eq!(e["client"]["contactName"], json!(null));
    assert_eq!(e["client"]["businessEmail"], json!(null));
    assert_eq!(e["client"]["clientId"], "beta");

    unassign(&app, &ada, "beta", &bo).await;
    let e = ws.client_event("all").await;
    assert_eq!(e["action"], "USER_UNASSIGNED");
    assert_eq!(e["clientId"], "beta");
    assert_eq!(e["client"], json!(null), "the client left his scope");
    assert_eq!(e["subjectUser"]["email"], bo.email);
    assert_eq!(e["actor"]["email"], ada.email);

    // Nothing more about beta (nor about the hidden client) ...
    admin::set_client_status(&app.db, &p.slug, "beta", "ONBOARDING").await.unwrap();
    admin::set_client_status(&app.db, &p.slug, "hidden", "ONBOARDING").await.unwrap();
    let cy = app.member_of(&p, "cy").await;
    app.assign(&ada, "beta", &[&cy], false).await;
    ws.silent().await;
    // ... until a client is his again.
    app.assign(&ada, "hidden", &[&bo], false).await;
    let e = ws.client_event("all").await;
    assert_eq!((e["action"].as_str(), e["clientId"].as_str()), (Some("USER_ASSIGNED"), Some("hidden")));
}

async fn unassign(app: &TestApp, admin: &UserFx, client_id: &str, user: &UserFx) {
    let r = app
        .gql(
            &admin.token,
            "mutation($i: UnassignPartnerUserInput!) { unassignPartnerUser(input: $i) { userErrors { code } } }",
            json!({ "i": { "clientId": client_id, "userId": user.gid() } }),
        )
        .await;
    assert_eq!(r.ok()["unassignPartnerUser"]["userErrors"], json!([]), "{:#}", r.body);
}

async fn a_foreign_client_is_refused_like_an_absent_one(app: TestApp) {
    let (a, b) = (app.partner("alpha").await, app.partner("beta").await);
    let ada = app.admin_of(&a, "ada").await;
    let bo = app.member_of(&a, "bo").await;
    let bea = app.admin_of(&b, "bea").await;
    app.provision(&bea, "theirs", "Theirs").await;
    app.provision(&ada, "ours", "Ours").await;

    // What the query says of a client it cannot see.
    let q = app.gql(&ada.token, "query($c: String!) { client(clientId: $c) { id } }", json!({ "c": "theirs" })).await;
    let want = &q.errors()[0];
    assert_eq!(want["extensions"]["code"], "NOT_FOUND");

    let mut ws = Ws::connect(app.addr, &ada.token).await;
    for (id, c) in [("foreign", "theirs"), ("absent", "nosuch"), ("malformed", "Not A Client ID!")] {
        ws.subscribe(id, EVENTS, json!({ "c": c })).await;
        let payload = ws.event(id).await;
        let got = &payload["errors"][0];
        assert_eq!((&got["message"], &got["extensions"]), (&want["message"], &want["extensions"]), "{payload:#}");
        assert_eq!(got["path"], json!(["clientEvents"]));
        assert_eq!(payload["data"], json!(null));
        match ws.next(client::PATIENCE).await {
            Some(client::Got::Msg(m)) if m["type"] == "complete" && m["id"] == id => {}
            other => panic!("expected complete, got {other:?}"),
        }
    }
    // A partner user: a client of its own partner it is not assigned to.
    let mut bo_ws = Ws::connect(app.addr, &bo.token).await;
    bo_ws.subscribe("ours", EVENTS, json!({ "c": "ours" })).await;
    let payload = bo_ws.event("ours").await;
    assert_eq!(payload["errors"][0]["message"], want["message"]);

    // Another tenant's changes never reach an all-clients subscription.
    ws.subscribe("all", EVENTS, json!({})).await;
    until_subscribed(&app, 1).await;
    app.provision(&bea, "theirs-two", "Theirs two").await;
    admin::set_client_status(&app.db, &b.slug, "theirs", "ACTIVE").await.unwrap();
    app.provision(&ada, "ours-two", "Ours two").await;
    let e = ws.client_event("all").await;
    assert_eq!((e["action"].as_str(), e["clientId"].as_str()), (Some("CLIENT_PROVISIONED"), Some("ours-two")));
    ws.silent().await;
}

async fn a_rolled_back_change_sends_nothing(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let (u1, u2, u3) = (app.member_of(&p, "u1").await, app.member_of(&p, "u2").await, app.member_of(&p, "u3").await);
    app.provision(&ada, "acme", "Acme").await;
    fail_audit_events_about(&app, &u2).await;
    let mut ws = Ws::connect(app.addr, &ada.token).await;
    ws.subscribe("all", EVENTS, json!({})).await;
    until_subscribed(&app, 1).await;

    // A provisioning refused with TAKEN writes and sends nothing.
    let mut taken = client_input("acme", "Another Acme");
    taken["timezone"] = json!("UTC");
    let r = app
        .gql(
            &ada.token,
            "mutation($i: ProvisionClientInput!) { provisionClient(input: $i) { userErrors { code } } }",
            json!({ "i": taken }),
        )
        .await;
    assert_eq!(r.ok()["provisionClient"]["userErrors"][0]["code"], "TAKEN");

    // u1's event is recorded (and, on PostgreSQL, its notification queued)
    // before u2's fails the transaction: neither is sent.
    let ids = [u1.gid(), u2.gid()];
    let r = app
        .gql(
            &ada.token,
            "mutation($i: AssignPartnerUsersInput!) { assignPartnerUsers(input: $i) { userErrors { code } } }",
            json!({ "i": { "clientId": "acme", "userIds": ids } }),
        )
        .await;
    assert_eq!(r.codes(), ["INTERNAL"], "{:#}", r.body);
    let q = app.gql(&ada.token, "{ client(clientId: \"acme\") { assignments { user { email } } } }", json!({})).await;
    assert_eq!(q.ok()["client"]["assignments"], json!([]), "rolled back");

    app.assign(&ada, "acme", &[&u3], false).await;
    let e = ws.client_event("all").await;
    assert_eq!((e["action"].as_str(), e["subjectUser"]["email"].as_str()), (Some("USER_ASSIGNED"), Some(&*u3.email)));
    ws.silent().await;
}

/// Make every transaction that records an audit event about `user` fail:
/// on PostgreSQL at COMMIT (a deferred constraint trigger: every statement
/// of the transaction, `pg_notify` included, has run); on SQLite at the
/// insert (SQLite has no deferred triggers; its announcements wait for the
/// commit either way).
async fn fail_audit_events_about(app: &TestApp, user: &UserFx) {
    let id = user.id;
    let sql = match app.backend {
        Backend::Postgres => vec![
            format!(
                "CREATE FUNCTION test_fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.subject_user_id = '{id}' THEN RAISE EXCEPTION 'forced failure'; END IF; RETURN NULL; END $$"
            ),
            "CREATE CONSTRAINT TRIGGER test_fail_audit AFTER INSERT ON audit_events \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_audit()"
                .to_owned(),
        ],
        // sea-orm stores a uuid as 16 bytes on SQLite; text too, to be sure.
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_events \
             WHEN NEW.subject_user_id IN (X'{}', '{id}') BEGIN SELECT RAISE(ABORT, 'forced failure'); END",
            id.simple()
        )],
    };
    for s in sql {
        app.db.execute_unprepared(&s).await.unwrap();
    }
}
