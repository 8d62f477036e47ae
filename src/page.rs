//! Keyset pagination shared by every connection.
//!
//! A cursor is opaque to clients: base64url of a small JSON document naming
//! the ordering it belongs to and the sort-key values of one row (ending with
//! the row's unique id). Pages are `WHERE (key..., id) > (cursor...)` with
//! `LIMIT n + 1`: no OFFSET, stable when rows are added between pages, and
//! walking backwards with `last`/`before` yields exactly the forward
//! sequence. A cursor from another ordering or list is `BAD_USER_INPUT`.
//!
//! One [`Keyset`] per ordering both encodes a row's cursor and decodes a
//! client's cursor back into SQL values, so the two cannot drift apart; pages
//! come back with each row's cursor beside it (the edges).
//!
//! Why not async-graphql's `connection::query` or sea-orm's `Cursor`: the
//! former owns argument handling but not the keyset (we would still encode
//! and decode it here) and lays out its own error messages; the latter
//! pages by one column and knows no `last`/`before` over a composite key with
//! a direction, and neither gives a cursor that names its ordering (a cursor
//! from another list or order must be refused, not silently misread).

use crate::error::AppError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sea_orm::sea_query::{Expr, ExprTrait, IntoIden, SimpleExpr};
use sea_orm::{EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select, Value};
use serde::{Deserialize, Serialize};

/// The page size when a request gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// `first`/`after`/`last`/`before` as the client sent them.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// One sort-key value inside a cursor.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum KeyPart {
    Int(i64),
    Text(String),
}

impl KeyPart {
    /// A timestamp key, at the microsecond precision timestamps are stored
    /// with, so the row read back compares equal to its cursor.
    pub fn time(t: &chrono::DateTime<chrono::Utc>) -> KeyPart {
        KeyPart::Text(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    }

    pub fn uuid(u: uuid::Uuid) -> KeyPart {
        KeyPart::Text(u.to_string())
    }

    /// The SQL value of a [`KeyPart::time`] key; `None` if it is not one.
    pub fn time_value(&self) -> Option<Value> {
        match self {
            KeyPart::Text(t) => {
                chrono::DateTime::parse_from_rfc3339(t).ok().map(|d| Value::from(d.with_timezone(&chrono::Utc)))
            }
            KeyPart::Int(_) => None,
        }
    }

    /// The SQL value of a text key; `None` if it is not one.
    pub fn text_value(&self) -> Option<Value> {
        match self {
            KeyPart::Text(t) => Some(Value::from(t.clone())),
            KeyPart::Int(_) => None,
        }
    }

    /// The SQL value of a [`KeyPart::uuid`] key; `None` if it is not one.
    pub fn uuid_value(&self) -> Option<Value> {
        match self {
            KeyPart::Text(t) => uuid::Uuid::parse_str(t).ok().map(Value::from),
            KeyPart::Int(_) => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CursorDoc {
    /// The ordering this cursor belongs to, e.g. `clients:BUSINESS_NAME:ASC`.
    o: String,
    k: Vec<KeyPart>,
}

fn encode_cursor(ordering: &str, key: Vec<KeyPart>) -> String {
    let doc = CursorDoc { o: ordering.to_owned(), k: key };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&doc).unwrap_or_default())
}

fn decode_cursor(ordering: &str, arity: usize, s: &str) -> Result<Vec<KeyPart>, AppError> {
    let bad = || AppError::BadUserInput("invalid cursor: use a cursor from this list and ordering".into());
    if s.len() > 1024 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let doc: CursorDoc = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if doc.o != ordering || doc.k.len() != arity {
        return Err(bad());
    }
    Ok(doc.k)
}

/// A validated page request.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub limit: u64,
    pub backward: bool,
    after: Option<Vec<KeyPart>>,
    before: Option<Vec<KeyPart>>,
}

/// How a list of `T` is ordered: the sort-key columns (the last one unique)
/// and the direction; how a row's key is written into a cursor, and how a
/// cursor's parts turn back into SQL values.
pub struct Keyset<T> {
    pub name: &'static str,
    pub columns: Vec<SimpleExpr>,
    pub descending: bool,
    /// The row's key, one part per column.
    pub key: fn(&T) -> Vec<KeyPart>,
    /// Part `i` of a cursor as an SQL value; `None` when it cannot be one.
    pub to_value: fn(usize, &KeyPart) -> Option<Value>,
}

impl<T> Keyset<T> {
    /// The row's cursor.
    pub fn cursor(&self, row: &T) -> String {
        encode_cursor(self.name, (self.key)(row))
    }

