//! Provisioning a client profile: parse every field, then one transaction
//! that looks, inserts, moves the counters and records the audit event.

use super::{audit, UserError, UserErrorCode};
use crate::domain::{AuditAction, BusinessEmail, ClientId, ClientStatus, PlainText, Timezone, WebDomain};
use crate::error::{AppError, Result};
use crate::metrics::Metrics;
use crate::policy::{Capability, Principal};
use crate::repo;
use crate::tenant::TenantDb;
use entity::client;
use uuid::Uuid;

/// provisionClient's input as the client sent it.
#[derive(Clone, Debug)]
pub struct ProvisionInput {
    pub client_id: String,
    pub business_name: String,
    pub web_domain: String,
    pub contact_name: String,
    pub business_email: String,
    pub timezone: String,
    pub support_contact_required: bool,
}

/// The input once every field has parsed.
struct NewClient {
    client_id: ClientId,
    business_name: PlainText,
    web_domain: WebDomain,
    contact_name: PlainText,
    business_email: BusinessEmail,
    timezone: Timezone,
    support_contact_required: bool,
}

impl NewClient {
    /// Parse every field, reporting all problems at once.
    fn parse(i: &ProvisionInput) -> Result<Self, Vec<UserError>> {
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
                    support_contact_required: i.support_contact_required,
                })
            }
            _ => Err(errors),
        }
    }

    fn same_as(&self, c: &client::Model) -> bool {
        c.client_id == self.client_id.as_str()
            && c.business_name == self.business_name.as_str()
            && c.web_domain == self.web_domain.as_str()
            && c.contact_name == self.contact_name.as_str()
            && c.business_email == self.business_email.as_str()
            && c.timezone == self.timezone.as_str()
            && c.support_contact_required == self.support_contact_required
    }

    fn row(
        &self,
        partner_id: Uuid,
        status: ClientStatus,
        created_at: chrono::DateTime<chrono::Utc>,
    ) -> client::ActiveModel {
        repo::clients::row(repo::clients::NewRow {
            partner_id,
            client_id: self.client_id.as_str(),
            business_name: self.business_name.as_str(),
            web_domain: self.web_domain.as_str(),
            contact_name: self.contact_name.as_str(),
            business_email: self.business_email.as_str(),
            timezone: self.timezone.as_str(),
            support_contact_required: self.support_contact_required,
            status,
            created_at,
        })
    }
}

/// A client row built from provisioning input, for bulk loaders (demo and
/// benchmark data) that insert many rows at once and then recount.
pub fn row_for(
    partner_id: Uuid,
    input: &ProvisionInput,
    status: ClientStatus,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<client::ActiveModel, Vec<UserError>> {
    Ok(NewClient::parse(input)?.row(partner_id, status, created_at))
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
    let new = match NewClient::parse(input) {
        Ok(n) => n,
        Err(errors) => return Ok(ProvisionOutcome::Rejected(errors)),
    };
    let txn = db.writer().await?;
    // Look first: a retry must not depend on the insert failing.
    if let Some(existing) = repo::clients::find(&txn, p, new.client_id.as_str()).await? {
        return Ok(same_or_taken(&new, existing));
    }
    let row = new.row(p.partner_id, ClientStatus::Provisioned, super::now());
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
    if new.same_as(&existing) {
        ProvisionOutcome::Existing(existing)
    } else {
        ProvisionOutcome::Rejected(vec![UserError::new(
            &["clientId"],
            UserErrorCode::Taken,
            "this client ID is already in use for a different client",
        )])
    }
}
