//! Search and list performance.
//!
//! - `partners.clients_version` counts changes to a partner's client set
//!   (provisioning, status changes, assignments), bumped in the same
//!   transaction as the change: exact `totalCount`s can be cached under it.
//!
//! PostgreSQL only (SQLite keeps the plain path):
//!
//! - Substring search (`LIKE '%term%'`) over the two search columns uses
//!   trigram GIN indexes (pg_trgm) that also hold `partner_id` (btree_gin),
//!   so a partner's matches come out of the index without visiting other
//!   tenants' rows.
//! - The default list order walks `(partner_id, sort_name, id)`; the index
//!   now carries `status` and the search columns, so filtering a page needs
//!   no heap visits (an index-only scan once the table is vacuumed).
//!
//! Plans and timings behind this choice are in BENCHMARKS.md.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

#[derive(DeriveIden)]
enum Partners {
    Table,
    ClientsVersion,
}

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000002_search_indexes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Partners::Table)
                    .add_column(ColumnDef::new(Partners::ClientsVersion).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for sql in [
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            "CREATE EXTENSION IF NOT EXISTS btree_gin",
            "CREATE INDEX clients_search_public_trgm ON clients USING gin (partner_id, search_public gin_trgm_ops)",
            "CREATE INDEX clients_search_contact_trgm ON clients USING gin (partner_id, search_contact gin_trgm_ops)",
            "DROP INDEX clients_partner_sort_name_idx",
            "CREATE INDEX clients_partner_sort_name_idx ON clients (partner_id, sort_name, id) \
             INCLUDE (status, search_public, search_contact)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Partners::Table).drop_column(Partners::ClientsVersion).to_owned())
            .await?;
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for sql in [
            "DROP INDEX clients_search_public_trgm",
            "DROP INDEX clients_search_contact_trgm",
            "DROP INDEX clients_partner_sort_name_idx",
            "CREATE INDEX clients_partner_sort_name_idx ON clients (partner_id, sort_name, id)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
