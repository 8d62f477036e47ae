//! `ClientConnection.count(limit:)` (DESIGN §11): bounded, exact under the
//! limit, `AT_LEAST` at it, scoped and masked exactly like the list.

use crate::db_tests;
use crate::helpers::TestApp;
use serde_json::{json, Value};

const Q: &str =
    "query($f: ClientFilter, $l: Int) { clients(filter: $f) { totalCount count(limit: $l) { count precision } } }";

async fn count(app: &TestApp, token: &str, filter: Value, limit: Option<i64>) -> (i64, Value) {
    let vars = match limit {
        Some(l) => json!({ "f": filter, "l": l }),
        None => json!({ "f": filter }),
    };
    let r = app.gql(token, Q, vars).await;
    let d = r.ok();
    (d["clients"]["totalCount"].as_i64().unwrap(), d["clients"]["count"].clone())
}

async fn bounded_count_is_exact_under_the_limit_and_at_least_at_it(app: TestApp) {
    let a = app.partner("alpha").await;
    let b = app.partner("beta").await;
    let ada = app.admin_of(&a, "ada").await;
    let uma = app.member_of(&a, "uma").await;
    let bob = app.admin_of(&b, "bob").await;
    for i in 0..5 {
        app.provision(&ada, &format!("dental-{i}"), &format!("Dental {i}")).await;
    }
    app.provision(&ada, "plumbing", "Plumbing").await;
    app.provision(&bob, "dental-other", "Dental Other").await;
    app.assign(&ada, "dental-1", &[&uma], true).await;

    // Whole partner, no search (the counters): 6 clients.
    assert_eq!(count(&app, &ada.token, json!(null), None).await, (6, json!({ "count": 6, "precision": "EXACT" })));
    assert_eq!(count(&app, &ada.token, json!(null), Some(6)).await.1, json!({ "count": 6, "precision": "AT_LEAST" }));
    assert_eq!(count(&app, &ada.token, json!(null), Some(4)).await.1, json!({ "count": 4, "precision": "AT_LEAST" }));
    assert_eq!(count(&app, &ada.token, json!(null), Some(7)).await.1, json!({ "count": 6, "precision": "EXACT" }));
    // A search (rows counted up to the limit): 5 dental clients of alpha, none of beta's.
    let dental = json!({ "search": "dental" });
    assert_eq!(
        count(&app, &ada.token, dental.clone(), Some(10)).await,
        (5, json!({ "count": 5, "precision": "EXACT" }))
    );
    assert_eq!(
        count(&app, &ada.token, dental.clone(), Some(3)).await.1,
        json!({ "count": 3, "precision": "AT_LEAST" })
    );
    assert_eq!(
        count(&app, &ada.token, dental.clone(), Some(5)).await.1,
        json!({ "count": 5, "precision": "AT_LEAST" })
    );
    // Status filter.
    let none = json!({ "status": ["ACTIVE"] });
    assert_eq!(count(&app, &ada.token, none, Some(5)).await.1, json!({ "count": 0, "precision": "EXACT" }));
    // A partner user counts only assigned clients.
    assert_eq!(count(&app, &uma.token, json!(null), None).await, (1, json!({ "count": 1, "precision": "EXACT" })));
    assert_eq!(count(&app, &uma.token, dental, Some(1)).await.1, json!({ "count": 1, "precision": "AT_LEAST" }));
    // Search over contact fields: the administrator's count sees them, the
    // partner user's never does (helpers' contact is "Casey Contact").
    let contact = json!({ "search": "casey" });
    assert_eq!(count(&app, &ada.token, contact.clone(), Some(100)).await.1["count"], 6);
    assert_eq!(count(&app, &uma.token, contact, Some(100)).await.1["count"], 0);
    // The limit's bounds.
    for bad in [0, -1, 10_001] {
        let r = app.gql(&ada.token, Q, json!({ "l": bad })).await;
        assert_eq!(r.codes(), ["BAD_USER_INPUT"], "limit {bad}: {:#}", r.body);
    }
    assert_eq!(count(&app, &ada.token, json!(null), Some(10_000)).await.1["precision"], "EXACT");
    // A new client is counted at once (the cache is keyed by the partner's version).
    let searched = json!({ "search": "dental" });
    app.provision(&ada, "dental-9", "Dental 9").await;
    assert_eq!(count(&app, &ada.token, searched, Some(10)).await.1, json!({ "count": 6, "precision": "EXACT" }));
}

db_tests!(bounded_count_is_exact_under_the_limit_and_at_least_at_it);
