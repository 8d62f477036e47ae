//! Audit event ids (DESIGN §7: no id or cursor carries a global counter):
//! UUIDv7 node ids, counter-free cursors, stable newest-first pages, and the
//! migration that gave rows written before it their v7 ids.

use crate::db_tests;
use crate::helpers::{TestApp, UserFx};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use entity::{audit_event, client};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::{json, Value};
use uuid::Uuid;

const PAGE: &str = "query($n: Int, $a: String) { client(clientId: \"acme\") { auditEvents(first: $n, after: $a) {
  totalCount edges { cursor node { id action occurredAt subjectUser { email } } } pageInfo { hasNextPage endCursor } } } }";

async fn page(app: &TestApp, who: &UserFx, first: i64, after: Value) -> Value {
    let r = app.gql(&who.token, PAGE, json!({ "n": first, "a": after })).await;
    r.ok()["client"]["auditEvents"].clone()
}

/// The key of an `AuditEvent` node id, which must be a UUIDv7.
#[track_caller]
fn v7_key(id: &Value) -> Uuid {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(id.as_str().unwrap()).unwrap()).unwrap();
    let key = raw.strip_prefix("AuditEvent:").unwrap_or_else(|| panic!("not an AuditEvent id: {raw}"));
    let uuid = Uuid::parse_str(key).unwrap_or_else(|_| panic!("key {key:?} is not a uuid"));
    assert_eq!(uuid.get_version_num(), 7, "{uuid} is not a v7");
    uuid
}

/// Walk the list one event at a time; the node ids in order.
async fn walk_one_by_one(app: &TestApp, who: &UserFx, limit: usize) -> Vec<Value> {
    let (mut walked, mut after) = (Vec::new(), Value::Null);
    loop {
        let p = page(app, who, 1, after).await;
        walked.extend(p["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].clone()));
        if p["pageInfo"]["hasNextPage"] != true {
            return walked;
        }
        assert!(walked.len() <= limit, "paging does not end: {walked:?}");
        after = p["pageInfo"]["endCursor"].clone();
    }
}

fn subjects(edges: &[Value]) -> Vec<Value> {
    edges.iter().map(|e| e["node"]["subjectUser"]["email"].clone()).collect()
}

async fn client_uuid(app: &TestApp, client_id: &str) -> Uuid {
    client::Entity::find().filter(client::Column::ClientId.eq(client_id)).one(&app.db).await.unwrap().unwrap().id
}

async fn audit_ids_are_uuid_v7(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let ben = app.member_of(&p, "ben").await;
    let cy = app.member_of(&p, "cy").await;
    app.provision(&ada, "acme", "Acme").await;
    app.assign(&ada, "acme", &[&ben, &cy], true).await;
    // Three events of one transaction at one instant, as the service writes
    // them: they tie on occurredAt and must still page in one fixed order.
    let (acme, at) = (client_uuid(&app, "acme").await, Utc::now().trunc_subsecs(6) + chrono::Duration::seconds(1));
    let txn = app.db.begin().await.unwrap();
    for who in [&ada, &ben, &cy] {
        let row = audit_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            partner_id: Set(p.id),
            client_uuid: Set(Some(acme)),
            actor_id: Set(Some(ada.id)),
            subject_user_id: Set(Some(who.id)),
            action: Set("SUPPORT_CONTACT_SET".into()),
            details: Set(json!({})),
            occurred_at: Set(at),
        };
        audit_event::Entity::insert(row).exec_without_returning(&txn).await.unwrap();
    }
    txn.commit().await.unwrap();

    let all = page(&app, &ada, 10, Value::Null).await;
    let edges = all["edges"].as_array().unwrap().clone();
    assert_eq!(edges.len(), 6);
    // Newest first; the tie in insertion order, newest first.
    assert_eq!(subjects(&edges[..3]), [json!(cy.email), json!(ben.email), json!(ada.email)]);
    for e in &edges {
        let key = v7_key(&e["node"]["id"]);
        // The cursor is {"o": ordering, "k": [occurredAt, uuid]}: no number.
        let doc: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(e["cursor"].as_str().unwrap()).unwrap()).unwrap();
        let parts = doc["k"].as_array().unwrap();
        assert!(parts.iter().all(|k| k.is_string()), "a number in the cursor: {doc}");
        assert!(parts.iter().all(|k| k.as_str().unwrap().parse::<i64>().is_err()), "a counter in the cursor: {doc}");
        assert_eq!(parts[1], json!(key.to_string()), "the cursor ends with the event's uuid: {doc}");
        let shown: DateTime<Utc> = serde_json::from_value(e["node"]["occurredAt"].clone()).unwrap();
        let in_cursor: DateTime<Utc> = parts[0].as_str().unwrap().parse().unwrap();
        assert_eq!(in_cursor, shown, "{doc}");
    }
    // One at a time: the same events in the same order, twice.
    let ids: Vec<Value> = edges.iter().map(|e| e["node"]["id"].clone()).collect();
    assert_eq!(walk_one_by_one(&app, &ada, 6).await, ids);
    assert_eq!(walk_one_by_one(&app, &ada, 6).await, ids);
}

