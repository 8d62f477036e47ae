//! Indexed substring search on SQLite (issue 18): an FTS5 table with the
//! `trigram` tokenizer over the clients' two search columns, each partner's
//! clients in a range of their own. SQLite only; on PostgreSQL this
//! migration does nothing (the trigram GIN indexes of
//! `m20261128_000002_search_indexes`, which lead with `partner_id`, serve the
//! same searches there).
//!
//! ```sql
//! CREATE VIEW client_search_source AS
//!   SELECT (partners.rowid << 32) | clients.rowid AS key, search_public, search_contact
//!   FROM clients JOIN partners ON partners.id = clients.partner_id;
//! CREATE VIRTUAL TABLE client_search_index USING fts5(
//!     search_public, search_contact,
//!     content = 'client_search_source', content_rowid = 'key',
//!     tokenize = 'trigram case_sensitive 1');
//! ```
//!
//! - **Two columns, not one**: public text (clientId, businessName,
//!   webDomain) and contact text (contactName, businessEmail) stay apart, so
//!   a partner user's query names only `{search_public}` and never touches
//!   contact text, exactly as the `LIKE` on `clients.search_contact` is left
//!   out for them.
//! - **Keyed by partner, then client**: an entry's rowid is the partner's
//!   rowid in the high 32 bits and the client's rowid in the low 32, so a
//!   search asks for `rowid BETWEEN partner << 32 AND (partner << 32) +
//!   0xFFFFFFFF` and FTS5 reads only that partner's part of each trigram's
//!   list (they are sorted by rowid): a tenant's search costs what its own
//!   matches cost, never another tenant's (PostgreSQL's indexes lead with
//!   `partner_id` for the same reason). It assumes rowids below 2^32 for
//!   clients and 2^31 for partners.
//! - **External content (a view), not contentless**: the index stores trigram
//!   lists only, not a second copy of the text; unlike a contentless table it
//!   keeps FTS5's `'rebuild'` (the backfill below, and the repair should the
//!   index ever drift from the tables) and `'integrity-check'` (which, with
//!   rank 1, compares it with the view). The rowids are the tables' implicit
//!   ones (their keys are uuids). SQLite documents that `VACUUM` *may*
//!   renumber implicit rowids; it keeps them for tables with indexes (it
//!   copies rows rowid and all), which both have, but should they ever
//!   change, `INSERT INTO client_search_index(client_search_index) VALUES
//!   ('rebuild')` re-derives the index from the tables.
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
//! after an update that changes a search column, the partner or the rowid),
//! which run in the writing statement's transaction, so the index commits or
//! rolls back with the change; no code path can write a client and forget
//! the index. An external-content delete must be told the old values, which
//! the triggers read from `old`.
//!
//! The migration runs in one transaction on SQLite too (`use_transaction`):
//! view, table, backfill and triggers appear together or not at all.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000001_sqlite_search_index"
    }
}

const UP: &[&str] = &[
    "CREATE VIEW client_search_source AS \
     SELECT (p.rowid << 32) | c.rowid AS key, c.search_public, c.search_contact \
     FROM clients c JOIN partners p ON p.id = c.partner_id",
    "CREATE VIRTUAL TABLE client_search_index USING fts5(\
        search_public, search_contact, \
        content = 'client_search_source', content_rowid = 'key', \
        tokenize = 'trigram case_sensitive 1')",
    // Backfill: index every existing row, read from the view.
    "INSERT INTO client_search_index (client_search_index) VALUES ('rebuild')",
    "CREATE TRIGGER client_search_insert AFTER INSERT ON clients BEGIN \
        INSERT INTO client_search_index (rowid, search_public, search_contact) VALUES ( \
            ((SELECT rowid FROM partners WHERE id = new.partner_id) << 32) | new.rowid, \
            new.search_public, new.search_contact); \
     END",
    "CREATE TRIGGER client_search_delete AFTER DELETE ON clients BEGIN \
        INSERT INTO client_search_index (client_search_index, rowid, search_public, search_contact) VALUES ( \
            'delete', ((SELECT rowid FROM partners WHERE id = old.partner_id) << 32) | old.rowid, \
            old.search_public, old.search_contact); \
     END",
    // Status changes and the like leave the index alone.
    "CREATE TRIGGER client_search_update AFTER UPDATE ON clients \
     WHEN old.rowid IS NOT new.rowid \
       OR old.partner_id IS NOT new.partner_id \
       OR old.search_public IS NOT new.search_public \
       OR old.search_contact IS NOT new.search_contact \
     BEGIN \
        INSERT INTO client_search_index (client_search_index, rowid, search_public, search_contact) VALUES ( \
            'delete', ((SELECT rowid FROM partners WHERE id = old.partner_id) << 32) | old.rowid, \
            old.search_public, old.search_contact); \
        INSERT INTO client_search_index (rowid, search_public, search_contact) VALUES ( \
            ((SELECT rowid FROM partners WHERE id = new.partner_id) << 32) | new.rowid, \
            new.search_public, new.search_contact); \
     END",
];

const DOWN: &[&str] = &[
    "DROP TRIGGER client_search_update",
    "DROP TRIGGER client_search_delete",
    "DROP TRIGGER client_search_insert",
    "DROP TABLE client_search_index",
    "DROP VIEW client_search_source",
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
