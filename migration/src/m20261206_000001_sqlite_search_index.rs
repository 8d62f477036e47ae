//! Indexed substring search on SQLite (issue 18): an FTS5 table with the
//! `trigram` tokenizer over the clients' two search columns. SQLite only; on
//! PostgreSQL this migration does nothing (the trigram GIN indexes of
//! `m20261128_000002_search_indexes` serve the same searches there).
//!
//! ```sql
//! CREATE VIRTUAL TABLE client_search USING fts5(
//!     search_public, search_contact,
//!     content = 'clients', content_rowid = 'rowid',
//!     tokenize = 'trigram case_sensitive 1')
//! ```
//!
//! - **Two columns, not one**: public text (clientId, businessName,
//!   webDomain) and contact text (contactName, businessEmail) stay apart, so
//!   a partner user's query names only `{search_public}` and never touches
//!   contact text, exactly as the `LIKE` on `clients.search_contact` is left
//!   out for them.
//! - **External content, keyed by the clients' rowid**, rather than
//!   contentless: the index stores trigram lists only, not a second copy of
//!   the text (the text lives in `clients`); unlike a contentless table it
//!   keeps FTS5's `'rebuild'` (used below to backfill, and the repair should
//!   the index ever drift from the table) and `'integrity-check'` commands.
//!   The rowid is `clients`' implicit one (its primary key is a uuid). SQLite
//!   documents that `VACUUM` *may* renumber implicit rowids; it keeps them for
//!   a table with indexes (it copies rows rowid and all), which `clients`
//!   has, but should they ever change, `INSERT INTO client_search(client_search)
//!   VALUES ('rebuild')` re-derives the whole index from the table.
//! - **`case_sensitive 1`**: the columns already hold text the service
//!   lower-cased with Rust's Unicode rules (`domain::search_text`), and so is
//!   every term. SQLite's own folding differs from Rust's for some letters,
//!   so the index matches code points exactly and adds no folding of its own.
//!   The repo layer still applies the `LIKE` on `clients` to every candidate,
//!   so results are those of the plain `LIKE` (and of PostgreSQL) whatever
//!   the index returns.
//! - The default `detail=full` keeps token positions: a substring is a phrase
//!   of consecutive trigrams, which needs them.
//!
//! **Kept in step by triggers** on `clients` (after insert, after delete,
//! after an update that changes a search column or the rowid), which run in
//! the writing statement's transaction, so the index commits or rolls back
//! with the change; no code path can write a client and forget the index. An
//! external-content delete must be told the old values, which the triggers
//! read from `old`.
//!
//! The migration runs in one transaction on SQLite too (`use_transaction`):
//! table, backfill and triggers appear together or not at all.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000001_sqlite_search_index"
    }
}

const UP: &[&str] = &[
    "CREATE VIRTUAL TABLE client_search USING fts5(\
        search_public, search_contact, \
        content = 'clients', content_rowid = 'rowid', \
        tokenize = 'trigram case_sensitive 1')",
    // Backfill: index every existing row, read from the content table.
    "INSERT INTO client_search (client_search) VALUES ('rebuild')",
    "CREATE TRIGGER clients_search_insert AFTER INSERT ON clients BEGIN \
        INSERT INTO client_search (rowid, search_public, search_contact) \
        VALUES (new.rowid, new.search_public, new.search_contact); \
     END",
    "CREATE TRIGGER clients_search_delete AFTER DELETE ON clients BEGIN \
        INSERT INTO client_search (client_search, rowid, search_public, search_contact) \
        VALUES ('delete', old.rowid, old.search_public, old.search_contact); \
     END",
    // Status changes and the like leave the index alone.
    "CREATE TRIGGER clients_search_update AFTER UPDATE ON clients \
     WHEN old.rowid IS NOT new.rowid \
       OR old.search_public IS NOT new.search_public \
       OR old.search_contact IS NOT new.search_contact \
     BEGIN \
        INSERT INTO client_search (client_search, rowid, search_public, search_contact) \
        VALUES ('delete', old.rowid, old.search_public, old.search_contact); \
        INSERT INTO client_search (rowid, search_public, search_contact) \
        VALUES (new.rowid, new.search_public, new.search_contact); \
     END",
];

const DOWN: &[&str] = &[
    "DROP TRIGGER clients_search_update",
    "DROP TRIGGER clients_search_delete",
    "DROP TRIGGER clients_search_insert",
    "DROP TABLE client_search",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Sqlite {
        return Ok(());
    }
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}
