//! Partner-user assignments and the support-contact rule (issue 5).

use crate::db_tests;
use crate::helpers::{TestApp, UserFx};
use serde_json::{json, Value};

const ASSIGN: &str = "mutation($i: AssignPartnerUsersInput!) { assignPartnerUsers(input: $i) { userErrors { field message code } client { clientId assignments { user { email } supportContact } } } }";
const UNASSIGN: &str = "mutation($i: UnassignPartnerUserInput!) { unassignPartnerUser(input: $i) { userErrors { field message code } client { assignments { user { email } supportContact } } } }";
const SET_SUPPORT: &str = "mutation($i: SetSupportContactInput!) { setSupportContact(input: $i) { userErrors { field message code } client { assignments { user { email } supportContact } } } }";
const ELIGIBLE: &str = "query($c: String!, $s: String, $first: Int, $after: String) { client(clientId: $c) { eligibleUsers(search: $s, first: $first, after: $after) { totalCount nodes { email } pageInfo { hasNextPage endCursor } } } }";

struct Team {
    ada: UserFx,
    ben: UserFx,
    bo: UserFx,
    cy: UserFx,
    gone: UserFx,
    other: UserFx,
    other_admin: UserFx,
    customer: UserFx,
}

async fn team(app: &TestApp) -> Team {
    let alpha = app.partner("alpha").await;
    let beta = app.partner("beta").await;
    let ada = app.admin_of(&alpha, "ada").await;
    let ben = app.member_of(&alpha, "ben").await;
    let bo = app.member_of(&alpha, "bo").await;
    let cy = app.admin_of(&alpha, "cy").await;
    let gone = app.member_of(&alpha, "gone").await;
    partner_clients::ops::admin::deactivate_user(&app.db, &gone.email).await.unwrap();
    let other = app.member_of(&beta, "other").await;
    let other_admin = app.admin_of(&beta, "otto").await;
    let customer = app.user(None, "cust", "customer_user").await;
    app.provision(&ada, "acme", "Acme").await;
    Team { ada, ben, bo, cy, gone, other, other_admin, customer }
}

fn emails(assignments: &Value) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = assignments
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["user"]["email"].as_str().unwrap().to_owned(), a["supportContact"].as_bool().unwrap()))
        .collect();
    v.sort();
    v
}

async fn current(app: &TestApp, who: &UserFx, client_id: &str) -> Vec<(String, bool)> {
    let r = app
        .gql(
            &who.token,
            "query($c: String!) { client(clientId: $c) { assignments { user { email } supportContact } } }",
            json!({ "c": client_id }),
        )
        .await;
    emails(&r.ok()["client"]["assignments"])
}

