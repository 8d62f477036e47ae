//! The `partner-clients` command line: serve, migrate, export-schema, token,
//! admin and seed-bench. Each command prints what it made on stdout (one
//! value per line where it makes one value) and, on bad input, exits
//! non-zero with a one-line reason on stderr and writes nothing. A
//! successful run writes nothing to stderr (logs default to `warn`, except
//! for `serve`). `migrate`, `serve` and `seed-bench` migrate the database;
//! `token` and `admin` never create or migrate one; `export-schema` opens
//! none.

use crate::auth::Authenticator;
use crate::config::{DbArgs, JwtArgs, ServeArgs};
use crate::http::AppState;
use crate::ops::{admin, demo};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::future::IntoFuture;
use std::time::Duration;

mod database;
pub use database::redact_url;
use database::{existing, migrated, migrated_for_demo};

#[derive(Parser, Debug)]
#[command(name = "partner-clients", version, about = "GraphQL control plane behind AiDial's partner Clients page")]
pub struct Cli {
    /// Log format: `text` (default) or `json`.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Apply pending migrations.
    Migrate(DbArgs),
    /// Print the GraphQL schema (SDL); schema.graphql is this output.
    ExportSchema,
    /// Sign a token for a user.
    Token(TokenArgs),
    /// AiDial operations on partners, users and clients.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Generate a large synthetic data set for benchmarks.
    SeedBench(SeedBenchArgs),
}

#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    #[arg(long)]
    pub email: String,
    /// Lifetime, e.g. 30m, 1h, 7d.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    pub ttl: Duration,
    /// Narrow the token, e.g. `clients:read` (read-only).
    #[arg(long)]
    pub scope: Option<String>,
    /// Sign with the public demo key (only `serve --demo` accepts it).
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub jwt: JwtArgs,
}

#[derive(clap::Args, Debug)]
pub struct SeedBenchArgs {
    #[arg(long)]
    pub clients: u64,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    CreatePartner {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    CreateUser {
        /// Partner slug; required for partner_admin and partner_user.
        #[arg(long)]
        partner: Option<String>,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// partner_admin, partner_user, customer_admin, customer_user or aidial_staff.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        db: DbArgs,
    },
    DeactivateUser {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        db: DbArgs,
    },
    SetClientStatus {
        #[arg(long)]
        partner: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        status: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// `30s`, `45m`, `1h`, `7d`, or plain seconds.
fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}: use e.g. 30m, 1h, 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("invalid duration unit in {s:?}: use s, m, h or d")),
    };
    if secs == 0 || secs > 366 * 86_400 {
        return Err("ttl must be between 1 s and 366 days".into());
    }
    Ok(Duration::from_secs(secs))
}

impl Command {
    /// The log level when `RUST_LOG` is not set: a one-shot command's
    /// stdout is its output and a successful run writes nothing to stderr;
    /// only the server narrates its life.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve(_) => "info",
            _ => "warn",
        }
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(db) => {
            migrated(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::ExportSchema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Token(t) => {
            let auth = Authenticator::from_args(&t.jwt, t.demo)?;
            let db = existing(&t.db).await?;
            let user = admin::user_by_email(&db, &t.email).await?;
            if auth.uses_demo_key() && !demo::is_demo_account(&user.email) {
                anyhow::bail!("the demo key signs demo accounts only, and {} is not one", user.email);
            }
            println!("{}", auth.issue(user.id, t.ttl, t.scope.as_deref())?);
            Ok(())
        }
        Command::Admin(cmd) => admin_cmd(cmd).await,
        Command::SeedBench(args) => {
            let db = migrated(&args.db).await?;
            let report = crate::ops::seed_bench::seed(&db, args.clients).await?;
            println!("{}", report.big_partner_slug);
            println!("{}", report.admin_email);
            Ok(())
        }
    }
}

