//! A partner's per-status client counters (`partner_client_counts`) and its
//! change version (`partners.clients_version`). Both move in the same
//! transaction as the change they count.

use crate::domain::ClientStatus;
use crate::error::Result;
use entity::{partner, partner_client_count};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

/// The partner's clients in these statuses (all when empty), from the counters.
pub async fn sum(db: &impl ConnectionTrait, partner_id: Uuid, statuses: &[ClientStatus]) -> Result<u64> {
    let mut q = partner_client_count::Entity::find().filter(partner_client_count::Column::PartnerId.eq(partner_id));
    if !statuses.is_empty() {
        q = q.filter(partner_client_count::Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
    }
    let total: Option<i64> = q
        .select_only()
        // SUM(bigint) is NUMERIC on PostgreSQL: cast it back.
        .column_as(
            Expr::expr(Func::cast_as(Func::sum(Expr::col(partner_client_count::Column::Count)), "BIGINT")),
            "total",
        )
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    Ok(u64::try_from(total.unwrap_or(0)).unwrap_or(0))
}

/// The partner's change version: bumped by every change to its client set.
pub async fn version(db: &impl ConnectionTrait, partner_id: Uuid) -> Result<i64> {
    Ok(partner::Entity::find_by_id(partner_id)
        .select_only()
        .column(partner::Column::ClientsVersion)
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or(0))
}

/// Record a change to a partner's client set, on the change's transaction.
pub async fn bump_version(txn: &impl ConnectionTrait, partner_id: Uuid) -> Result<()> {
    partner::Entity::update_many()
        .col_expr(partner::Column::ClientsVersion, Expr::col(partner::Column::ClientsVersion).add(1))
        .filter(partner::Column::Id.eq(partner_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Move a partner's per-status counter by `delta`, on the caller's transaction.
pub async fn bump(txn: &impl ConnectionTrait, partner_id: Uuid, status: ClientStatus, delta: i64) -> Result<()> {
    let count = Expr::col((partner_client_count::Entity, partner_client_count::Column::Count)).add(delta);
    if delta < 0 {
        // A decrement always has a row to move (the client being moved was
        // counted), and an upsert would check `count >= 0` on the proposed
        // row before resolving the conflict.
        partner_client_count::Entity::update_many()
            .col_expr(partner_client_count::Column::Count, count)
            .filter(partner_client_count::Column::PartnerId.eq(partner_id))
            .filter(partner_client_count::Column::Status.eq(status.as_str()))
            .exec(txn)
            .await?;
        return Ok(());
    }
    partner_client_count::Entity::insert(partner_client_count::ActiveModel {
        partner_id: Set(partner_id),
        status: Set(status.as_str().to_owned()),
        count: Set(delta),
    })
    .on_conflict(
        OnConflict::columns([partner_client_count::Column::PartnerId, partner_client_count::Column::Status])
            .value(partner_client_count::Column::Count, count)
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Rebuild every partner's per-status counters from the clients table
/// (operator tooling, after bulk loads).
pub async fn recount(db: &impl ConnectionTrait) -> Result<()> {
    partner_client_count::Entity::delete_many().exec(db).await?;
    db.execute_unprepared(
        "INSERT INTO partner_client_counts (partner_id, status, count) \
         SELECT partner_id, status, COUNT(*) FROM clients GROUP BY partner_id, status",
    )
    .await?;
    Ok(())
}