/// A database with rows from before the migration: roll the schema back to
/// the bigint ids, write rows the old way, migrate again.
async fn existing_rows_get_v7_ids(app: TestApp) {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::sea_query::{Alias, Query};
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let (ben, cy, dee) =
        (app.member_of(&p, "ben").await, app.member_of(&p, "cy").await, app.member_of(&p, "dee").await);
    app.provision(&ada, "acme", "Acme").await;
    let acme = client_uuid(&app, "acme").await;

    let all = Migrator::migrations();
    let at = all.iter().position(|m| m.name() == "m20261201_000001_audit_event_uuid").expect("the migration");
    Migrator::down(&app.db, Some((all.len() - at) as u32)).await.unwrap();
    // Three rows tied on one instant (a minute ahead: the newest), one an hour back.
    let now = Utc::now().trunc_subsecs(6);
    let (later, earlier) = (now + chrono::Duration::minutes(1), now - chrono::Duration::hours(1));
    for (n, (who, when)) in [(&ben, later), (&cy, later), (&dee, later), (&ben, earlier)].into_iter().enumerate() {
        let insert = Query::insert()
            .into_table(Alias::new("audit_events"))
            .columns(
                ["partner_id", "client_uuid", "actor_id", "subject_user_id", "action", "details", "occurred_at"]
                    .map(Alias::new),
            )
            .values_panic([
                p.id.into(),
                acme.into(),
                ada.id.into(),
                who.id.into(),
                "USER_ASSIGNED".into(),
                json!({ "n": n }).into(),
                when.into(),
            ])
            .to_owned();
        app.db.execute(&insert).await.unwrap();
    }
    let old_ids = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT id FROM audit_events ORDER BY id",
        ))
        .await
        .unwrap();
    let old_ids: Vec<i64> = old_ids.iter().map(|r| r.try_get("", "id").unwrap()).collect();
    assert_eq!(old_ids, [1, 2, 3, 4, 5], "rows with bigint ids before the migration");
    Migrator::up(&app.db, None).await.unwrap();

    let events = page(&app, &ada, 10, Value::Null).await;
    assert_eq!(events["totalCount"], 5);
    let edges = events["edges"].as_array().unwrap().clone();
    let expected = [&dee, &cy, &ben].map(|u| json!(u.email)).to_vec();
    assert_eq!(subjects(&edges[..3]), expected, "ties keep their old order");
    assert_eq!(edges[3]["node"]["action"], "CLIENT_PROVISIONED");
    assert_eq!(edges[4]["node"]["subjectUser"]["email"], ben.email);
    for e in &edges {
        // A backfilled id carries its event's millisecond.
        let (secs, nanos) = v7_key(&e["node"]["id"]).get_timestamp().unwrap().to_unix();
        let shown: DateTime<Utc> = serde_json::from_value(e["node"]["occurredAt"].clone()).unwrap();
        assert_eq!(secs as i64 * 1000 + nanos as i64 / 1_000_000, shown.timestamp_millis());
    }
    let ids: Vec<Value> = edges.iter().map(|e| e["node"]["id"].clone()).collect();
    assert_eq!(walk_one_by_one(&app, &ada, 5).await, ids);
    // Contents came along; the nodes resolve; new events still go in.
    let dee_row = audit_event::Entity::find_by_id(v7_key(&edges[0]["node"]["id"])).one(&app.db).await.unwrap().unwrap();
    assert_eq!(dee_row.details, json!({ "n": 2 }));
    let node = "query($id: ID!) { node(id: $id) { ... on AuditEvent { subjectUser { email } } } }";
    let r = app.gql(&ada.token, node, json!({ "id": ids[0] })).await;
    assert_eq!(r.ok()["node"]["subjectUser"]["email"], dee.email);
    app.provision(&ada, "bolt", "Bolt").await;
    assert_eq!(
        app.gql(&ada.token, "{ client(clientId: \"bolt\") { auditEvents { totalCount } } }", json!({})).await.ok()
            ["client"]["auditEvents"]["totalCount"],
        1
    );
}

db_tests!(audit_ids_are_uuid_v7, existing_rows_get_v7_ids);
