//! `serve --demo`: realistic demo data, seeded once, and the one list of
//! the accounts it creates.
//!
//! A demo account is recognised by its e-mail address: every one the demo
//! seeds is listed here ([`is_demo_account`]), all under `.example` domains,
//! which RFC 2606 reserves, so no real person's account can carry one, and
//! e-mail addresses are unique, so a real account cannot share one with a
//! demo account either. `serve --demo` refuses a database with any other
//! account ([`refuse_foreign_accounts`]), and the public demo key signs in
//! only these accounts (`auth.rs`).

use super::admin;
use super::synthetic::{self, Rng};
use crate::domain::{AuditAction, ClientStatus};
use crate::repo::{audit, bulk, counts::recount, partners, users};
use anyhow::{bail, Context, Result};
use entity::user;
use sea_orm::{DatabaseConnection, TransactionTrait};
use uuid::Uuid;

/// A demo account and the token line printed for it.
pub struct DemoAccount {
    pub label: &'static str,
    pub email: &'static str,
}

pub const ACCOUNTS: &[DemoAccount] = &[
    DemoAccount { label: "Northwind admin (partner_admin)", email: "ada@northwind.example" },
    DemoAccount { label: "Northwind user (partner_user)", email: "ben@northwind.example" },
    DemoAccount { label: "Bluepeak admin (partner_admin)", email: "cleo@bluepeak.example" },
    DemoAccount { label: "Bluepeak user (partner_user)", email: "dev@bluepeak.example" },
    DemoAccount { label: "Customer admin (refused: FORBIDDEN)", email: "owner@acme-dental.example" },
    DemoAccount { label: "AiDial staff (refused: FORBIDDEN)", email: "ops@aidial.example" },
];

/// The demo's partners: slug, name, number of clients, and staff handles
/// (`handle@slug.example`): the first is the administrator, the last has left.
const ORGS: &[(&str, &str, usize, &[&str])] = &[
    ("northwind", "Northwind Agency", 180, &["ada", "ben", "bo", "ines"]),
    ("bluepeak", "Bluepeak Partners", 120, &["cleo", "dev", "finn"]),
];

/// The demo's accounts outside any partner: e-mail, name, role.
const OUTSIDERS: &[(&str, &str, &str)] = &[
    ("owner@acme-dental.example", "Olive Owner", "customer_admin"),
    ("ops@aidial.example", "Oscar Ops", "aidial_staff"),
];

/// Every e-mail address the demo seeds, derived from the two lists above.
static EMAILS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    let staff = ORGS.iter().flat_map(|(slug, _, _, people)| people.iter().map(move |h| format!("{h}@{slug}.example")));
    OUTSIDERS.iter().map(|(e, _, _)| (*e).to_owned()).chain(staff).collect()
});

/// Whether `email` (as stored: lower case) is an account the demo seeds.
pub fn is_demo_account(email: &str) -> bool {
    EMAILS.iter().any(|e| e == email)
}

/// Fail when the database holds an account the demo did not create: the
/// demo key is public, and the demo must not run beside real accounts.
pub async fn refuse_foreign_accounts(db: &DatabaseConnection) -> Result<()> {
    let foreign = users::count_other_than(db, &EMAILS).await?;
    if foreign > 0 {
        bail!(
            "refusing --demo: the database holds {foreign} account(s) the demo did not create, and demo tokens are signed with a public key; point DATABASE_URL at a fresh database or run without --demo"
        );
    }
    Ok(())
}

/// Seed the demo data unless it is already there. Returns whether it seeded.
///
/// Names come from the shared generator; the shape is fixed by position, so
/// every run and every database gets the same demo: statuses in turn, one
/// client in ten without a required support contact, 1-3 assignees (the
/// first the support contact), one in 23 with an internationalised domain.
pub async fn seed(db: &DatabaseConnection) -> Result<bool> {
    if partners::by_slug(db, "northwind").await?.is_some() {
        return Ok(false);
    }
    let txn = db.begin().await?;
    let mut rng = Rng::new(0xde30);
    for &(slug, name, n_clients, people) in ORGS {
        let org = admin::create_partner(&txn, slug, name).await?;
        let mut staff: Vec<user::Model> = Vec::new();
        for (i, handle) in people.iter().enumerate() {
            let role = if i == 0 { "partner_admin" } else { "partner_user" };
            let display = format!("{}{}", handle[..1].to_uppercase(), &handle[1..]);
            let email = format!("{handle}@{slug}.example");
            staff.push(admin::create_user(&txn, Some(slug), &email, &format!("{display} ({name})"), role).await?);
        }
        // The last person has left the agency: inactive, never eligible.
        let (admin_user, left) = match staff.as_slice() {
            [first, .., last] => (first.id, admin::deactivate_user(&txn, &last.email).await?.id),
            _ => bail!("demo partner {slug} needs an administrator and a leaver"),
        };
        let active: Vec<&user::Model> = staff.iter().filter(|u| u.id != left).collect();

        let mut rows = Vec::new();
        let mut assignments = Vec::new();
        let mut events = Vec::new();
        for i in 0..n_clients {
            let mut input = synthetic::profile(&mut rng, i as u64);
            input.support_contact_required = Some(i % 10 != 0);
            if i % 23 == 0 {
                input.web_domain = format!("{}-bücher.de", input.client_id);
            }
            let status = ClientStatus::ALL[i % ClientStatus::ALL.len()];
            let created = crate::service::now() - chrono::Duration::hours((n_clients - i) as i64 * 7);
            let client_uuid = Uuid::now_v7();
            rows.push(synthetic::client_row(client_uuid, org.id, &input, status, created)?);
            let event = |action: AuditAction, subject: Option<Uuid>, details: serde_json::Value| {
                let e = audit::Event {
                    partner_id: org.id,
                    client_uuid: Some(client_uuid),
                    actor_id: Some(admin_user),
                    subject_user_id: subject,
                    action,
                    details,
                };
                e.row(Uuid::now_v7(), created)
            };
            // The same trail the API would have written.
            events.push(event(
                AuditAction::ClientProvisioned,
                None,
                serde_json::json!({ "clientId": input.client_id }),
            ));
            // 1-3 assignees, the first of them the support contact.
            for k in 0..(1 + i % 3).min(active.len()) {
                let u = active[(i + k) % active.len()];
                assignments.push(synthetic::assignment(client_uuid, u.id, k == 0, admin_user, created));
                events.push(event(
                    AuditAction::UserAssigned,
                    Some(u.id),
                    serde_json::json!({ "supportContact": k == 0 }),
                ));
            }
        }
        bulk::insert_all(&txn, &rows).await?;
        bulk::insert_all(&txn, &assignments).await?;
        bulk::insert_all(&txn, &events).await?;
    }
    for (email, name, role) in OUTSIDERS {
        admin::create_user(&txn, None, email, name, role).await?;
    }
    recount(&txn).await.context("counting the demo clients")?;
    txn.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_accounts_are_exactly_the_seeded_addresses() {
        for acct in ACCOUNTS {
            assert!(is_demo_account(acct.email), "{}", acct.email);
        }
        for (email, demo) in [
            ("bo@northwind.example", true),
            ("finn@bluepeak.example", true),
            ("ops@aidial.example", true),
            ("eve@northwind.example", false),
            ("ada@bluepeak.example", false),
            ("ada@northwind.example.com", false),
            ("ADA@northwind.example", false),
            ("ada@acme.example", false),
            ("", false),
        ] {
            assert_eq!(is_demo_account(email), demo, "{email}");
        }
        assert_eq!(EMAILS.len(), 9);
    }
}
