//! THE access policy: who may do what, and which rows each principal sees.
//!
//! Everything here is a pure function of the [`Principal`] (loaded from the
//! `users` table on every request) and the token's scope. Check it against
//! DESIGN.md §3:
//!
//! | capability                | partner_admin | partner_user | read-only token |
//! |---------------------------|---------------|--------------|-----------------|
//! | see clients               | all of own partner | assigned ones of own partner | unchanged |
//! | read contact fields       | yes           | no (null)    | unchanged       |
//! | search contact fields     | yes           | no           | unchanged       |
//! | provision clients         | yes           | no           | no              |
//! | manage assignments        | yes           | no           | no              |
//! | see eligible users        | yes           | no           | unchanged       |
//! | see audit events          | yes           | no           | unchanged       |
//!
//! Row scopes (every storage query takes its condition from here, `repo/`):
//! clients: [`Principal::client_scope`]; users: [`Principal::user_scope`]
//! and [`Principal::assignable_user_scope`]; audit events:
//! [`Principal::audit_scope`]; "sees the whole partner" (what the partner's
//! counters cover): [`Principal::sees_whole_partner`]; search over contact
//! fields: [`Principal::searches_contact_fields`]; live updates about a
//! client out of scope: [`Principal::hears_of_departure`].
//!
//! Any other role, or an inactive account, never becomes a `Principal`: the
//! auth layer refuses it with FORBIDDEN before any resolver runs.

use crate::domain::{AuditAction, Role};
use crate::error::AppError;
use entity::{audit_event, client, client_assignment, user};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition};
use uuid::Uuid;

/// The two roles allowed on this surface; defined with the other
/// enumerations (it is also the schema's `PartnerRole`).
pub use crate::domain::PartnerRole;

/// What a token may be used for. A token can narrow, never widen.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenScope {
    /// `scope: clients:read`: queries only.
    ReadOnly,
    /// No scope claim: whatever the role allows.
    Full,
}

/// An authenticated, active partner account.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: Uuid,
    pub partner_id: Uuid,
    pub role: PartnerRole,
    pub scope: TokenScope,
}

/// Things a principal may do; each is checked through [`Principal::require`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Capability {
    ViewContactDetails,
    ProvisionClients,
    ManageAssignments,
    ViewEligibleUsers,
    ViewAuditEvents,
}

impl Capability {
    /// Does this capability change data (and so need a write-capable token)?
    fn writes(self) -> bool {
        matches!(self, Capability::ProvisionClients | Capability::ManageAssignments)
    }
}

impl Principal {
    pub fn can(&self, cap: Capability) -> bool {
        let role_allows = match (self.role, cap) {
            (PartnerRole::PartnerAdmin, _) => true,
            (PartnerRole::PartnerUser, _) => false,
        };
        role_allows && (!cap.writes() || self.scope == TokenScope::Full)
    }

    pub fn require(&self, cap: Capability) -> Result<(), AppError> {
        if self.can(cap) {
            Ok(())
        } else {
            tracing::info!(user_id = %self.user_id, capability = ?cap, "denied");
            Err(AppError::Forbidden("capability not granted"))
        }
    }

    /// The row scope every client query goes through. Default deny: a role
    /// without a rule here sees nothing (the match is exhaustive, so a new
    /// role cannot be added without deciding its scope).
    pub fn client_scope(&self) -> Condition {
        let own_partner = client::Column::PartnerId.eq(self.partner_id);
        match self.role {
            PartnerRole::PartnerAdmin => Condition::all().add(own_partner),
            PartnerRole::PartnerUser => Condition::all().add(own_partner).add(
                client::Column::Id.in_subquery(
                    Query::select()
                        .column(client_assignment::Column::ClientUuid)
                        .from(client_assignment::Entity)
                        .and_where(Expr::col(client_assignment::Column::UserId).eq(self.user_id))
                        .to_owned(),
                ),
            ),
        }
    }

    /// Does the principal see every client of its partner? (Administrators;
    /// a partner user sees only assigned ones.) Counts use it: the partner's
    /// per-status counters answer exactly this scope.
    pub fn sees_whole_partner(&self) -> bool {
        match self.role {
            PartnerRole::PartnerAdmin => true,
            PartnerRole::PartnerUser => false,
        }
    }

