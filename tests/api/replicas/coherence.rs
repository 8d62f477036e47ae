//! Two replicas on one database agree (issue 16 item 3): what one writes,
//! the other reads in its next request, its per-process count cache
//! included; the support-contact invariant holds when the racing removals
//! arrive through different replicas.

use super::Replica;
use crate::db_tests;
use crate::helpers::{Options, TestApp, UserFx};
use serde_json::{json, Value};

/// A search: whole-partner counts without one come from per-status
/// counters; with one they are counted and cached.
const COUNTS: &str =
    r#"{ clients(filter: { search: "shared" }) { totalCount count(limit: 1000) { count precision } } }"#;
const UNASSIGN: &str =
    "mutation($i: UnassignPartnerUserInput!) { unassignPartnerUser(input: $i) { userErrors { code } } }";
const SET_SUPPORT: &str =
    "mutation($i: SetSupportContactInput!) { setSupportContact(input: $i) { userErrors { code } } }";
const ASSIGNED: &str = "query($c: String!) { client(clientId: $c) { assignments { user { email } supportContact } } }";

/// B's counts for `who`, and the SQL statements B ran for them.
async fn counts(b: &Replica, who: &UserFx) -> ((i64, i64, Value), u64) {
    let before = b.metric("partner_clients_db_statements_total").await;
    let r = b.gql(Some(&who.token), COUNTS, json!({})).await;
    let c = &r.ok()["clients"];
    let ran = b.metric("partner_clients_db_statements_total").await - before;
    ((c["totalCount"].as_i64().unwrap(), c["count"]["count"].as_i64().unwrap(), c["count"]["precision"].clone()), ran)
}

/// A client provisioned through A is counted on B at once, although B had
/// the previous count cached: the cache is keyed by the partner's version,
/// which lives in the database, not in either replica.
async fn counts_agree_across_replicas(app: TestApp) {
    let b = Replica::start(&app, Options::default()).await;
    let alpha = app.partner("alpha").await;
    let ada = app.admin_of(&alpha, "ada").await;
    app.provision(&ada, "cl-1", "Shared One").await;
    let (n, cold) = counts(&b, &ada).await;
    assert_eq!(n, (1, 1, json!("EXACT")));
    let (n, warm) = counts(&b, &ada).await;
    assert_eq!(n, (1, 1, json!("EXACT")));
    assert!(warm < cold, "B answers the repeat from its count cache ({warm} statements, not {cold})");

    app.provision(&ada, "cl-2", "Shared Two").await;
    let (n, after) = counts(&b, &ada).await;
    assert_eq!(n, (2, 2, json!("EXACT")), "B counts A's client at once");
    assert_eq!(after, cold, "B counted afresh: its cached counts were of the old version");
}

/// Who works on a client, as B sees it; and B's client list for `who`.
async fn seen_on_b(b: &Replica, who: &UserFx, client_id: &str) -> (Vec<(String, bool)>, i64) {
    let r = b.gql(Some(&who.token), ASSIGNED, json!({ "c": client_id })).await;
    let mut seen: Vec<(String, bool)> = r.data()["client"]["assignments"]
        .as_array()
        .map(|a| a.iter().map(|x| (x["user"]["email"].as_str().unwrap().into(), x["supportContact"] == true)).collect())
        .unwrap_or_default();
    seen.sort();
    let total = b.gql(Some(&who.token), "{ clients { totalCount } }", json!({})).await.ok()["clients"]["totalCount"]
        .as_i64()
        .unwrap();
    (seen, total)
}

/// An assignment change through A is visible through B in the next request,
/// to the administrator and to the partner user it concerns.
async fn assignments_agree_across_replicas(app: TestApp) {
    let b = Replica::start(&app, Options::default()).await;
    let alpha = app.partner("alpha").await;
    let ada = app.admin_of(&alpha, "ada").await;
    let ben = app.member_of(&alpha, "ben").await;
    app.provision(&ada, "acme", "Acme").await;
    // B has seen ben's empty scope (and cached its count) before the change.
    assert_eq!(seen_on_b(&b, &ben, "acme").await, (vec![], 0));

    app.assign(&ada, "acme", &[&ben], true).await;
    let ben_entry = (ben.email.clone(), true);
    assert_eq!(seen_on_b(&b, &ada, "acme").await, (vec![ben_entry.clone()], 1));
    assert_eq!(seen_on_b(&b, &ben, "acme").await, (vec![ben_entry], 1), "ben sees his new client on B");

    app.assign(&ada, "acme", &[&ada], true).await;
    let r = app.gql(&ada.token, UNASSIGN, json!({ "i": { "clientId": "acme", "userId": ben.gid() } })).await;
    assert_eq!(r.ok()["unassignPartnerUser"]["userErrors"], json!([]));
    assert_eq!(seen_on_b(&b, &ada, "acme").await, (vec![(ada.email.clone(), true)], 1));
    assert_eq!(seen_on_b(&b, &ben, "acme").await, (vec![], 0), "ben's client is gone on B");
}

/// k support contacts, k concurrent removals split between two replicas:
/// exactly k - 1 succeed and one support contact remains, every time
/// (`assignments::support_contact_rule_holds_under_races`, across replicas).
async fn support_contact_race_across_replicas(app: TestApp) {
    let b = Replica::start(&app, Options::default()).await;
    let sides = [&Replica::of(&app), &b];
    let alpha = app.partner("alpha").await;
    let ada = app.admin_of(&alpha, "ada").await;
    let mut people = Vec::new();
    for i in 0..4 {
        people.push(app.member_of(&alpha, &format!("p{i}")).await);
    }
    let k = people.len();
    for round in 0..12 {
        let client_id = format!("race-{round:02}");
        app.provision(&ada, &client_id, "Race").await;
        app.assign(&ada, &client_id, &people.iter().collect::<Vec<_>>(), true).await;
        // Half the rounds remove, half unflag; A and B take turns.
        let sends = people.iter().enumerate().map(|(i, u)| {
            let (q, input) = if round % 2 == 0 {
                (UNASSIGN, json!({ "clientId": client_id, "userId": u.gid() }))
            } else {
                (SET_SUPPORT, json!({ "clientId": client_id, "userId": u.gid(), "supportContact": false }))
            };
            sides[i % 2].gql(Some(&ada.token), q, json!({ "i": input }))
        });
        let results = futures_util::future::join_all(sends).await;
        let mut outcomes = (0, 0);
        for r in &results {
            let d = r.ok().as_object().unwrap().values().next().unwrap().clone();
            match d["userErrors"].as_array().unwrap().as_slice() {
                [] => outcomes.0 += 1,
                [e] if e["code"] == "SUPPORT_CONTACT_REQUIRED" => outcomes.1 += 1,
                other => panic!("unexpected: {other:?}"),
            }
        }
        assert_eq!(outcomes, (k - 1, 1), "round {round}");
        let left = seen_on_b(&b, &ada, &client_id).await.0;
        assert_eq!(left.iter().filter(|(_, s)| *s).count(), 1, "round {round}: {left:?}");
    }
}

db_tests!(counts_agree_across_replicas, assignments_agree_across_replicas, support_contact_race_across_replicas);
