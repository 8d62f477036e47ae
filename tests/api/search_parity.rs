//! Search gives the same answers on SQLite (through the FTS5 trigram index,
//! issue 18) and on PostgreSQL (trigram GIN indexes): one data set
//! provisioned identically on both, a table of terms run through
//! `clients(filter: {search:})`, every page, `totalCount` and `count(limit:)`
//! compared between the databases and with a reference computed here (a
//! lower-cased substring of the fields the viewer may search). Without
//! `TEST_DATABASE_URL`, SQLite is compared with the reference only.

use crate::helpers::{client_input, spawn_app, spawn_postgres, spawn_with, Backend, Options, TestApp, UserFx};
use partner_clients::ops::admin::set_client_status;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

/// (clientId, businessName, contactName) of the partner under test; web
/// domains are `<clientId>.example.com`, e-mails `ops@<clientId>.example.com`.
const CLIENTS: &[(&str, &str, &str)] = &[
    ("acme-dental", "Acme Dental", "Casey Contact"),
    ("bright-dental", "Bright Dental Care", "Casey Contact"),
    ("fifty", "50% Off Dental", "Casey Contact"),
    ("fifty-plain", "50 Off Plumbing", "Casey Contact"),
    ("under", "a_b Plumbing", "Casey Contact"),
    ("nounder", "axb Plumbing", "Casey Contact"),
    ("slash", "Back\\slash Roofing", "Casey Contact"),
    ("buecher", "Bücher Haus", "Casey Contact"),
    ("buecherei", "BÜCHEREI Nord", "Casey Contact"),
    ("strasse", "Straße & Co", "Casey Contact"),
    ("strasse-caps", "STRASSE Partners", "Casey Contact"),
    ("cafe", "Café Olé", "Casey Contact"),
    ("tokyo-to", "東京都 Sushi", "Casey Contact"),
    ("tokyo", "東京 Ramen", "Casey Contact"),
    ("quoted", "Zoë's \"Quoted\" Bakery", "Casey Contact"),
    ("unicode", "Ünïcödé Lab", "Casey Contact"),
    ("istanbul", "İstanbul Kebab", "Casey Contact"),
    ("sofia", "ΣΟΦΙΑ Σπίτι", "Casey Contact"),
    ("secret", "Quiet Bakery", "Zephyrine Quill"),
    ("percent", "100%_Pure\\Juice", "Pat Percent"),
];
/// Filler clients, so that a rare term is rare in the partner too.
const FILLERS: usize = 24;
/// The other partner: the same words, never in the first partner's results.
const OTHERS: &[(&str, &str)] =
    &[("other-dental", "Acme Dental Elsewhere"), ("betaonly", "Betaonly Bakery"), ("other-buecher", "Bücher Zwei")];

const TERMS: &[&str] = &[
    // One and two characters: the LIKE scan on SQLite.
    "a",
    "é",
    "ß",
    "%",
    "_",
    "\\",
    "co",
    "bü",
    "東京",
    "\"",
    // Three and more: the index on SQLite when selective enough.
    "dental",
    "DENTAL",
    "  Dental  ",
    "acme dental",
    "50%",
    "0% o",
    "a_b",
    "_b p",
    "k\\s",
    "\\slash",
    "%_p",
    "0%_pure\\j",
    "bücher",
    "BÜCHER",
    "straße",
    "STRASSE",
    "café",
    "東京都",
    "\"quoted\"",
    "'s \"quoted",
    "zoë's",
    "σοφια",
    "i\u{307}stanbul",
    "istanbul",
    "ünïcödé",
    "ünï",
    "filler",
    "example",
    "plumbing",
    "bakery",
    "betaonly",
    "zzzq",
    "dental care",
    "bright-dental.example.com",
    // Contact fields: administrators only.
    "zephyr",
    "zephyrine quill",
    "casey",
    "ops@secret",
    "pat percent",
];

const PAGE: &str = "query($f: ClientFilter, $o: ClientOrder, $a: String) {
  clients(filter: $f, orderBy: $o, first: 4, after: $a) {
    totalCount
    three: count(limit: 3) { count precision }
    all: count { count precision }
    pageInfo { hasNextPage endCursor }
    nodes { clientId }
  }
}";