    /// Which partner a principal may see: its own.
    pub fn sees_partner(&self, partner_id: Uuid) -> bool {
        self.partner_id == partner_id
    }

    /// Does the principal hear of a change to a client of its partner that
    /// it does not see (live updates, DESIGN §10)? Only of its own
    /// unassignment: the one event that tells its page the client left its
    /// scope. Nothing else about such a client is said.
    pub fn hears_of_departure(&self, action: AuditAction, subject_user_id: Option<Uuid>) -> bool {
        action == AuditAction::UserUnassigned && subject_user_id == Some(self.user_id)
    }

    /// May the principal's search match the contact fields? Only when it may
    /// read them: search must never probe a field the viewer can't see.
    pub fn searches_contact_fields(&self) -> bool {
        self.can(Capability::ViewContactDetails)
    }

    /// Which user rows a principal may see (as assignees, actors, eligible
    /// users, `node`): the partner accounts of its own partner. Customer and
    /// staff accounts never show, whatever their partner.
    pub fn user_scope(&self) -> Condition {
        Condition::all()
            .add(user::Column::PartnerId.eq(self.partner_id))
            .add(user::Column::Role.is_in([Role::PartnerAdmin.as_str(), Role::PartnerUser.as_str()]))
    }

    /// Which users may be assigned to the principal's clients: the active
    /// ones of [`Principal::user_scope`].
    pub fn assignable_user_scope(&self) -> Condition {
        self.user_scope().add(user::Column::Active.eq(true))
    }

    /// Which audit events the principal may read: its own partner's, and
    /// only with [`Capability::ViewAuditEvents`]; otherwise none (default deny).
    pub fn audit_scope(&self) -> Condition {
        if self.can(Capability::ViewAuditEvents) {
            Condition::all().add(audit_event::Column::PartnerId.eq(self.partner_id))
        } else {
            nothing()
        }
    }
}

