//! Which partner users work on a client, and the support-contact rule.
//!
//! Concurrency: every change runs in one write transaction that first locks
//! the client row (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's IMMEDIATE
//! transaction holds the database write lock from BEGIN), then reads the
//! assignments, checks the rule and writes. Two removals of the last two
//! support contacts therefore run one after the other, and the second sees
//! the first's result and is refused: the write skew that READ COMMITTED (or
//! REPEATABLE READ) allows without the lock cannot happen.

use super::{audit, UserError, UserErrorCode};
use crate::domain::AuditAction;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::policy::{Capability, Principal};
use crate::repo;
use crate::repo::assignments::NewAssignment;
use crate::tenant::TenantDb;
use entity::{client, client_assignment};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Assignments of many clients at once (the DataLoader's batch), each list
/// ordered by assignment time. The clients were resolved through the
/// principal's scope first.
pub async fn for_clients(
    db: &impl ConnectionTrait,
    client_uuids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<client_assignment::Model>>> {
    repo::assignments::for_clients(db, client_uuids).await
}

/// The outcome of an assignment mutation: the client (when it was found)
/// and what the user can fix.
pub struct Outcome {
    pub client: client::Model,
    pub errors: Vec<UserError>,
}

/// A user id as the client sent it: already decoded from its global id, or
/// `None` when it was not a PartnerUser id at all.
pub type UserRef = Option<Uuid>;

pub struct AssignInput<'a> {
    pub client_id: &'a str,
    pub user_ids: &'a [UserRef],
    pub support_contact: bool,
}

/// Begin the write transaction, check the capability and lock the client.
async fn open(db: &TenantDb, p: &Principal, client_id: &str) -> Result<(DatabaseTransaction, client::Model)> {
    p.require(Capability::ManageAssignments)?;
    let txn = db.writer().await?;
    let client = repo::clients::lock(&txn, p, client_id).await?;
    Ok((txn, client))
}

fn event(p: &Principal, subject: Uuid, action: AuditAction, details: serde_json::Value) -> audit::Event {
    audit::Event { actor_id: Some(p.user_id), subject_user_id: Some(subject), action, details }
}

pub async fn assign(
    db: &TenantDb,
    metrics: &Metrics,
    p: &Principal,
    input: AssignInput<'_>,
    max_ids: usize,
) -> Result<Outcome> {
    let (txn, client) = open(db, p, input.client_id).await?;
    let refuse = |errors: Vec<UserError>, client: client::Model| Ok(Outcome { client, errors });
    if input.user_ids.is_empty() {
        return refuse(vec![UserError::new(&["userIds"], UserErrorCode::Invalid, "list at least one user")], client);
    }
    if input.user_ids.len() > max_ids {
        return refuse(
            vec![UserError::new(
                &["userIds"],
                UserErrorCode::TooMany,
                format!("assign at most {max_ids} users at once"),
            )],
            client,
        );
    }
    let wanted: Vec<Uuid> = input.user_ids.iter().flatten().copied().collect();
    let eligible: HashSet<Uuid> = repo::users::assignable(&txn, p, &wanted).await?;
    let errors: Vec<UserError> = input
        .user_ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !id.is_some_and(|id| eligible.contains(&id)))
        .map(|(i, _)| {
            UserError::new(
                &["userIds", &i.to_string()],
                UserErrorCode::UserNotEligible,
                "this user cannot be assigned: only active users of your organisation are eligible",
            )
        })
        .collect();
    if !errors.is_empty() {
        return refuse(errors, client);
    }
    let already: HashSet<Uuid> = repo::assignments::user_ids(&txn, client.id).await?;
    let mut seen = HashSet::new();
    let new: Vec<Uuid> = wanted.into_iter().filter(|id| !already.contains(id) && seen.insert(*id)).collect();
    let mut changes = Vec::with_capacity(new.len());
    if !new.is_empty() {
        let now = super::now();
        let rows = new.iter().map(|&user_id| NewAssignment {
            client_uuid: client.id,
            user_id,
            support_contact: input.support_contact,
            assigned_by: Some(p.user_id),
            assigned_at: now,
        });
        repo::assignments::insert_many(&txn, rows).await?;
        repo::counts::bump_version(&txn, p.partner_id).await?;
        for &user_id in &new {
            let details = serde_json::json!({ "supportContact": input.support_contact });
            changes.push(audit::record(&txn, &client, event(p, user_id, AuditAction::UserAssigned, details)).await?);
        }
    }
    crate::live::commit(txn, changes).await?;
    Metrics::count(&metrics.assignment_changes, "assigned", new.len() as u64);
    Ok(Outcome { client, errors: vec![] })
}

