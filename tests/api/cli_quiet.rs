//! A quiet, safe CLI (issue 14): `token` and `admin` never create or
//! migrate a database, a successful command prints its output and nothing
//! else, and logs that do not go to a terminal carry no colour codes. The
//! real binary is run, as an operator would.

use crate::helpers::TEST_SECRET;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary with a key and no `DATABASE_URL` / `RUST_LOG` of the caller's.
fn partner_clients(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_partner-clients"));
    c.args(args)
        .current_dir(dir)
        .env("JWT_SECRET", TEST_SECRET)
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env_remove("LOG_FORMAT")
        .env_remove("JWT_PUBLIC_KEY_FILE");
    c
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Failed with one line on stderr that names `partner-clients migrate`.
#[track_caller]
fn refused_naming_migrate(out: &Output) -> String {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "should fail; stdout {:?}", text(&out.stdout));
    assert!(out.stdout.is_empty(), "stdout: {:?}", text(&out.stdout));
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.contains("partner-clients migrate"), "{err}");
    err
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn token_and_admin_in_an_empty_folder_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // The default DATABASE_URL is sqlite://partner-clients.db?mode=rwc.
    for args in [
        &["token", "--demo", "--email", "ada@northwind.example"][..],
        &["token", "--email", "ada@northwind.example"],
        &["admin", "create-partner", "--slug", "acme", "--name", "Acme"],
        &["admin", "deactivate-user", "--email", "ada@northwind.example"],
    ] {
        let out = partner_clients(dir.path(), args).output().unwrap();
        let err = refused_naming_migrate(&out);
        assert!(err.contains("partner-clients.db"), "{args:?}: {err}");
        assert_eq!(files_in(dir.path()), Vec::<String>::new(), "{args:?} left files behind");
    }
    // An explicit `mode=rwc` URL to a missing file: the same.
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("elsewhere.db").display());
    let out =
        partner_clients(dir.path(), &["token", "--email", "a@b.example"]).env("DATABASE_URL", &url).output().unwrap();
    refused_naming_migrate(&out);
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

/// A database that exists but was never migrated is refused, not migrated.
#[tokio::test]
async fn pending_migrations_are_refused_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("empty.db");
    std::fs::File::create(&file).unwrap();
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let out =
        partner_clients(dir.path(), &["token", "--email", "a@b.example"]).env("DATABASE_URL", &url).output().unwrap();
    let err = refused_naming_migrate(&out);
    assert!(err.contains("pending migration"), "{err}");
    assert_eq!(tables(&url, DbBackend::Sqlite).await, 0, "the command created tables");

    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else { return };
    let name = format!("pc_quiet_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url).await.unwrap();
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
    let url = with_db_name(&admin_url, &name);
    let out = partner_clients(dir.path(), &["admin", "create-partner", "--slug", "acme", "--name", "Acme"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let created = tables(&url, DbBackend::Postgres).await;
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
    let err = refused_naming_migrate(&out);
    assert!(err.contains("pending migration"), "{err}");
    assert_eq!(created, 0, "the command created tables");
}

/// Tables in the database (its own schema only).
async fn tables(url: &str, backend: DbBackend) -> i64 {
    let sql = match backend {
        DbBackend::Sqlite => "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'",
        _ => "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
    };
    let db = Database::connect(url).await.unwrap();
    let row = db.query_one_raw(Statement::from_string(backend, sql)).await.unwrap().unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    db.close().await.unwrap();
    n
}

fn with_db_name(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = &base[..base.rfind('/').unwrap()];
    query.map_or_else(|| format!("{prefix}/{name}"), |q| format!("{prefix}/{name}?{q}"))
}

/// With the default log level, each successful command writes its output
/// to stdout and nothing to stderr; only `migrate` creates the database.
fn successful_commands_print_their_output_and_nothing_else(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = partner_clients(dir.path(), args).env("DATABASE_URL", url).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{args:?} wrote to stderr");
        text(&out.stdout)
    };
    assert_eq!(run(&["migrate"]), "migrations applied\n");
    let partner = run(&["admin", "create-partner", "--slug", "quiet", "--name", "Quiet"]);
    assert!(uuid::Uuid::parse_str(partner.trim_end()).is_ok(), "{partner:?}");
    let email = "ada@quiet.example";
    let create =
        ["admin", "create-user", "--partner", "quiet", "--email", email, "--name", "Ada", "--role", "partner_admin"];
    let user = run(&create);
    assert!(uuid::Uuid::parse_str(user.trim_end()).is_ok(), "{user:?}");

    let token = run(&["token", "--email", email]);
    assert_eq!(token.lines().count(), 1, "{token:?}");
    assert_eq!(token.trim_end().split('.').count(), 3, "{token:?}");

    assert!(run(&["export-schema"]).contains("type Query"));
    // Nothing was created in the working folder.
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

#[test]
fn successful_commands_are_quiet_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    successful_commands_print_their_output_and_nothing_else(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("quiet.db").display()
    ));
}

#[tokio::test]
async fn successful_commands_are_quiet_postgres() {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else { return };
    let name = format!("pc_quiet_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url).await.unwrap();
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
    let url = with_db_name(&admin_url, &name);
    let outcome = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(|| successful_commands_print_their_output_and_nothing_else(&url))
    })
    .await
    .unwrap();
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Logs written to a file carry no ANSI escape codes.
#[test]
fn logs_piped_to_a_file_have_no_escape_codes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("migrate.log");
    let status = partner_clients(dir.path(), &["migrate"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.contains("Applying migration"), "the test needs log lines: {written:?}");
    assert!(!written.contains('\u{1b}'), "escape codes in {written:?}");
}