/// A condition no row satisfies.
fn nothing() -> Condition {
    Condition::all().add(Expr::val(1).eq(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: PartnerRole, scope: TokenScope) -> Principal {
        Principal { user_id: Uuid::nil(), partner_id: Uuid::nil(), role, scope }
    }

    #[test]
    fn capability_table() {
        use Capability::*;
        let admin = principal(PartnerRole::PartnerAdmin, TokenScope::Full);
        let admin_ro = principal(PartnerRole::PartnerAdmin, TokenScope::ReadOnly);
        let user = principal(PartnerRole::PartnerUser, TokenScope::Full);
        for cap in [ViewContactDetails, ProvisionClients, ManageAssignments, ViewEligibleUsers, ViewAuditEvents] {
            assert!(admin.can(cap));
            assert!(!user.can(cap));
            assert_eq!(admin_ro.can(cap), !cap.writes());
        }
    }

    #[test]
    fn scope_decisions_by_role() {
        let admin = principal(PartnerRole::PartnerAdmin, TokenScope::Full);
        let admin_ro = principal(PartnerRole::PartnerAdmin, TokenScope::ReadOnly);
        let user = principal(PartnerRole::PartnerUser, TokenScope::Full);
        // | sees whole partner | searches contact fields | reads audit |
        assert!(admin.sees_whole_partner() && admin.searches_contact_fields());
        assert!(admin_ro.sees_whole_partner() && admin_ro.searches_contact_fields());
        assert!(!user.sees_whole_partner() && !user.searches_contact_fields());
        let sql = |c: Condition| {
            use sea_orm::sea_query::{PostgresQueryBuilder, Query};
            Query::select()
                .column(audit_event::Column::Id)
                .from(audit_event::Entity)
                .cond_where(c)
                .to_string(PostgresQueryBuilder)
        };
        assert!(sql(admin.audit_scope()).contains("\"partner_id\" ="), "{}", sql(admin.audit_scope()));
        assert!(sql(user.audit_scope()).contains("1 = 0"), "{}", sql(user.audit_scope()));
        assert!(sql(user.user_scope()).contains("'partner_admin', 'partner_user'"), "{}", sql(user.user_scope()));
        assert!(sql(user.client_scope()).contains("client_assignments"), "{}", sql(user.client_scope()));
        assert!(!sql(admin.client_scope()).contains("client_assignments"), "{}", sql(admin.client_scope()));
        // | sees its own partner | sees another partner |
        let other_partner = Uuid::from_u128(7);
        for p in [&admin, &admin_ro, &user] {
            assert!(p.sees_partner(p.partner_id), "{p:?}");
            assert!(!p.sees_partner(other_partner), "{p:?}");
        }
    }

    /// The user scopes run against a `users` table: which rows each lets
    /// through, by partner, role and active flag.
    #[tokio::test]
    async fn user_scopes_by_partner_role_and_activity() {
        use sea_orm::{ActiveValue::Set, ConnectOptions, ConnectionTrait, Database, EntityTrait, QueryFilter, Schema};
        let mut opts = ConnectOptions::new("sqlite::memory:");
        opts.max_connections(1);
        let db = Database::connect(opts).await.unwrap();
        db.execute(&Schema::new(db.get_database_backend()).create_table_from_entity(user::Entity)).await.unwrap();
        let (own, other) = (Uuid::nil(), Uuid::from_u128(7));
        // | partner | role | active | in user_scope | in assignable_user_scope |
        let table = [
            (Some(own), Role::PartnerAdmin, true, true, true),
            (Some(own), Role::PartnerUser, true, true, true),
            (Some(own), Role::PartnerUser, false, true, false),
            (Some(own), Role::PartnerAdmin, false, true, false),
            (Some(own), Role::CustomerAdmin, true, false, false),
            (Some(other), Role::PartnerUser, true, false, false),
            (Some(other), Role::PartnerAdmin, false, false, false),
            (None, Role::AidialStaff, true, false, false),
        ];
        for (i, (partner_id, role, active, ..)) in table.iter().enumerate() {
            let row = user::ActiveModel {
                id: Set(Uuid::from_u128(100 + i as u128)),
                partner_id: Set(*partner_id),
                email: Set(format!("u{i}@example.com")),
                display_name: Set(format!("User {i}")),
                role: Set(role.as_str().to_owned()),
                active: Set(*active),
                created_at: Set(chrono::Utc::now()),
            };
            user::Entity::insert(row).exec_without_returning(&db).await.unwrap();
        }
        for p in [
            principal(PartnerRole::PartnerAdmin, TokenScope::Full),
            principal(PartnerRole::PartnerUser, TokenScope::Full),
        ] {
            let ids = |c: Condition| {
                let db = &db;
                async move {
                    let rows = user::Entity::find().filter(c).all(db).await.unwrap();
                    rows.into_iter().map(|u| u.id).collect::<std::collections::HashSet<_>>()
                }
            };
            let (seen, assignable) = (ids(p.user_scope()).await, ids(p.assignable_user_scope()).await);
            for (i, (partner_id, role, active, in_scope, in_assignable)) in table.iter().enumerate() {
                let id = Uuid::from_u128(100 + i as u128);
                let row = format!("{:?}: {partner_id:?} {role:?} active={active}", p.role);
                assert_eq!(seen.contains(&id), *in_scope, "user_scope, {row}");
                assert_eq!(assignable.contains(&id), *in_assignable, "assignable_user_scope, {row}");
            }
        }
    }

    #[test]
    fn only_ones_own_unassignment_is_heard_of_once_out_of_scope() {
        let user = principal(PartnerRole::PartnerUser, TokenScope::Full);
        let other = Some(Uuid::from_u128(7));
        assert!(user.hears_of_departure(AuditAction::UserUnassigned, Some(user.user_id)));
        assert!(!user.hears_of_departure(AuditAction::UserUnassigned, other));
        assert!(!user.hears_of_departure(AuditAction::UserUnassigned, None));
        for a in AuditAction::ALL.iter().filter(|a| **a != AuditAction::UserUnassigned) {
            assert!(!user.hears_of_departure(*a, Some(user.user_id)), "{a}");
        }
    }

    #[test]
    fn only_partner_roles_are_principals() {
        assert!(PartnerRole::from_role(Role::PartnerAdmin).is_some());
        assert!(PartnerRole::from_role(Role::PartnerUser).is_some());
        for r in [Role::CustomerAdmin, Role::CustomerUser, Role::AidialStaff] {
            assert!(PartnerRole::from_role(r).is_none());
        }
    }
}
