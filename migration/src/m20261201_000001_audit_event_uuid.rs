//! Audit events get UUIDv7 ids (DESIGN §7: no id or cursor carries a global
//! counter).
//!
//! Before this, `audit_events.id` was a bigint auto-increment shared by every
//! partner, and it left the server in `AuditEvent` node ids and cursors: a
//! tenant reading two of its own ids learnt how many events every other
//! tenant wrote in between.
//!
//! **The uuid replaces the bigint primary key**, rather than sitting beside
//! it as a second, unique `event_id`. With the bigint gone there is nothing
//! left to leak by accident (a log line, an export, a future field), no
//! PostgreSQL sequence (itself a global counter) and one id per row instead
//! of two. Nothing references `audit_events.id`, so no other table changes.
//! The price is a rebuild: SQLite can neither change a primary key nor add a
//! NOT NULL column without a default in place. One path serves both
//! databases (create, copy, drop, rename: SQLite's documented recipe), so
//! both run the code the tests run.
//!
//! **Order is `(occurred_at, id)`, newest first**, not `id` alone. A v7 id
//! sorts by the millisecond it was minted, which is close to `occurred_at`
//! but is a second clock reading, possibly on another machine, and demo rows
//! carry back-dated `occurred_at`s. Ordering by the time the API shows
//! keeps the list in the order of its `occurredAt`s whatever minted the id,
//! and `id` (unique) breaks ties: events of one transaction or one
//! microsecond still page deterministically, and `Uuid::now_v7` is strictly
//! increasing within a process, so such ties keep their insertion order.
//! This is also the order the clients list uses for `CREATED_AT`.
//!
//! **Existing rows** get v7 ids minted in Rust from their `occurred_at`
//! (millisecond) plus random bits, in `(occurred_at, old id)` order through
//! one `ContextV7`, whose counter makes ids within one millisecond strictly
//! increasing: rows that tied on `occurred_at` keep their old relative
//! order. The old→new pairs go to a scratch table and one `INSERT … SELECT`
//! joins them in, so row contents never pass through Rust. Everything runs
//! in one transaction on both databases (a failure leaves the old table);
//! on PostgreSQL the table is locked first so no row written meanwhile can
//! miss its id, and `statement_timeout` is lifted for this transaction only:
//! the copy is a one-off, not a request. Writers wait for the lock; a
//! process still running the old code afterwards fails its audit insert
//! (no id), which rolls back that whole change: no change goes unaudited.
//!
//! What a v7 id still tells: its millisecond (about `occurredAt`, shown
//! anyway) and, for two ids one process minted in one millisecond, how many
//! it minted between them (its counter restarts at a random value every
//! millisecond): nothing over any longer span.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::DateTimeUtc;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement};
use uuid::{ContextV7, Timestamp, Uuid};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000001_audit_event_uuid"
    }
}

/// The action check as the table has it at this point of the history.
const ACTIONS: [&str; 6] = [
    "CLIENT_PROVISIONED",
    "USER_ASSIGNED",
    "USER_UNASSIGNED",
    "SUPPORT_CONTACT_SET",
    "SUPPORT_CONTACT_UNSET",
    "CLIENT_STATUS_CHANGED",
];

/// Rows read per backfill batch (two parameters each when written back).
const BATCH: u64 = 1000;

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
enum Partners {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
}

/// Scratch table: old bigint id → new uuid, dropped before commit.
#[derive(DeriveIden)]
enum AuditEventIds {
    Table,
    OldId,
    NewId,
}

/// The columns both shapes of the table share, in order.
const COLUMNS: &str = "partner_id, client_uuid, actor_id, subject_user_id, action, details, occurred_at";

/// The two shapes of `audit_events` this migration moves between.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// Before: a bigint auto-increment, newest first by `id`.
    Bigint,
    /// After: a UUIDv7, newest first by `(occurred_at, id)`.
    Uuid,
}

