//! AiDial's own operations (the `admin` CLI): accounts and client status.
//! Not reachable through GraphQL.

use crate::db::begin_write;
use crate::domain::{AuditAction, BusinessEmail, ClientId, ClientStatus, PlainText, Role};
use crate::repo::counts::{bump as bump_count, bump_version};
use crate::repo::{clients, partners, users};
use crate::service::{audit, now};
use anyhow::{anyhow, bail, Context, Result};
use entity::{client, partner, user};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

/// A partner slug: the same shape as a client ID.
pub async fn create_partner(db: &impl ConnectionTrait, slug: &str, name: &str) -> Result<partner::Model> {
    let slug = ClientId::parse(slug).map_err(|e| anyhow!("--slug {e}"))?;
    let name = PlainText::parse(name).map_err(|e| anyhow!("--name {e}"))?;
    if partners::by_slug(db, slug.as_str()).await?.is_some() {
        bail!("a partner with slug {slug} already exists");
    }
    let row = partner::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(slug.into_inner()),
        name: Set(name.into_inner()),
        created_at: Set(now()),
        clients_version: Set(0),
    };
    Ok(partners::insert(db, row).await?)
}

pub async fn partner_by_slug(db: &impl ConnectionTrait, slug: &str) -> Result<partner::Model> {
    partners::by_slug(db, slug).await?.ok_or_else(|| anyhow!("no partner with slug {slug:?}"))
}

/// E-mail addresses are stored lower-case: they are login names, unique
/// regardless of case.
pub async fn create_user(
    db: &impl ConnectionTrait,
    partner_slug: Option<&str>,
    email: &str,
    name: &str,
    role: &str,
) -> Result<user::Model> {
    let role: Role = role.parse().map_err(|e: crate::domain::Invalid| anyhow!("--role: {e}"))?;
    let email = BusinessEmail::parse(email).map_err(|e| anyhow!("--email {e}"))?.as_str().to_lowercase();
    let name = PlainText::parse(name).map_err(|e| anyhow!("--name {e}"))?;
    let partner_id = match (partner_slug, role.is_partner()) {
        (Some(slug), _) => Some(partner_by_slug(db, slug).await?.id),
        (None, true) => bail!("--partner is required for role {role}"),
        (None, false) => None,
    };
    if users::by_email(db, &email).await?.is_some() {
        bail!("a user with e-mail {email} already exists");
    }
    let row = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        partner_id: Set(partner_id),
        email: Set(email),
        display_name: Set(name.into_inner()),
        role: Set(role.as_str().to_owned()),
        active: Set(true),
        created_at: Set(now()),
    };
    Ok(users::insert(db, row).await?)
}

/// Looks the address up in the form `create_user` stored it (punycode domain,
/// lower-case), so `jo@bücher.de` finds `jo@xn--bcher-kva.de`.
pub async fn user_by_email(db: &impl ConnectionTrait, email: &str) -> Result<user::Model> {
    let email = match BusinessEmail::parse(email) {
        Ok(e) => e.as_str().to_lowercase(),
        Err(_) => email.trim().to_lowercase(),
    };
    users::by_email(db, &email).await?.ok_or_else(|| anyhow!("no user with e-mail {email:?}"))
}

pub async fn deactivate_user(db: &impl ConnectionTrait, email: &str) -> Result<user::Model> {
    let u = user_by_email(db, email).await?;
    Ok(users::deactivate(db, u).await?)
}

/// Change a client's status, keeping the counters and the audit trail in the
/// same transaction. Setting the status it already has changes nothing.
pub async fn set_client_status(
    db: &DatabaseConnection,
    partner_slug: &str,
    client_id: &str,
    status: &str,
) -> Result<client::Model> {
    let status: ClientStatus = status.parse().map_err(|e: crate::domain::Invalid| anyhow!("--status: {e}"))?;
    let txn = begin_write(db).await?;
    let partner = partner_by_slug(&txn, partner_slug).await?;
    let c = clients::lock_of_partner(&txn, partner.id, client_id)
        .await?
        .with_context(|| format!("no client {client_id:?} for partner {partner_slug:?}"))?;
    let old: ClientStatus = c.status.parse().map_err(|e: crate::domain::Invalid| anyhow!("{e}"))?;
    if old == status {
        return Ok(c);
    }
    let updated = clients::set_status(&txn, c, status, now()).await?;
    bump_count(&txn, partner.id, old, -1).await.context("updating the status counters")?;
    bump_count(&txn, partner.id, status, 1).await.context("updating the status counters")?;
    bump_version(&txn, partner.id).await.context("bumping the partner's clients version")?;
    let change = audit::record(
        &txn,
        &updated,
        audit::Event {
            actor_id: None,
            subject_user_id: None,
            action: AuditAction::ClientStatusChanged,
            details: serde_json::json!({ "from": old.as_str(), "to": status.as_str() }),
        },
    )
    .await
    .context("recording the audit event")?;
    // Subscribers on every replica hear of it once committed (on SQLite,
    // only those of this process: see README, "Live updates").
    crate::live::commit(txn, vec![change]).await?;
    Ok(updated)
}
