//! `serve --demo`: realistic demo data, seeded once.

use super::admin;
use super::clients::{recount, row_for, ProvisionInput};
use crate::domain::{AuditAction, ClientStatus};
use anyhow::{anyhow, Result};
use entity::{audit_event, client, client_assignment, partner, user};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait};

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

const PREFIXES: &[&str] = &[
    "Acme",
    "Bright",
    "Cedar",
    "Summit",
    "Harbor",
    "Maple",
    "Golden",
    "Silver",
    "Riverside",
    "Oak",
    "Pioneer",
    "Lakeside",
    "Northgate",
    "Evergreen",
    "Blue Sky",
    "Redwood",
    "Sunrise",
    "Granite",
    "Willow",
    "Metro",
    "Coastal",
    "Prairie",
    "Highland",
    "Union",
    "Liberty",
];
const TRADES: &[(&str, &str)] = &[
    ("Dental", "dental"),
    ("Dentistry", "dentistry"),
    ("Plumbing", "plumbing"),
    ("Law Group", "law"),
    ("Veterinary Clinic", "vet"),
    ("Auto Repair", "autorepair"),
    ("Realty", "realty"),
    ("Roofing", "roofing"),
    ("Physiotherapy", "physio"),
    ("Bakery", "bakery"),
    ("HVAC", "hvac"),
    ("Insurance", "insurance"),
];
const FIRST: &[&str] =
    &["Maria", "James", "Aisha", "Chen", "Lukas", "Sofia", "Omar", "Priya", "Tom", "Elena", "Kenji", "Zoë"];
const LAST: &[&str] =
    &["García", "Smith", "Khan", "Li", "Müller", "Rossi", "Haddad", "Patel", "Jones", "Novak", "Sato", "Dubois"];
const ZONES: &[&str] = &[
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
];

/// Seed the demo data unless it is already there. Returns whether it seeded.
pub async fn seed(db: &DatabaseConnection) -> Result<bool> {
    if partner::Entity::find().filter(partner::Column::Slug.eq("northwind")).one(db).await?.is_some() {
        return Ok(false);
    }
    let txn = db.begin().await?;
    let orgs = [
        ("northwind", "Northwind Agency", 180usize, &["ada", "ben", "bo", "ines"][..]),
        ("bluepeak", "Bluepeak Partners", 120, &["cleo", "dev", "finn"][..]),
    ];
    let mut serial = 0u64;
    for (slug, name, n_clients, people) in orgs {
        let org = admin::create_partner(&txn, slug, name).await?;
        let domain = format!("{slug}.example");
        let mut staff: Vec<user::Model> = Vec::new();
        for (i, handle) in people.iter().enumerate() {
            let role = if i == 0 { "partner_admin" } else { "partner_user" };
            let display = format!("{}{}", handle[..1].to_uppercase(), &handle[1..]);
            let u = admin::create_user(
                &txn,
                Some(slug),
                &format!("{handle}@{domain}"),
                &format!("{display} ({name})"),
                role,
            )
            .await?;
            staff.push(u);
        }
        // The last person has left the agency: inactive, never eligible.
        let left = admin::deactivate_user(&txn, &staff[staff.len() - 1].email).await?;
        let active: Vec<&user::Model> = staff.iter().filter(|u| u.id != left.id).collect();

        let mut rows = Vec::new();
        let mut assignments = Vec::new();
        let mut events = Vec::new();
        for i in 0..n_clients {
            serial += 1;
            let prefix = PREFIXES[(i * 7 + serial as usize) % PREFIXES.len()];
            let (trade, trade_slug) = TRADES[(i * 5 + 3) % TRADES.len()];
            let business_name = format!("{prefix} {trade}");
            let base = format!("{}-{}", prefix.to_lowercase().replace(' ', ""), trade_slug);
            let client_id = format!("{base}-{i:03}");
            let first = FIRST[i % FIRST.len()];
            let last = LAST[(i / 3) % LAST.len()];
            let input = ProvisionInput {
                client_id,
                business_name,
                web_domain: if i % 23 == 0 { format!("{}-bücher.de", base) } else { format!("{base}{i}.com") },
                contact_name: format!("{first} {last}"),
                business_email: format!("{}.{}@{base}{i}.com", first.to_lowercase(), i),
                timezone: ZONES[i % ZONES.len()].to_owned(),
                support_contact_required: i % 10 != 0,
            };
            let status = ClientStatus::ALL[i % ClientStatus::ALL.len()];
            let created = crate::service::now() - chrono::Duration::hours((n_clients - i) as i64 * 7);
            let row = row_for(org.id, &input, status, created).map_err(|e| anyhow!("demo row invalid: {e:?}"))?;
            let client_uuid = row.id.clone().unwrap();
            let event = |action: AuditAction, subject: Option<uuid::Uuid>, details: serde_json::Value| {
                audit_event::ActiveModel {
                    id: Set(uuid::Uuid::now_v7()),
                    partner_id: Set(org.id),
                    client_uuid: Set(Some(client_uuid)),
                    actor_id: Set(Some(staff[0].id)),
                    subject_user_id: Set(subject),
                    action: Set(action.as_str().to_owned()),
                    details: Set(details),
                    occurred_at: Set(created),
                }
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
                assignments.push(client_assignment::ActiveModel {
                    client_uuid: Set(client_uuid),
                    user_id: Set(u.id),
                    support_contact: Set(k == 0),
                    assigned_by: Set(Some(staff[0].id)),
                    assigned_at: Set(created),
                });
                events.push(event(
                    AuditAction::UserAssigned,
                    Some(u.id),
                    serde_json::json!({ "supportContact": k == 0 }),
                ));
            }
            rows.push(row);
        }
        for chunk in rows.chunks(100) {
            client::Entity::insert_many(chunk.to_vec()).exec_without_returning(&txn).await?;
        }
        for chunk in assignments.chunks(100) {
            client_assignment::Entity::insert_many(chunk.to_vec()).exec_without_returning(&txn).await?;
        }
        for chunk in events.chunks(100) {
            audit_event::Entity::insert_many(chunk.to_vec()).exec_without_returning(&txn).await?;
        }
    }
    admin::create_user(&txn, None, "owner@acme-dental.example", "Olive Owner", "customer_admin").await?;
    admin::create_user(&txn, None, "ops@aidial.example", "Oscar Ops", "aidial_staff").await?;
    recount(&txn).await.map_err(|e| anyhow!(e.detail()))?;
    txn.commit().await?;
    Ok(true)
}
