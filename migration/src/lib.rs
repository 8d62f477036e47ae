//! Schema migrations, the same on SQLite and PostgreSQL.
//!
//! Constraint names are part of the contract with the service: the repo layer
//! turns a violation of `clients_partner_client_id_key` into a `TAKEN` user
//! error, and so on.
pub use sea_orm_migration::prelude::*;

mod m20261128_000001_init;
mod m20261128_000002_search_indexes;
mod m20261201_000001_audit_event_uuid;
mod m20261205_000001_row_level_security;
mod m20261206_000001_sqlite_search_index;
mod m20261207_000001_rls_search;
mod m20261208_000001_rls_search_page;
mod m20261209_000001_rls_plpgsql_lookups;
mod m20261210_000001_assignment_partner;
mod m20261211_000001_search_capped_walk;

pub use m20261205_000001_row_level_security::{valid_role_name, APP_ROLE_SETTING, DEFAULT_APP_ROLE};

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_init::Migration),
            Box::new(m20261128_000002_search_indexes::Migration),
            Box::new(m20261201_000001_audit_event_uuid::Migration),
            Box::new(m20261205_000001_row_level_security::Migration),
            Box::new(m20261206_000001_sqlite_search_index::Migration),
            Box::new(m20261207_000001_rls_search::Migration),
            Box::new(m20261208_000001_rls_search_page::Migration),
            Box::new(m20261209_000001_rls_plpgsql_lookups::Migration),
            Box::new(m20261210_000001_assignment_partner::Migration),
            Box::new(m20261211_000001_search_capped_walk::Migration),
        ]
    }
}