impl Shape {
    /// The name the new table is built under before it replaces the old.
    fn scratch(self) -> &'static str {
        match self {
            Shape::Bigint => "audit_events_prev",
            Shape::Uuid => "audit_events_next",
        }
    }

    fn id(self) -> ColumnDef {
        let mut id = ColumnDef::new(AuditEvents::Id);
        match self {
            Shape::Bigint => id.big_integer().not_null().auto_increment().primary_key(),
            Shape::Uuid => id.uuid().not_null().primary_key(),
        };
        id
    }

    /// `audit_events_client_idx`: a client's events in list order.
    fn index(self) -> IndexCreateStatement {
        let mut index = Index::create().name("audit_events_client_idx").table(AuditEvents::Table).to_owned();
        index.col(AuditEvents::ClientUuid);
        if self == Shape::Uuid {
            index.col(AuditEvents::OccurredAt);
        }
        index.col(AuditEvents::Id).to_owned()
    }

    /// The table in this shape, under its scratch name.
    fn table(self) -> TableCreateStatement {
        let name = self.scratch();
        let fk = |constraint: &str, col: AuditEvents, to: (DynIden, DynIden)| {
            ForeignKey::create()
                .name(constraint)
                .from(Alias::new(name), col)
                .to(to.0, to.1)
                .on_delete(ForeignKeyAction::Restrict)
                .to_owned()
        };
        Table::create()
            .table(Alias::new(name))
            .col(self.id())
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
                AuditEvents::PartnerId,
                (Partners::Table.into_iden(), Partners::Id.into_iden()),
            ))
            .foreign_key(&mut fk(
                "audit_events_client_uuid_fkey",
                AuditEvents::ClientUuid,
                (Clients::Table.into_iden(), Clients::Id.into_iden()),
            ))
            .to_owned()
    }

    /// Replace `audit_events` by the filled scratch table: check the row
    /// count, drop, rename, and give PostgreSQL's primary key (and identity
    /// sequence) the names the table had from the start.
    async fn swap_in(self, manager: &SchemaManager<'_>) -> Result<(), DbErr> {
        let (db, next) = (manager.get_connection(), self.scratch());
        let count =
            |t: &str| Statement::from_string(db.get_database_backend(), format!("SELECT COUNT(*) AS n FROM {t}"));
        let n = |r: Option<QueryResult>| r.map(|r| r.try_get::<i64>("", "n")).transpose();
        let old = n(db.query_one_raw(count("audit_events")).await?)?;
        let new = n(db.query_one_raw(count(next)).await?)?;
        if old != new {
            return Err(DbErr::Migration(format!("audit_events copy has {new:?} rows, expected {old:?}")));
        }
        manager.drop_table(Table::drop().table(AuditEvents::Table).to_owned()).await?;
        manager.rename_table(Table::rename().table(Alias::new(next), AuditEvents::Table).to_owned()).await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(&format!("ALTER INDEX {next}_pkey RENAME TO audit_events_pkey")).await?;
            if self == Shape::Bigint {
                db.execute_unprepared(&format!("ALTER SEQUENCE {next}_id_seq RENAME TO audit_events_id_seq")).await?;
            }
        }
        manager.create_index(self.index()).await
    }
}

/// Writers wait for this transaction; no statement timeout for the copy.
async fn prepare(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if manager.get_database_backend() == DatabaseBackend::Postgres {
        let db = manager.get_connection();
        db.execute_unprepared("SET LOCAL statement_timeout = 0").await?;
        db.execute_unprepared("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE").await?;
    }
    Ok(())
}

/// Fill `audit_event_ids` with a v7 id for every row, minted from its
/// `occurred_at`, strictly increasing in `(occurred_at, id)` order.
async fn mint_ids(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let context = ContextV7::new();
    let mut last: Option<(DateTimeUtc, i64)> = None;
    loop {
        let mut select = Query::select()
            .columns([AuditEvents::Id, AuditEvents::OccurredAt])
            .from(AuditEvents::Table)
            .order_by(AuditEvents::OccurredAt, Order::Asc)
            .order_by(AuditEvents::Id, Order::Asc)
            .limit(BATCH)
            .to_owned();
        if let Some((at, id)) = last {
            select.and_where(
                Expr::tuple([Expr::col(AuditEvents::OccurredAt), Expr::col(AuditEvents::Id)])
                    .gt(Expr::tuple([Expr::val(at), Expr::val(id)])),
            );
        }
        let rows = db.query_all(&select).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = Query::insert()
            .into_table(AuditEventIds::Table)
            .columns([AuditEventIds::OldId, AuditEventIds::NewId])
            .to_owned();
        for row in &rows {
            let id: i64 = row.try_get("", "id")?;
            let at: DateTimeUtc = row.try_get("", "occurred_at")?;
            // Before 1970 cannot be a v7 timestamp; no audit row is that old.
            let secs = <u64 as TryFrom<i64>>::try_from(at.timestamp()).unwrap_or(0);
            let uuid = Uuid::new_v7(Timestamp::from_unix(&context, secs, at.timestamp_subsec_nanos()));
            insert.values([id.into(), uuid.into()]).map_err(|e| DbErr::Migration(e.to_string()))?;
            last = Some((at, id));
        }
        db.execute(&insert).await?;
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// All or nothing, on SQLite too.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        prepare(manager).await?;
        // A write first: SQLite takes its write lock here, before the reads.
        manager
            .create_table(
                Table::create()
                    .table(AuditEventIds::Table)
                    .col(ColumnDef::new(AuditEventIds::OldId).big_integer().not_null().primary_key())
                    .col(ColumnDef::new(AuditEventIds::NewId).uuid().not_null())
                    .to_owned(),
            )
            .await?;
        mint_ids(manager).await?;
        manager.create_table(Shape::Uuid.table()).await?;
        let a_cols = COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
        let next = Shape::Uuid.scratch();
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO {next} (id, {COLUMNS}) SELECT m.new_id, {a_cols} \
                 FROM audit_events a JOIN audit_event_ids m ON m.old_id = a.id"
            ))
            .await?;
        manager.drop_table(Table::drop().table(AuditEventIds::Table).to_owned()).await?;
        Shape::Uuid.swap_in(manager).await
    }

    /// Back to a bigint auto-increment, numbered in list order.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        prepare(manager).await?;
        manager.create_table(Shape::Bigint.table()).await?;
        let prev = Shape::Bigint.scratch();
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO {prev} ({COLUMNS}) SELECT {COLUMNS} FROM audit_events ORDER BY occurred_at, id"
            ))
            .await?;
        Shape::Bigint.swap_in(manager).await
    }
}