async fn events(app: &TestApp, who: &UserFx, client_id: &str) -> Vec<(String, String, String)> {
    let q = "query($c: String!) { client(clientId: $c) { auditEvents(first: 100) { nodes { action actor { email } subjectUser { email } } } } }";
    let r = app.gql(&who.token, q, json!({ "c": client_id })).await;
    r.ok()["client"]["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["action"].as_str().unwrap().to_owned(),
                n["actor"]["email"].as_str().unwrap_or("").to_owned(),
                n["subjectUser"]["email"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn eligible_users(app: TestApp) {
    let t = team(&app).await;
    let r = app.gql(&t.ada.token, ELIGIBLE, json!({ "c": "acme" })).await;
    let e = &r.ok()["client"]["eligibleUsers"];
    // Active partner accounts of alpha; not beta's, not inactive, not customers.
    let all: Vec<&str> = e["nodes"].as_array().unwrap().iter().map(|n| n["email"].as_str().unwrap()).collect();
    assert_eq!(all, [t.ada.email.as_str(), t.ben.email.as_str(), t.bo.email.as_str(), t.cy.email.as_str()]);
    assert_eq!(e["totalCount"], 4);
    // Assigned users drop out.
    app.assign(&t.ada, "acme", &[&t.ben], true).await;
    let r = app.gql(&t.ada.token, ELIGIBLE, json!({ "c": "acme", "s": "B" })).await;
    assert_eq!(r.ok()["client"]["eligibleUsers"]["nodes"], json!([{ "email": t.bo.email }]));
    // Pages.
    let p1 = app.gql(&t.ada.token, ELIGIBLE, json!({ "c": "acme", "first": 2 })).await;
    let p1 = &p1.ok()["client"]["eligibleUsers"];
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    let p2 =
        app.gql(&t.ada.token, ELIGIBLE, json!({ "c": "acme", "first": 2, "after": p1["pageInfo"]["endCursor"] })).await;
    assert_eq!(p2.ok()["client"]["eligibleUsers"]["nodes"], json!([{ "email": t.cy.email }]));
    // Partner users: null plus FORBIDDEN.
    let r = app.gql(&t.ben.token, ELIGIBLE, json!({ "c": "acme" })).await;
    assert_eq!(r.data()["client"]["eligibleUsers"], Value::Null);
    assert_eq!(r.codes(), ["FORBIDDEN"]);
    assert_eq!(r.errors()[0]["path"], json!(["client", "eligibleUsers"]));
}

async fn assign_is_all_or_nothing(app: TestApp) {
    let t = team(&app).await;
    let assign = |ids: Vec<Value>, support: bool| {
        let (token, app) = (t.ada.token.clone(), &app);
        async move {
            app.gql(&token, ASSIGN, json!({ "i": { "clientId": "acme", "userIds": ids, "supportContact": support } }))
                .await
        }
    };
    // One good id among bad ones: nothing is written, each bad index named
    // with the same message whatever the reason.
    let r = assign(
        vec![
            json!(t.ben.gid()),
            json!(t.gone.gid()),
            json!(t.other.gid()),
            json!(t.customer.gid()),
            json!("bm90LWFuLWlk"),
            json!(t.bo.gid()),
        ],
        false,
    )
    .await;
    let errs = r.ok()["assignPartnerUsers"]["userErrors"].as_array().unwrap().clone();
    let fields: Vec<Value> = errs.iter().map(|e| e["field"].clone()).collect();
    assert_eq!(
        fields,
        [
            json!(["input", "userIds", "1"]),
            json!(["input", "userIds", "2"]),
            json!(["input", "userIds", "3"]),
            json!(["input", "userIds", "4"])
        ]
    );
    assert!(errs.iter().all(|e| e["code"] == "USER_NOT_ELIGIBLE" && e["message"] == errs[0]["message"]));
    assert_eq!(current(&app, &t.ada, "acme").await, []);
    assert!(events(&app, &t.ada, "acme").await.iter().all(|e| e.0 == "CLIENT_PROVISIONED"));

    // Good ids: assigned with the support flag, duplicates folded.
    let r = assign(vec![json!(t.ben.gid()), json!(t.bo.gid()), json!(t.ben.gid())], true).await;
    assert_eq!(r.ok()["assignPartnerUsers"]["userErrors"], json!([]));
    assert_eq!(
        emails(&r.ok()["assignPartnerUsers"]["client"]["assignments"]),
        [(t.ben.email.clone(), true), (t.bo.email.clone(), true)]
    );
    // Re-assigning is a no-op: flags unchanged, no events.
    let before = events(&app, &t.ada, "acme").await.len();
    let r = assign(vec![json!(t.ben.gid()), json!(t.cy.gid())], false).await;
    assert_eq!(r.ok()["assignPartnerUsers"]["userErrors"], json!([]));
    assert_eq!(
        current(&app, &t.ada, "acme").await,
        [(t.ben.email.clone(), true), (t.bo.email.clone(), true), (t.cy.email.clone(), false)]
    );
    let ev = events(&app, &t.ada, "acme").await;
    assert_eq!(ev.len(), before + 1);
    assert_eq!(ev[0], ("USER_ASSIGNED".into(), t.ada.email.clone(), t.cy.email.clone()));

    // Limits: empty and over 100.
    let r = assign(vec![], false).await;
    assert_eq!(r.ok()["assignPartnerUsers"]["userErrors"][0]["code"], "INVALID");
    let many: Vec<Value> = (0..101).map(|_| json!(t.ben.gid())).collect();
    let r = assign(many, false).await;
    assert_eq!(r.ok()["assignPartnerUsers"]["userErrors"][0]["code"], "TOO_MANY");
    assert_eq!(r.ok()["assignPartnerUsers"]["userErrors"][0]["field"], json!(["input", "userIds"]));
}

async fn unassign_and_support_contact_rules(app: TestApp) {
    let t = team(&app).await;
    app.assign(&t.ada, "acme", &[&t.ben], true).await;
    app.assign(&t.ada, "acme", &[&t.bo], false).await;
    let call = |q: &'static str, input: Value| {
        let (token, app) = (t.ada.token.clone(), &app);
        async move {
            let r = app.gql(&token, q, json!({ "i": input })).await;
            let d = r.ok().as_object().unwrap().values().next().unwrap().clone();
            d
        }
    };
    // Not assigned.
    let d = call(UNASSIGN, json!({ "clientId": "acme", "userId": t.cy.gid() })).await;
    assert_eq!(d["userErrors"][0]["code"], "NOT_ASSIGNED");
    assert_eq!(d["userErrors"][0]["field"], json!(["input", "userId"]));
    let d = call(SET_SUPPORT, json!({ "clientId": "acme", "userId": t.other.gid(), "supportContact": true })).await;
    assert_eq!(d["userErrors"][0]["code"], "NOT_ASSIGNED");
    // The last support contact stays: neither removal nor unflagging.
    let d = call(UNASSIGN, json!({ "clientId": "acme", "userId": t.ben.gid() })).await;
    assert_eq!(d["userErrors"][0]["code"], "SUPPORT_CONTACT_REQUIRED");
    let d = call(SET_SUPPORT, json!({ "clientId": "acme", "userId": t.ben.gid(), "supportContact": false })).await;
    assert_eq!(d["userErrors"][0]["code"], "SUPPORT_CONTACT_REQUIRED");
    assert_eq!(current(&app, &t.ada, "acme").await, [(t.ben.email.clone(), true), (t.bo.email.clone(), false)]);
    // Non-support users can go.
    let d = call(UNASSIGN, json!({ "clientId": "acme", "userId": t.bo.gid() })).await;
    assert_eq!(d["userErrors"], json!([]));
    assert_eq!(emails(&d["client"]["assignments"]), [(t.ben.email.clone(), true)]);
    // Hand over: flag another, then the first may go.
    app.assign(&t.ada, "acme", &[&t.cy], false).await;
    let d = call(SET_SUPPORT, json!({ "clientId": "acme", "userId": t.cy.gid(), "supportContact": true })).await;
    assert_eq!(d["userErrors"], json!([]));
    // Setting it again is a no-op: no event.
    let n = events(&app, &t.ada, "acme").await.len();
    let d = call(SET_SUPPORT, json!({ "clientId": "acme", "userId": t.cy.gid(), "supportContact": true })).await;
    assert_eq!(d["userErrors"], json!([]));
    assert_eq!(events(&app, &t.ada, "acme").await.len(), n);
    let d = call(SET_SUPPORT, json!({ "clientId": "acme", "userId": t.ben.gid(), "supportContact": false })).await;
    assert_eq!(d["userErrors"], json!([]));
    let d = call(UNASSIGN, json!({ "clientId": "acme", "userId": t.ben.gid() })).await;
    assert_eq!(d["userErrors"], json!([]));
    assert_eq!(current(&app, &t.ada, "acme").await, [(t.cy.email.clone(), true)]);
    let ev = events(&app, &t.ada, "acme").await;
    let actions: Vec<&str> = ev.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(&actions[..4], ["USER_UNASSIGNED", "SUPPORT_CONTACT_UNSET", "SUPPORT_CONTACT_SET", "USER_ASSIGNED"]);
    assert_eq!(ev[0], ("USER_UNASSIGNED".into(), t.ada.email.clone(), t.ben.email.clone()));
    assert_eq!(ev[1].2, t.ben.email);
    assert_eq!(ev[2].2, t.cy.email);

    // A client that does not require a support contact may lose its last one.
    let mut input = crate::helpers::client_input("relaxed", "Relaxed");
    input["supportContactRequired"] = json!(false);
    app.gql(
        &t.ada.token,
        "mutation($i: ProvisionClientInput!) { provisionClient(input: $i) { created } }",
        json!({ "i": input }),
    )
    .await
    .ok();
    app.assign(&t.ada, "relaxed", &[&t.ben], true).await;
    let d = call(UNASSIGN, json!({ "clientId": "relaxed", "userId": t.ben.gid() })).await;
    assert_eq!(d["userErrors"], json!([]));
}

async fn assignment_scope(app: TestApp) {
    let t = team(&app).await;
    app.assign(&t.ada, "acme", &[&t.ben], true).await;
    let inputs = [
        (ASSIGN, json!({ "clientId": "acme", "userIds": [t.bo.gid()] })),
        (UNASSIGN, json!({ "clientId": "acme", "userId": t.ben.gid() })),
        (SET_SUPPORT, json!({ "clientId": "acme", "userId": t.ben.gid(), "supportContact": false })),
    ];
    for (q, input) in &inputs {
        // Partner users may not change assignments, even their own client's.
        let r = app.gql(&t.ben.token, q, json!({ "i": input })).await;
        assert_eq!(r.codes(), ["FORBIDDEN"]);
        assert_eq!(r.data(), &Value::Null);
        // A read-only administrator token neither.
        let r = app.gql(&app.read_only_token_for(t.ada.id), q, json!({ "i": input })).await;
        assert_eq!(r.codes(), ["FORBIDDEN"]);
        // Another partner's admin: exactly as for an absent client.
        let foreign = app.gql(&t.other_admin.token, q, json!({ "i": input })).await;
        let mut absent_input = input.clone();
        absent_input["clientId"] = json!("nosuch");
        let absent = app.gql(&t.other_admin.token, q, json!({ "i": absent_input })).await;
        assert_eq!(foreign.codes(), ["NOT_FOUND"]);
        assert_eq!(foreign.body, absent.body);
    }
    assert_eq!(current(&app, &t.ada, "acme").await, [(t.ben.email.clone(), true)]);
}

/// k support contacts, k concurrent removals: exactly k - 1 succeed and one
/// support contact remains, every time.
async fn support_contact_rule_holds_under_races(app: TestApp) {
    let alpha = app.partner("alpha").await;
    let ada = app.admin_of(&alpha, "ada").await;
    let mut people = Vec::new();
    for i in 0..4 {
        people.push(app.member_of(&alpha, &format!("p{i}")).await);
    }
    let k = people.len();
    for round in 0..20 {
        let client_id = format!("race-{round:02}");
        app.provision(&ada, &client_id, "Race").await;
        let refs: Vec<&UserFx> = people.iter().collect();
        app.assign(&ada, &client_id, &refs, true).await;
        // Half the rounds remove, half unflag.
        let sends = people.iter().map(|u| {
            let (q, input) = if round % 2 == 0 {
                (UNASSIGN, json!({ "clientId": client_id, "userId": u.gid() }))
            } else {
                (SET_SUPPORT, json!({ "clientId": client_id, "userId": u.gid(), "supportContact": false }))
            };
            app.gql(&ada.token, q, json!({ "i": input }))
        });
        let results = futures_util::future::join_all(sends).await;
        let mut ok = 0;
        let mut refused = 0;
        for r in &results {
            assert_eq!(r.status, 200, "{:#}", r.body);
            let d = r.ok().as_object().unwrap().values().next().unwrap().clone();
            match d["userErrors"].as_array().unwrap().as_slice() {
                [] => ok += 1,
                [e] if e["code"] == "SUPPORT_CONTACT_REQUIRED" => refused += 1,
                other => panic!("unexpected: {other:?}"),
            }
        }
        assert_eq!((ok, refused), (k - 1, 1), "round {round}");
        let left = current(&app, &ada, &client_id).await;
        assert_eq!(left.iter().filter(|(_, s)| *s).count(), 1, "round {round}: {left:?}");
    }
}

db_tests!(
    eligible_users,
    assign_is_all_or_nothing,
    unassign_and_support_contact_rules,
    assignment_scope,
    support_contact_rule_holds_under_races,
);
