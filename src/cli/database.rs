//! The database as each command needs it: `migrate`, `seed-bench` and
//! `serve` migrate it (creating a SQLite file when the URL allows; `serve`
//! does so before it opens its least-privilege pool, and skips it only for
//! `--skip-migrations` without `--demo`); `token` and `admin` take it as it
//! is. Migrations run only in [`migrated`].

use crate::config::DbArgs;
use anyhow::{Context, Result};
use migration::MigratorTrait;

/// For `migrate`, `seed-bench` and `serve`: connect, then apply pending migrations
/// (creating a SQLite file when the URL says `mode=rwc`).
pub async fn migrated(db: &DbArgs) -> Result<sea_orm::DatabaseConnection> {
    let conn = connected(db).await?;
    migration::Migrator::up(&conn, None).await.context("migration failed")?;
    Ok(conn)
}

/// For `serve --demo`: [`migrated`], but a database holding accounts the
/// demo did not create is refused before anything is applied to it, so a
/// real database the demo was pointed at by mistake is left as it was.
pub async fn migrated_for_demo(db: &DbArgs) -> Result<sea_orm::DatabaseConnection> {
    let conn = connected(db).await?;
    if migration::SchemaManager::new(&conn).has_table("users").await? {
        crate::ops::demo::refuse_foreign_accounts(&conn).await?;
    }
    migration::Migrator::up(&conn, None).await.context("migration failed")?;
    Ok(conn)
}

async fn connected(db: &DbArgs) -> Result<sea_orm::DatabaseConnection> {
    crate::db::connect(db, None).await.with_context(|| format!("cannot connect to {}", redact_url(&db.database_url)))
}

/// For `token` and `admin`: the database as it is. These commands never
/// create or migrate one: run in the wrong folder, they would otherwise
/// leave an empty database behind and report "no such user" from it. A
/// SQLite URL's `mode=rwc` is opened as `mode=rw`, and a missing file or a
/// pending migration is a one-line error naming `partner-clients migrate`.
pub async fn existing(db: &DbArgs) -> Result<sea_orm::DatabaseConnection> {
    let mut args = db.clone();
    if let Some(file) = sqlite_file(&db.database_url) {
        if !std::path::Path::new(file).exists() {
            anyhow::bail!("no database at {file}: create it with `partner-clients migrate`");
        }
        args.database_url = without_create(&db.database_url);
    }
    let shown = redact_url(&db.database_url);
    let conn = crate::db::connect(&args, None)
        .await
        .with_context(|| format!("cannot open {shown} (`partner-clients migrate` creates a database)"))?;
    // The read-only variant: `get_pending_migrations` would first create
    // the migrations table, a write this command must not make.
    let pending = migration::Migrator::get_pending_migrations_read_only(&conn)
        .await
        .with_context(|| format!("cannot read the migration state of {shown}"))?;
    if let Some(first) = pending.first() {
        anyhow::bail!(
            "{shown} has {} pending migration(s), from {}: run `partner-clients migrate` first",
            pending.len(),
            first.name()
        );
    }
    Ok(conn)
}

/// The file of a SQLite URL (`sqlite://FILE?…` or `sqlite:FILE`), unless it
/// is in memory or percent-encoded (then the driver's own error speaks).
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
    let memory = file.is_empty() || file.starts_with(":memory:") || query.split('&').any(|p| p == "mode=memory");
    (!memory && !file.contains('%')).then_some(file)
}

/// The URL with SQLite's `mode=rwc` (create if missing) as `mode=rw`.
fn without_create(url: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) => {
            let params: Vec<&str> = query.split('&').map(|p| if p == "mode=rwc" { "mode=rw" } else { p }).collect();
            format!("{base}?{}", params.join("&"))
        }
        None => url.to_owned(),
    }
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_are_opened_without_creating_a_file() {
        assert_eq!(sqlite_file("sqlite://partner-clients.db?mode=rwc"), Some("partner-clients.db"));
        assert_eq!(sqlite_file("sqlite:/tmp/x.db"), Some("/tmp/x.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://x.db?mode=memory&cache=shared"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
        assert_eq!(without_create("sqlite://x.db?mode=rwc"), "sqlite://x.db?mode=rw");
        assert_eq!(without_create("sqlite://x.db?cache=shared&mode=rwc"), "sqlite://x.db?cache=shared&mode=rw");
        assert_eq!(without_create("sqlite://x.db?mode=ro"), "sqlite://x.db?mode=ro");
        assert_eq!(without_create("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