struct World {
    app: TestApp,
    admin: UserFx,
    member: UserFx,
}

/// The same partners, users, clients, statuses and assignments, in the same
/// order, on either database.
async fn provision(app: TestApp) -> World {
    let alpha = app.partner("alpha").await;
    let beta = app.partner("beta").await;
    let admin = app.admin_of(&alpha, "ada").await;
    let member = app.member_of(&alpha, "ben").await;
    let other = app.admin_of(&beta, "bob").await;
    for (i, (id, name, contact)) in all_clients().iter().enumerate() {
        let mut input = client_input(id, name);
        input["contactName"] = json!(contact);
        input["businessEmail"] = json!(format!("ops@{id}.example.com"));
        let r = app
            .gql(
                &admin.token,
                "mutation($i: ProvisionClientInput!) { provisionClient(input: $i) { created userErrors { message } } }",
                json!({ "i": input }),
            )
            .await;
        assert_eq!(r.ok()["provisionClient"]["created"], true, "{id}: {:#}", r.body);
        if i % 3 == 0 {
            set_client_status(&app.db, "alpha", id, "ACTIVE").await.unwrap();
        }
        if i % 2 == 0 || *id == "secret" {
            app.assign(&admin, id, &[&member], true).await;
        }
    }
    for (id, name) in OTHERS {
        app.provision(&other, id, name).await;
    }
    World { app, admin, member }
}

fn all_clients() -> Vec<(String, String, String)> {
    let named = CLIENTS.iter().map(|(i, n, c)| (i.to_string(), n.to_string(), c.to_string()));
    let fillers =
        (0..FILLERS).map(|i| (format!("filler-{i:02}"), format!("Filler Shop {i:02}"), "Casey Contact".into()));
    named.chain(fillers).collect()
}

/// What a search must find, worked out here: the trimmed, lower-cased term
/// as a substring of a field the viewer may search (ordered by clientId).
fn expected(term: &str, admin: bool, active_only: bool) -> Vec<String> {
    let mut ids = in_creation_order(term, admin, active_only);
    ids.sort();
    ids
}

/// [`expected`] in the order the clients were provisioned.
fn in_creation_order(term: &str, admin: bool, active_only: bool) -> Vec<String> {
    let t = term.trim().to_lowercase();
    all_clients()
        .into_iter()
        .enumerate()
        .filter(|(i, (id, ..))| admin || i % 2 == 0 || id == "secret")
        .filter(|(i, _)| !active_only || i % 3 == 0)
        .filter(|(_, (id, name, contact))| {
            let public = [id.as_str(), name, &format!("{id}.example.com")].map(|f| f.to_lowercase()).join("\u{1f}");
            let contact = [contact.as_str(), &format!("ops@{id}.example.com")].map(|f| f.to_lowercase()).join("\u{1f}");
            public.contains(&t) || (admin && contact.contains(&t))
        })
        .map(|(_, (id, ..))| id)
        .collect()
}