/// Would taking away `user`'s support-contact role leave a client that
/// requires one with none?
async fn breaks_support_rule(
    txn: &DatabaseTransaction,
    client: &client::Model,
    target: &client_assignment::Model,
) -> Result<bool> {
    if !client.support_contact_required || !target.support_contact {
        return Ok(false);
    }
    Ok(!repo::assignments::other_support_contact(txn, client.id, target.user_id).await?)
}

fn support_required() -> UserError {
    UserError::new(
        &["userId"],
        UserErrorCode::SupportContactRequired,
        "this client must keep at least one support contact: make another assigned user a support contact first",
    )
}

fn not_assigned() -> UserError {
    UserError::new(&["userId"], UserErrorCode::NotAssigned, "this user is not assigned to the client")
}

async fn assignment(
    txn: &DatabaseTransaction,
    client: &client::Model,
    user: UserRef,
) -> Result<Option<client_assignment::Model>> {
    let Some(user_id) = user else { return Ok(None) };
    repo::assignments::get(txn, client.id, user_id).await
}

pub async fn unassign(
    db: &TenantDb,
    metrics: &Metrics,
    p: &Principal,
    client_id: &str,
    user: UserRef,
) -> Result<Outcome> {
    let (txn, client) = open(db, p, client_id).await?;
    let Some(target) = assignment(&txn, &client, user).await? else {
        return Ok(Outcome { client, errors: vec![not_assigned()] });
    };
    if breaks_support_rule(&txn, &client, &target).await? {
        return Ok(Outcome { client, errors: vec![support_required()] });
    }
    repo::assignments::delete(&txn, client.id, target.user_id).await?;
    repo::counts::bump_version(&txn, p.partner_id).await?;
    let change =
        audit::record(&txn, &client, event(p, target.user_id, AuditAction::UserUnassigned, serde_json::json!({})))
            .await?;
    crate::live::commit(txn, vec![change]).await?;
    Metrics::count(&metrics.assignment_changes, "unassigned", 1);
    Ok(Outcome { client, errors: vec![] })
}

pub async fn set_support_contact(
    db: &TenantDb,
    metrics: &Metrics,
    p: &Principal,
    client_id: &str,
    user: UserRef,
    support_contact: bool,
) -> Result<Outcome> {
    let (txn, client) = open(db, p, client_id).await?;
    let Some(target) = assignment(&txn, &client, user).await? else {
        return Ok(Outcome { client, errors: vec![not_assigned()] });
    };
    if target.support_contact == support_contact {
        // Already so: nothing to write, no event.
        return Ok(Outcome { client, errors: vec![] });
    }
    if !support_contact && breaks_support_rule(&txn, &client, &target).await? {
        return Ok(Outcome { client, errors: vec![support_required()] });
    }
    let user_id = target.user_id;
    repo::assignments::set_support_contact(&txn, target, support_contact).await?;
    let (action, kind) = if support_contact {
        (AuditAction::SupportContactSet, "support_contact_set")
    } else {
        (AuditAction::SupportContactUnset, "support_contact_unset")
    };
    let change = audit::record(&txn, &client, event(p, user_id, action, serde_json::json!({}))).await?;
    crate::live::commit(txn, vec![change]).await?;
    Metrics::count(&metrics.assignment_changes, kind, 1);
    Ok(Outcome { client, errors: vec![] })
}
