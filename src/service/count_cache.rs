//! Exact match counts, cached per process.
//!
//! Keyed by the partner's `clients_version`, which every change to the
//! partner's client set (provisioning, status, assignments) bumps in its own
//! transaction. A count read under version v was computed from data at least
//! as new as v, so a cached count is never older than the version a reader
//! sees; entries of older versions are simply never asked for again. Each
//! replica has its own cache, and replicas agree because the version lives
//! in the database. Bounded: cleared when full.

use crate::domain::ClientStatus;
use uuid::Uuid;

#[derive(Default)]
pub struct CountCache(std::sync::Mutex<std::collections::HashMap<CountKey, u64>>);

#[derive(Hash, PartialEq, Eq)]
pub struct CountKey {
    pub partner: Uuid,
    pub version: i64,
    /// `None`: the whole partner; else the partner user whose scope it is.
    pub viewer: Option<Uuid>,
    pub statuses: Vec<ClientStatus>,
    pub search: Option<String>,
    /// `None`: an exact count; else counted up to this limit.
    pub limit: Option<u64>,
}

impl CountCache {
    const MAX_ENTRIES: usize = 10_000;

    pub fn get(&self, k: &CountKey) -> Option<u64> {
        self.0.lock().ok()?.get(k).copied()
    }

    pub fn put(&self, k: CountKey, n: u64) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= Self::MAX_ENTRIES {
                m.clear();
            }
            m.insert(k, n);
        }
    }
}
