//! The initial schema: partners, users, clients, assignments, audit events and
//! the per-partner, per-status client counters behind `totalCount`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000001_init"
    }
}

const ROLES: [&str; 5] = ["partner_admin", "partner_user", "customer_admin", "customer_user", "aidial_staff"];
const STATUSES: [&str; 5] = ["PROVISIONED", "ONBOARDING", "ACTIVE", "SUSPENDED", "OFFBOARDED"];
const ACTIONS: [&str; 6] = [
    "CLIENT_PROVISIONED",
    "USER_ASSIGNED",
    "USER_UNASSIGNED",
    "SUPPORT_CONTACT_SET",
    "SUPPORT_CONTACT_UNSET",
    "CLIENT_STATUS_CHANGED",
];

#[derive(DeriveIden)]
enum Partners {
    Table,
    Id,
    Slug,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    PartnerId,
    Email,
    DisplayName,
    Role,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    PartnerId,
    ClientId,
    BusinessName,
    WebDomain,
    ContactName,
    BusinessEmail,
    Timezone,
    Status,
    SupportContactRequired,
    SortName,
    SearchPublic,
    SearchContact,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ClientAssignments {
    Table,
    ClientUuid,
    UserId,
    SupportContact,
    AssignedBy,
    AssignedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    PartnerId,
    ClientUuid,
    ActorId,
    SubjectUserId,
    Action,
    Details,
    OccurredAt,
}

#[derive(DeriveIden)]
enum PartnerClientCounts {
    Table,
    PartnerId,
    Status,
    Count,
}

/// A text column that sorts by bytes on both databases (SQLite's default
/// BINARY collation; PostgreSQL's "C"), so keyset pages agree across them.
fn byte_ordered(col: &mut ColumnDef, backend: DatabaseBackend) -> ColumnDef {
    if backend == DatabaseBackend::Postgres {
        col.extra("COLLATE \"C\"");
    }
    col.to_owned()
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Restrict).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();