/// Every page of one search: (clientIds per page, totalCount, count(limit: 3), count).
async fn walk(app: &TestApp, token: &str, filter: &Value, order: &Value) -> (Vec<Vec<String>>, i64, Value, Value) {
    let (mut pages, mut after, mut first) = (Vec::new(), Value::Null, None);
    loop {
        let r = app.gql(token, PAGE, json!({ "f": filter, "o": order, "a": after })).await;
        let c = &r.ok()["clients"];
        pages.push(c["nodes"].as_array().unwrap().iter().map(|n| n["clientId"].as_str().unwrap().to_owned()).collect());
        first.get_or_insert_with(|| (c["totalCount"].as_i64().unwrap(), c["three"].clone(), c["all"].clone()));
        if c["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
    let (total, three, all) = first.unwrap();
    (pages, total, three, all)
}

const BACKWARD: &str = "query($f: ClientFilter, $o: ClientOrder, $b: String) {
  clients(filter: $f, orderBy: $o, last: 3, before: $b) {
    pageInfo { hasPreviousPage startCursor }
    nodes { clientId }
  }
}";

/// Every page of one search from the end, `last: 3` and `before:` the
/// previous page's startCursor: the clientIds in list order.
async fn walk_back(app: &TestApp, token: &str, filter: &Value, order: &Value) -> Vec<String> {
    let (mut pages, mut before) = (Vec::new(), Value::Null);
    loop {
        let r = app.gql(token, BACKWARD, json!({ "f": filter, "o": order, "b": before })).await;
        let c = &r.ok()["clients"];
        let page: Vec<String> =
            c["nodes"].as_array().unwrap().iter().map(|n| n["clientId"].as_str().unwrap().to_owned()).collect();
        pages.push(page);
        if c["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = c["pageInfo"]["startCursor"].clone();
    }
    pages.into_iter().rev().flatten().collect()
}

type Outcome = Vec<(String, (Vec<Vec<String>>, i64, Value, Value))>;

/// Run the term table on one database, checking each answer against the
/// reference as it goes.
async fn run_table(w: &World) -> Outcome {
    let mut out = Vec::new();
    let by_id = json!({ "field": "CLIENT_ID", "direction": "ASC" });
    let by_name_desc = json!({ "field": "BUSINESS_NAME", "direction": "DESC" });
    let by_created_desc = json!({ "field": "CREATED_AT", "direction": "DESC" });
    for term in TERMS {
        for (who, user, admin) in [("admin", &w.admin, true), ("member", &w.member, false)] {
            for active_only in [false, true] {
                let filter = if active_only {
                    json!({ "search": term, "status": ["ACTIVE"] })
                } else {
                    json!({ "search": term })
                };
                let want = expected(term, admin, active_only);
                let (pages, total, three, all) = walk(&w.app, &user.token, &filter, &by_id).await;
                let label = format!("{:?} {term:?} as {who}, active only {active_only}", w.app.backend);
                assert_eq!(pages.concat(), want, "{label}");
                assert_eq!(total, want.len() as i64, "{label}");
                let n = want.len() as i64;
                let precision = |l: i64| if n < l { "EXACT" } else { "AT_LEAST" };
                assert_eq!(three, json!({ "count": n.min(3), "precision": precision(3) }), "{label}");
                assert_eq!(all, json!({ "count": n, "precision": "EXACT" }), "{label}");
                out.push((format!("{label} by id"), (pages, total, three, all)));
                // Backward pages, and the other sort keys: the PostgreSQL search
                // picks each page in its own scan order from the cursor's key.
                assert_eq!(walk_back(&w.app, &user.token, &filter, &by_id).await, want, "{label} backward");
                let mut newest_first = in_creation_order(term, admin, active_only);
                newest_first.reverse();
                let (pages, ..) = walk(&w.app, &user.token, &filter, &by_created_desc).await;
                assert_eq!(pages.concat(), newest_first, "{label} newest first");
                assert_eq!(
                    walk_back(&w.app, &user.token, &filter, &by_created_desc).await,
                    newest_first,
                    "{label} newest first, backward"
                );
                let by_name = walk(&w.app, &user.token, &filter, &by_name_desc).await;
                out.push((format!("{label} by name"), by_name));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_term_table_answers_alike_on_sqlite_and_postgresql() {
    let sqlite = provision(spawn_app(Backend::Sqlite).await).await;
    let lite = run_table(&sqlite).await;
    assert!(lite.iter().any(|(_, (p, ..))| p.concat().len() > 4), "some searches span pages");
    let Some(pg) = spawn_postgres().await else { return };
    let pg = run_table(&provision(pg).await).await;
    assert_eq!(lite.len(), pg.len());
    for ((label, a), (_, b)) in lite.iter().zip(&pg) {
        assert_eq!(a, b, "SQLite and PostgreSQL differ: {label}");
    }
    // PostgreSQL's sorted pages first walk the sort index for at most
    // `app.search_walk_cap` rows (m20261211); this data never fills it. With
    // a cap of one row nearly every page takes the fallback instead.
    let opts = Options { database_settings: vec![("app.search_walk_cap", "1")], ..Options::default() };
    let capped = spawn_with(Backend::Postgres, opts).await.expect("TEST_DATABASE_URL");
    let capped = run_table(&provision(capped).await).await;
    for ((label, a), (_, b)) in lite.iter().zip(&capped) {
        assert_eq!(a, b, "SQLite and PostgreSQL with the walk capped at one row differ: {label}");
    }
}

/// The project's SQLite (the library sqlx bundles) has FTS5 with the
/// trigram tokenizer, which the migration relies on.
#[tokio::test]
async fn bundled_sqlite_has_fts5_trigram() {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT sqlite_version() AS v"));
    let version: String = row.await.unwrap().unwrap().try_get("", "v").unwrap();
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(parts[..2] >= [3, 34][..], "SQLite {version} has no trigram tokenizer");
    db.execute_unprepared("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'trigram')").await.unwrap();
    db.execute_unprepared("INSERT INTO t (x) VALUES ('Acme Dental')").await.unwrap();
    let n = db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT count(*) AS n FROM t WHERE t MATCH '\"dent\"'",
    ));
    assert_eq!(n.await.unwrap().unwrap().try_get::<i64>("", "n").unwrap(), 1);
}

async fn ids(w: &World, term: &str) -> Vec<String> {
    walk(&w.app, &w.admin.token, &json!({ "search": term }), &json!({ "field": "CLIENT_ID", "direction": "ASC" }))
        .await
        .0
        .concat()
}

async fn sql(app: &TestApp, s: &str) {
    app.db.execute_unprepared(s).await.unwrap_or_else(|e| panic!("{s}: {e}"));
}

/// SQLite: a selective term of three or more characters is answered from the
/// index (a client taken out of the index is not found), a common or short
/// one by the scan; the triggers keep the index in step with inserts,
/// updates and deletes (FTS5's integrity check compares it with the table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_searches_through_the_index_kept_in_step() {
    let w = provision(spawn_app(Backend::Sqlite).await).await;
    let check = "INSERT INTO client_search_index (client_search_index, rank) VALUES ('integrity-check', 1)";
    sql(&w.app, check).await;
    assert_eq!(ids(&w, "bücher").await, ["buecher", "buecherei"]);
    // Take one client out of the index (an external-content delete needs its values).
    sql(
        &w.app,
        "INSERT INTO client_search_index (client_search_index, rowid, search_public, search_contact) \
         SELECT 'delete', ((SELECT rowid FROM partners WHERE id = partner_id) << 32) | rowid, \
         search_public, search_contact FROM clients WHERE client_id = 'buecher'",
    )
    .await;
    assert_eq!(ids(&w, "bücher").await, ["buecherei"], "a selective term goes through the index");
    assert!(ids(&w, "bü").await.contains(&"buecher".to_owned()), "two characters: the scan");
    assert!(ids(&w, "example").await.contains(&"buecher".to_owned()), "a common term: the scan");
    sql(&w.app, "INSERT INTO client_search_index (client_search_index) VALUES ('rebuild')").await;
    assert_eq!(ids(&w, "bücher").await, ["buecher", "buecherei"]);

    // An update of the search text moves the index with it.
    sql(&w.app, "UPDATE clients SET search_public = 'renamed-xyz' WHERE client_id = 'cafe'").await;
    sql(&w.app, check).await;
    assert_eq!(ids(&w, "renamed-xyz").await, ["cafe"]);
    assert_eq!(ids(&w, "café").await, Vec::<String>::new());
    // So does a delete.
    for s in [
        "DELETE FROM audit_events WHERE client_uuid = (SELECT id FROM clients WHERE client_id = 'cafe')",
        "DELETE FROM client_assignments WHERE client_uuid = (SELECT id FROM clients WHERE client_id = 'cafe')",
        "DELETE FROM clients WHERE client_id = 'cafe'",
        check,
    ] {
        sql(&w.app, s).await;
    }
    assert_eq!(ids(&w, "renamed-xyz").await, Vec::<String>::new());
}
