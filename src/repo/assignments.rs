//! Assignment rows: which partner user works on which client.

use crate::error::Result;
use entity::client_assignment;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Assignments of many clients at once (the DataLoader's batch), each list
/// ordered by assignment time. The clients were resolved through the
/// principal's scope by the caller.
pub async fn for_clients(
    db: &impl ConnectionTrait,
    client_uuids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<client_assignment::Model>>> {
    let rows = client_assignment::Entity::find()
        .filter(client_assignment::Column::ClientUuid.is_in(client_uuids.iter().copied()))
        .order_by_asc(client_assignment::Column::AssignedAt)
        .order_by_asc(client_assignment::Column::UserId)
        .all(db)
        .await?;
    let mut map: HashMap<Uuid, Vec<client_assignment::Model>> = HashMap::new();
    for r in rows {
        map.entry(r.client_uuid).or_default().push(r);
    }
    Ok(map)
}

/// The users assigned to a client.
pub async fn user_ids(txn: &impl ConnectionTrait, client_uuid: Uuid) -> Result<HashSet<Uuid>> {
    Ok(client_assignment::Entity::find()
        .filter(client_assignment::Column::ClientUuid.eq(client_uuid))
        .all(txn)
        .await?
        .into_iter()
        .map(|a| a.user_id)
        .collect())
}

pub async fn get(
    txn: &impl ConnectionTrait,
    client_uuid: Uuid,
    user_id: Uuid,
) -> Result<Option<client_assignment::Model>> {
    Ok(client_assignment::Entity::find_by_id((client_uuid, user_id)).one(txn).await?)
}

/// Is a support contact other than `user_id` assigned to the client?
pub async fn other_support_contact(txn: &impl ConnectionTrait, client_uuid: Uuid, user_id: Uuid) -> Result<bool> {
    Ok(client_assignment::Entity::find()
        .filter(client_assignment::Column::ClientUuid.eq(client_uuid))
        .filter(client_assignment::Column::SupportContact.eq(true))
        .filter(client_assignment::Column::UserId.ne(user_id))
        .one(txn)
        .await?
        .is_some())
}

pub struct NewAssignment {
    pub client_uuid: Uuid,
    pub user_id: Uuid,
    pub support_contact: bool,
    pub assigned_by: Option<Uuid>,
    pub assigned_at: chrono::DateTime<chrono::Utc>,
}

impl NewAssignment {
    /// The row it is stored as.
    pub fn row(self) -> client_assignment::ActiveModel {
        client_assignment::ActiveModel {
            client_uuid: Set(self.client_uuid),
            user_id: Set(self.user_id),
            support_contact: Set(self.support_contact),
            assigned_by: Set(self.assigned_by),
            assigned_at: Set(self.assigned_at),
        }
    }
}

pub async fn insert_many(txn: &impl ConnectionTrait, rows: impl IntoIterator<Item = NewAssignment>) -> Result<()> {
    let rows: Vec<client_assignment::ActiveModel> = rows.into_iter().map(NewAssignment::row).collect();
    if !rows.is_empty() {
        client_assignment::Entity::insert_many(rows).exec_without_returning(txn).await?;
    }
    Ok(())
}

pub async fn delete(txn: &impl ConnectionTrait, client_uuid: Uuid, user_id: Uuid) -> Result<()> {
    client_assignment::Entity::delete_by_id((client_uuid, user_id)).exec(txn).await?;
    Ok(())
}

pub async fn set_support_contact(txn: &impl ConnectionTrait, row: client_assignment::Model, on: bool) -> Result<()> {
    let mut am: client_assignment::ActiveModel = row.into();
    am.support_contact = Set(on);
    client_assignment::Entity::update(am).exec(txn).await?;
    Ok(())
}