    /// A client's cursor, checked against this ordering and its value types.
    fn decode(&self, s: &str) -> Result<Vec<KeyPart>, AppError> {
        let parts = decode_cursor(self.name, self.columns.len(), s)?;
        for (i, p) in parts.iter().enumerate() {
            (self.to_value)(i, p).ok_or_else(|| {
                AppError::BadUserInput("invalid cursor: use a cursor from this list and ordering".into())
            })?;
        }
        Ok(parts)
    }
}

impl PageRequest {
    /// `max`: the configured largest page (`LIMIT_PAGE_SIZE`).
    pub fn parse<T>(args: &PageArgs, max: u32, keyset: &Keyset<T>) -> Result<Self, AppError> {
        let size = |n: i32, name: &str| -> Result<u64, AppError> {
            if n < 0 || n as u32 > max {
                Err(AppError::BadUserInput(format!("`{name}` must be between 0 and {max}")))
            } else {
                Ok(n as u64)
            }
        };
        let (limit, backward) = match (args.first, args.last) {
            (Some(_), Some(_)) => return Err(AppError::BadUserInput("pass `first` or `last`, not both".into())),
            (Some(n), None) => (size(n, "first")?, false),
            (None, Some(n)) => (size(n, "last")?, true),
            (None, None) => {
                (u64::from(std::cmp::min(DEFAULT_PAGE_SIZE, max)), args.before.is_some() && args.after.is_none())
            }
        };
        let after = args.after.as_deref().map(|c| keyset.decode(c)).transpose()?;
        let before = args.before.as_deref().map(|c| keyset.decode(c)).transpose()?;
        Ok(PageRequest { limit, backward, after, before })
    }

    /// Apply bounds, order and `LIMIT n + 1` to a select.
    pub fn apply<E: EntityTrait, T>(&self, keyset: &Keyset<T>, mut select: Select<E>) -> Select<E> {
        let tuple = |parts: &Vec<KeyPart>| {
            Expr::tuple(
                parts.iter().enumerate().map(|(i, p)| Expr::val((keyset.to_value)(i, p).unwrap_or(Value::Bool(None)))),
            )
        };
        let cols = || Expr::tuple(keyset.columns.iter().cloned());
        // "after" means further along the list's own direction.
        if let Some(a) = &self.after {
            select = select.filter(if keyset.descending { cols().lt(tuple(a)) } else { cols().gt(tuple(a)) });
        }
        if let Some(b) = &self.before {
            select = select.filter(if keyset.descending { cols().gt(tuple(b)) } else { cols().lt(tuple(b)) });
        }
        self.order(keyset, select).limit(self.limit + 1)
    }

    /// The scan [`PageRequest::apply`] makes over a keyset: its direction
    /// (`true`: descending) and the key it starts after, if any (`after`
    /// going forward, `before` going backward). For a query that picks the
    /// page itself (the PostgreSQL search, `repo::clients`).
    pub fn scan(&self, keyset_descending: bool) -> (bool, Option<&[KeyPart]>) {
        let start = if self.backward { self.before.as_deref() } else { self.after.as_deref() };
        (keyset_descending != self.backward, start)
    }

    /// Only the order of [`PageRequest::apply`]: for an outer query that
    /// fetches the rows a keyed inner query picked.
    pub fn order<E: EntityTrait, T>(&self, keyset: &Keyset<T>, mut select: Select<E>) -> Select<E> {
        let ascending = keyset.descending == self.backward;
        let order = if ascending { Order::Asc } else { Order::Desc };
        for c in &keyset.columns {
            select = select.order_by(c.clone(), order.clone());
        }
        select
    }

    /// Trim the extra row, restore list order, work out page info, and pair
    /// each row with its cursor.
    pub fn finish<T>(&self, keyset: &Keyset<T>, mut rows: Vec<T>) -> Page<T> {
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        if self.backward {
            rows.reverse();
        }
        let (has_next_page, has_previous_page) =
            if self.backward { (self.before.is_some(), more) } else { (more, self.after.is_some()) };
        let edges = rows.into_iter().map(|row| (keyset.cursor(&row), row)).collect();
        Page { edges, has_next_page, has_previous_page }
    }
}

/// One page of rows in list order, each with its cursor.
#[derive(Debug)]
pub struct Page<T> {
    pub edges: Vec<(String, T)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            edges: self.edges.into_iter().map(|(c, t)| (c, f(t))).collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        }
    }

    pub fn rows(&self) -> impl Iterator<Item = &T> {
        self.edges.iter().map(|(_, t)| t)
    }
}

/// A column of `E` as an expression, for [`Keyset::columns`].
pub fn col<C: IntoIden>(c: C) -> SimpleExpr {
    Expr::col(c).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_foreign_cursor() {
        let c = encode_cursor("clients:CLIENT_ID:ASC", vec![KeyPart::Text("acme".into()), KeyPart::Int(3)]);
        assert_eq!(
            decode_cursor("clients:CLIENT_ID:ASC", 2, &c).unwrap(),
            vec![KeyPart::Text("acme".into()), KeyPart::Int(3)]
        );
        assert!(decode_cursor("clients:BUSINESS_NAME:ASC", 2, &c).is_err());
        assert!(decode_cursor("clients:CLIENT_ID:ASC", 1, &c).is_err());
        assert!(decode_cursor("x", 1, "not base64!").is_err());
    }

    #[test]
    fn time_and_uuid_keys_round_trip() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-28T10:00:00.123456Z").unwrap().to_utc();
        assert_eq!(KeyPart::time(&at).time_value(), Some(Value::from(at)));
        let u = uuid::Uuid::now_v7();
        assert_eq!(KeyPart::uuid(u).uuid_value(), Some(Value::from(u)));
        assert_eq!(KeyPart::Int(7).time_value(), None);
        assert_eq!(KeyPart::Text("7".into()).uuid_value(), None);
    }
}
