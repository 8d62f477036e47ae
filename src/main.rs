use clap::error::ErrorKind;
use clap::Parser;
use partner_clients::cli::{run, Cli};
use std::process::ExitCode;

/// jemalloc, not glibc's allocator: a fifth of the server's CPU was malloc
/// and free under the benchmark (Cargo.toml says what was measured).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => e.exit(),
        Err(e) => {
            // One line: clap's reason, without the usage block.
            let msg = e.to_string();
            eprintln!("{}", msg.lines().next().unwrap_or("invalid arguments").trim());
            return ExitCode::from(2);
        }
    };
    partner_clients::telemetry::init(&cli.log_format, cli.command.default_log_level());
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
