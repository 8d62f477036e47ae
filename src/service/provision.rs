//! Provisioning a client profile: parse every field, then one transaction
//! that looks, inserts, moves the counters and records the audit event.

use super::{audit, UserError, UserErrorCode};
use crate::domain::{AuditAction, BusinessEmail, ClientId, ClientStatus, NewClient, PlainText, Timezone, WebDomain};
use crate::error::{AppError, Result};
use crate::metrics::Metrics;
use crate::policy::{Capability, Principal};
use crate::repo;
use crate::tenant::TenantDb;
use entity::client;
use uuid::Uuid;

/// A new client profile. Every field is checked and every problem reported
/// at once, as `userErrors` with code `INVALID` and `field` naming the input
/// field; nothing is written then. Free text may not contain control or
/// invisible format characters.
//
// provisionClient's input as the client sent it, and the schema's
// `ProvisionClientInput` itself: one definition, so the doc comments above
// and on the fields are the schema's descriptions. The derive is the edge
// conversion (as the domain enums derive `async_graphql::Enum`); a mirror
// type in `graphql/` would only copy these seven fields over.
#[derive(async_graphql::InputObject, Clone, Debug)]
#[graphql(name = "ProvisionClientInput")]
pub struct ProvisionInput {
    /// The partner's own identifier for the client: 3 to 64 characters of
    /// `a-z`, `0-9` and `-`, starting and ending with a letter or digit,
    /// unique within the partner (a different client under a taken one is
    /// `TAKEN`).
    pub client_id: String,
    /// The business name, 1 to 200 characters once trimmed.
    pub business_name: String,
    /// The client's web host name only (no scheme, path or port), e.g.
    /// `example.com`; stored lower-case, an internationalised name in its
    /// ASCII (punycode) form.
    pub web_domain: String,
    /// The contact person's name, 1 to 200 characters once trimmed.
    pub contact_name: String,
    /// The client's business e-mail address; its domain is stored in ASCII
    /// (punycode) form.
    pub business_email: String,
    /// An IANA time-zone name, e.g. `Europe/Berlin`.
    pub timezone: String,
    /// Whether the client must keep a support contact once it has one (see
    /// `Client.supportContactRequired`). Defaults to true; null means the
    /// default.
    #[graphql(default_with = "Some(true)")]
    pub support_contact_required: Option<bool>,
}

/// Parse every field, reporting all problems at once.
fn parse(i: &ProvisionInput) -> Result<NewClient, Vec<UserError>> {
    let mut errors = Vec::new();
    let mut check = |field: &str, r: Result<(), crate::domain::Invalid>| {
        if let Err(e) = r {
            errors.push(UserError::new(&[field], UserErrorCode::Invalid, e.0));
        }
    };
    let client_id = ClientId::parse(&i.client_id);
    let business_name = PlainText::parse(&i.business_name);
    let web_domain = WebDomain::parse(&i.web_domain);
    let contact_name = PlainText::parse(&i.contact_name);
    let business_email = BusinessEmail::parse(&i.business_email);
    let timezone = Timezone::parse(&i.timezone);
    check("clientId", client_id.as_ref().map(|_| ()).map_err(Clone::clone));
    check("businessName", business_name.as_ref().map(|_| ()).map_err(Clone::clone));
    check("webDomain", web_domain.as_ref().map(|_| ()).map_err(Clone::clone));
    check("contactName", contact_name.as_ref().map(|_| ()).map_err(Clone::clone));
    check("businessEmail", business_email.as_ref().map(|_| ()).map_err(Clone::clone));
    check("timezone", timezone.as_ref().map(|_| ()).map_err(Clone::clone));
    match (client_id, business_name, web_domain, contact_name, business_email, timezone) {
        (Ok(client_id), Ok(business_name), Ok(web_domain), Ok(contact_name), Ok(business_email), Ok(timezone)) => {
            Ok(NewClient {
                client_id,
                business_name,
                web_domain,
                contact_name,
                business_email,
                timezone,
                support_contact_required: i.support_contact_required.unwrap_or(true),
            })
        }
        _ => Err(errors),
    }
}

/// Is the stored client what this input would have created?
fn same_as(new: &NewClient, c: &client::Model) -> bool {
    c.client_id == new.client_id.as_str()
        && c.business_name == new.business_name.as_str()
        && c.web_domain == new.web_domain.as_str()
        && c.contact_name == new.contact_name.as_str()
        && c.business_email == new.business_email.as_str()
        && c.timezone == new.timezone.as_str()
        && c.support_contact_required == new.support_contact_required
}

/// A client row built from provisioning input, for bulk loaders (demo and
/// benchmark data) that insert many rows at once and then recount.
pub fn row_for(
    partner_id: Uuid,
    input: &ProvisionInput,
    status: ClientStatus,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<client::ActiveModel, Vec<UserError>> {
    Ok(repo::clients::row(partner_id, &parse(input)?, status, created_at))
}

pub enum ProvisionOutcome {
    Created(client::Model),
    /// The same input again: the existing client, nothing written.
    Existing(client::Model),
    Rejected(Vec<UserError>),
}

pub async fn provision(
    db: &TenantDb,
    metrics: &Metrics,
    p: &Principal,
    input: &ProvisionInput,
) -> Result<ProvisionOutcome> {
    p.require(Capability::ProvisionClients)?;
    let new = match parse(input) {
        Ok(n) => n,
        Err(errors) => return Ok(ProvisionOutcome::Rejected(errors)),
    };
    let txn = db.writer().await?;
    // Look first: a retry must not depend on the insert failing.
    if let Some(existing) = repo::clients::find(&txn, p, new.client_id.as_str()).await? {
        return Ok(same_or_taken(&new, existing));
    }
    let row = repo::clients::row(p.partner_id, &new, ClientStatus::Provisioned, super::now());
    let Some(created) = repo::clients::insert_new(&txn, row).await? else {
        // A concurrent request won the race; it has committed by now
        // (PostgreSQL waited for it), so a fresh read sees its row.
        txn.rollback().await?;
        let existing = repo::clients::find(&db.reader().await?, p, new.client_id.as_str())
            .await?
            .ok_or(AppError::internal(anyhow::anyhow!("client vanished after a conflicting insert")))?;
        return Ok(same_or_taken(&new, existing));
    };
    repo::counts::bump(&txn, p.partner_id, ClientStatus::Provisioned, 1).await?;
    repo::counts::bump_version(&txn, p.partner_id).await?;
    let change = audit::record(
        &txn,
        &created,
        audit::Event {
            actor_id: Some(p.user_id),
            subject_user_id: None,
            action: AuditAction::ClientProvisioned,
            details: serde_json::json!({ "clientId": created.client_id }),
        },
    )
    .await?;
    crate::live::commit(txn, vec![change]).await?;
    metrics.clients_provisioned.inc();
    Ok(ProvisionOutcome::Created(created))
}

fn same_or_taken(new: &NewClient, existing: client::Model) -> ProvisionOutcome {
    if same_as(new, &existing) {
        ProvisionOutcome::Existing(existing)
    } else {
        ProvisionOutcome::Rejected(vec![UserError::new(
            &["clientId"],
            UserErrorCode::Taken,
            "this client ID is already in use for a different client",
        )])
    }
}