async fn admin_cmd(cmd: AdminCommand) -> Result<()> {
    match cmd {
        AdminCommand::CreatePartner { slug, name, db } => {
            let p = admin::create_partner(&existing(&db).await?, &slug, &name).await?;
            println!("{}", p.id);
        }
        AdminCommand::CreateUser { partner, email, name, role, db } => {
            let u = admin::create_user(&existing(&db).await?, partner.as_deref(), &email, &name, &role).await?;
            println!("{}", u.id);
        }
        AdminCommand::DeactivateUser { email, db } => {
            let u = admin::deactivate_user(&existing(&db).await?, &email).await?;
            println!("{}", u.id);
        }
        AdminCommand::SetClientStatus { partner, client_id, status, db } => {
            let c = admin::set_client_status(&existing(&db).await?, &partner, &client_id, &status).await?;
            println!("{}", c.status);
        }
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<()> {
    // Before anything slow: a signal from here on drains instead of killing.
    let signals = Signals::new()?;
    let grace = Duration::from_secs(args.shutdown_grace_secs);
    // The owner's work first, on a connection of its own: migrations, and the
    // demo's check and seed. The server itself runs on the least-privilege pool.
    let owner = match (args.demo, args.skip_migrations) {
        (true, _) => Some(migrated_for_demo(&args.db).await?),
        (false, false) => Some(migrated(&args.db).await?),
        (false, true) => None,
    };
    let state = AppState::from_args(&args).await?;
    if let Some(bind) = &args.metrics_bind {
        // An internal listener for `/metrics` alone; it ends with the process.
        let listener =
            tokio::net::TcpListener::bind(bind).await.with_context(|| format!("cannot bind METRICS_BIND {bind}"))?;
        tracing::info!(addr = %listener.local_addr()?, "metrics listening");
        let app = crate::http::metrics_app(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "metrics listener stopped");
            }
        });
    }
    if let (true, Some(owner)) = (args.demo, &owner) {
        let seeded = demo::seed(owner).await?;
        let listener =
            tokio::net::TcpListener::bind(&args.bind).await.with_context(|| format!("cannot bind {}", args.bind))?;
        let addr = listener.local_addr()?;
        print_demo_banner(owner, &state, addr, seeded).await?;
        return run_server(listener, state, signals, grace).await;
    }
    drop(owner);
    let listener =
        tokio::net::TcpListener::bind(&args.bind).await.with_context(|| format!("cannot bind {}", args.bind))?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    run_server(listener, state, signals, grace).await
}

/// SIGTERM (what orchestrators send) and SIGINT (Ctrl-C).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
            let int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
            Ok(Signals { term, int })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next signal's name.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// How long `/readyz` answers 503 while the listener still accepts: a
/// quarter of the grace period, at most 5 s. Load balancers poll readiness
/// every few seconds (Kubernetes also removes a terminating pod's endpoint
/// asynchronously); closing the listener at the first signal would refuse
/// the connections they still send in that window. The delay comes out of
/// the grace period, so the whole shutdown still ends within it.
fn pre_stop_delay(grace: Duration) -> Duration {
    (grace / 4).min(Duration::from_secs(5))
}

/// Serve until SIGTERM or SIGINT, then drain (DESIGN.md §7): `/readyz` turns
/// 503, the listener closes after [`pre_stop_delay`] (at once on a second
/// signal), in-flight requests finish, exit 0. When the grace period runs
/// out first, the remaining requests are cut and the exit is non-zero, so a
/// supervisor's log shows that requests were lost; it never hangs.
async fn run_server(
    listener: tokio::net::TcpListener,
    state: std::sync::Arc<AppState>,
    mut signals: Signals,
    grace: Duration,
) -> Result<()> {
    let (close_tx, close_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, crate::http::app(state.clone()))
        .with_graceful_shutdown(async move {
            let _ = close_rx.await;
        })
        .into_future();
    tokio::pin!(server);

    let signal = tokio::select! {
        r = &mut server => return r.context("server stopped"),
        s = signals.recv() => s,
    };
    let deadline = tokio::time::Instant::now() + grace;
    state.draining.store(true, std::sync::atomic::Ordering::Relaxed);
    let delay = pre_stop_delay(grace);
    tracing::info!(
        signal,
        grace_secs = grace.as_secs(),
        "draining: /readyz answers 503, the listener closes in {} ms (at once on another signal)",
        delay.as_millis()
    );
    tokio::select! {
        r = &mut server => return r.context("server stopped"),
        _ = tokio::time::sleep(delay) => {}
        _ = signals.recv() => {}
    }
    let _ = close_tx.send(());
    tracing::info!("listener closed; waiting for in-flight requests");
    // Further signals are ignored from here: the grace period bounds the rest.
    tokio::select! {
        // A server that has drained wins over a deadline that passed meanwhile.
        biased;
        r = &mut server => {
            r.context("server stopped")?;
            tracing::info!("drained; exiting");
            Ok(())
        }
        _ = tokio::time::sleep_until(deadline) => {
            tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace period ran out; cutting in-flight requests");
            anyhow::bail!(
                "shutdown grace period of {} s (SHUTDOWN_GRACE_SECS) ran out with requests still in flight",
                grace.as_secs()
            )
        }
    }
}

async fn print_demo_banner(
    owner: &sea_orm::DatabaseConnection,
    state: &AppState,
    addr: std::net::SocketAddr,
    seeded: bool,
) -> Result<()> {
    println!();
    println!("partner-clients demo on http://{addr}/graphql");
    println!("{}", if seeded { "Seeded demo data." } else { "Demo data already present; nothing added." });
    println!("Open the URL in a browser, then paste one of these into GraphiQL's Headers tab:");
    println!();
    for acct in demo::ACCOUNTS {
        let user = admin::user_by_email(owner, acct.email).await?;
        let token = state.auth.issue(user.id, Duration::from_secs(12 * 3600), None)?;
        println!("# {} <{}>", acct.label, acct.email);
        println!("{{\"Authorization\": \"Bearer {token}\"}}");
        println!();
    }
    println!("Tokens last 12 hours; `partner-clients token --demo --email …` makes more.");
    Ok(())
}
