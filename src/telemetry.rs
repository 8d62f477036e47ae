//! Logging, to stderr: human-readable by default, one JSON object a line with
//! `LOG_FORMAT=json`. Levels from `RUST_LOG`, else the command's default
//! (`info` for `serve`; `warn` for one-shot commands, whose stdout is their
//! output and whose stderr stays empty when they succeed).
//!
//! Colours only on a terminal: escape codes in a log file or a collector
//! are noise, and `NO_COLOR` (any non-empty value, no-color.org) turns
//! them off everywhere.

use std::io::IsTerminal;
use tracing_subscriber::{fmt, EnvFilter};

pub fn init(format: &str, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let ansi = colour_allowed(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = if format.eq_ignore_ascii_case("json") {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.try_init()
    };
}

fn colour_allowed(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::colour_allowed;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colour_allowed(true, None));
        assert!(colour_allowed(true, Some("".into())), "an empty NO_COLOR is unset (no-color.org)");
        assert!(!colour_allowed(true, Some("1".into())));
        assert!(!colour_allowed(false, None));
    }
}