        manager
            .create_table(
                Table::create()
                    .table(Partners::Table)
                    .col(ColumnDef::new(Partners::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Partners::Slug).string_len(64).not_null())
                    .col(ColumnDef::new(Partners::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Partners::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("partners_slug_key")
                    .table(Partners::Table)
                    .col(Partners::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Users::PartnerId).uuid().null())
                    .col(byte_ordered(ColumnDef::new(Users::Email).string_len(320).not_null(), backend))
                    .col(ColumnDef::new(Users::DisplayName).string_len(200).not_null())
                    .col(ColumnDef::new(Users::Role).string_len(32).not_null())
                    .col(ColumnDef::new(Users::Active).boolean().not_null().default(true))
                    .col(ColumnDef::new(Users::CreatedAt).timestamp_with_time_zone().not_null())
                    .check(("users_role_check", Expr::col(Users::Role).is_in(ROLES)))
                    .check((
                        "users_partner_role_check",
                        Expr::col(Users::PartnerId)
                            .is_not_null()
                            .or(Expr::col(Users::Role).is_not_in(["partner_admin", "partner_user"])),
                    ))
                    .foreign_key(&mut fk(
                        "users_partner_id_fkey",
                        (Users::Table, Users::PartnerId),
                        (Partners::Table, Partners::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("users_email_key").table(Users::Table).col(Users::Email).unique().to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_partner_id_idx")
                    .table(Users::Table)
                    .col(Users::PartnerId)
                    .col(Users::DisplayName)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .col(ColumnDef::new(Clients::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Clients::PartnerId).uuid().not_null())
                    .col(byte_ordered(ColumnDef::new(Clients::ClientId).string_len(64).not_null(), backend))
                    .col(ColumnDef::new(Clients::BusinessName).string_len(200).not_null())
                    .col(ColumnDef::new(Clients::WebDomain).string_len(253).not_null())
                    .col(ColumnDef::new(Clients::ContactName).string_len(200).not_null())
                    .col(ColumnDef::new(Clients::BusinessEmail).string_len(320).not_null())
                    .col(ColumnDef::new(Clients::Timezone).string_len(64).not_null())
                    .col(ColumnDef::new(Clients::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Clients::SupportContactRequired).boolean().not_null())
                    .col(byte_ordered(ColumnDef::new(Clients::SortName).text().not_null(), backend))
                    .col(ColumnDef::new(Clients::SearchPublic).text().not_null())
                    .col(ColumnDef::new(Clients::SearchContact).text().not_null())
                    .col(ColumnDef::new(Clients::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Clients::UpdatedAt).timestamp_with_time_zone().not_null())
                    .check(("clients_status_check", Expr::col(Clients::Status).is_in(STATUSES)))
                    .foreign_key(&mut fk(
                        "clients_partner_id_fkey",
                        (Clients::Table, Clients::PartnerId),
                        (Partners::Table, Partners::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("clients_partner_client_id_key")
                    .table(Clients::Table)
                    .col(Clients::PartnerId)
                    .col(Clients::ClientId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("clients_partner_sort_name_idx")
                    .table(Clients::Table)
                    .col(Clients::PartnerId)
                    .col(Clients::SortName)
                    .col(Clients::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("clients_partner_created_at_idx")
                    .table(Clients::Table)
                    .col(Clients::PartnerId)
                    .col(Clients::CreatedAt)
                    .col(Clients::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ClientAssignments::Table)
                    .col(ColumnDef::new(ClientAssignments::ClientUuid).uuid().not_null())
                    .col(ColumnDef::new(ClientAssignments::UserId).uuid().not_null())
                    .col(ColumnDef::new(ClientAssignments::SupportContact).boolean().not_null().default(false))
                    .col(ColumnDef::new(ClientAssignments::AssignedBy).uuid().null())
                    .col(ColumnDef::new(ClientAssignments::AssignedAt).timestamp_with_time_zone().not_null())
                    .primary_key(
                        Index::create()
                            .name("client_assignments_pkey")
                            .col(ClientAssignments::ClientUuid)
                            .col(ClientAssignments::UserId),
                    )
                    .foreign_key(&mut fk(
                        "client_assignments_client_uuid_fkey",
                        (ClientAssignments::Table, ClientAssignments::ClientUuid),
                        (Clients::Table, Clients::Id),
                    ))
                    .foreign_key(&mut fk(
                        "client_assignments_user_id_fkey",
                        (ClientAssignments::Table, ClientAssignments::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut fk(
                        "client_assignments_assigned_by_fkey",
                        (ClientAssignments::Table, ClientAssignments::AssignedBy),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("client_assignments_user_id_idx")
                    .table(ClientAssignments::Table)
                    .col(ClientAssignments::UserId)
                    .col(ClientAssignments::ClientUuid)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(ColumnDef::new(AuditEvents::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(AuditEvents::PartnerId).uuid().not_null())
                    .col(ColumnDef::new(AuditEvents::ClientUuid).uuid().null())
                    .col(ColumnDef::new(AuditEvents::ActorId).uuid().null())
                    .col(ColumnDef::new(AuditEvents::SubjectUserId).uuid().null())
                    .col(ColumnDef::new(AuditEvents::Action).string_len(32).not_null())
                    .col(ColumnDef::new(AuditEvents::Details).json().not_null())
                    .col(ColumnDef::new(AuditEvents::OccurredAt).timestamp_with_time_zone().not_null())
                    .check(("audit_events_action_check", Expr::col(AuditEvents::Action).is_in(ACTIONS)))
                    .foreign_key(&mut fk(
                        "audit_events_partner_id_fkey",
                        (AuditEvents::Table, AuditEvents::PartnerId),
                        (Partners::Table, Partners::Id),
                    ))
                    .foreign_key(&mut fk(
                        "audit_events_client_uuid_fkey",
                        (AuditEvents::Table, AuditEvents::ClientUuid),
                        (Clients::Table, Clients::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_client_idx")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::ClientUuid)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PartnerClientCounts::Table)
                    .col(ColumnDef::new(PartnerClientCounts::PartnerId).uuid().not_null())
                    .col(ColumnDef::new(PartnerClientCounts::Status).string_len(16).not_null())
                    .col(ColumnDef::new(PartnerClientCounts::Count).big_integer().not_null().default(0))
                    .primary_key(
                        Index::create()
                            .name("partner_client_counts_pkey")
                            .col(PartnerClientCounts::PartnerId)
                            .col(PartnerClientCounts::Status),
                    )
                    .check(("partner_client_counts_count_check", Expr::col(PartnerClientCounts::Count).gte(0)))
                    .foreign_key(&mut fk(
                        "partner_client_counts_partner_id_fkey",
                        (PartnerClientCounts::Table, PartnerClientCounts::PartnerId),
                        (Partners::Table, Partners::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PartnerClientCounts::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            ClientAssignments::Table.into_iden(),
            Clients::Table.into_iden(),
            Users::Table.into_iden(),
            Partners::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
