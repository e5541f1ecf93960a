//! A tiny stderr logger: `secret-init: LEVEL: message`, or one JSON object per line.
//!
//! It takes only `fmt::Arguments` built by the caller; no secret value is ever formatted into them
//! ([`crate::secret::Secret`] prints as `<redacted>` even if one were).

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// How much to log, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Only errors.
    Error = 0,
    /// Errors and warnings.
    Warn = 1,
    /// The default: one line per start.
    Info = 2,
    /// Each source tried, each file written.
    Debug = 3,
    /// Everything, including timings.
    Trace = 4,
}

impl Level {
    /// Parses `error|warn|info|debug|trace`.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// Line format of log output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `secret-init: info: message`
    Text,
    /// `{"level":"info","msg":"message"}`
    Json,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static JSON: AtomicU8 = AtomicU8::new(0);

/// Sets the process-wide level and format; called once settings are known.
pub(crate) fn configure(level: Level, format: Format) {
    LEVEL.store(level as u8, Ordering::Relaxed);
    JSON.store(u8::from(format == Format::Json), Ordering::Relaxed);
}

/// Whether a message at `level` would be printed.
pub(crate) fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line at `level` (errors are always written).
pub(crate) fn write(level: Level, args: std::fmt::Arguments<'_>) {
    if level != Level::Error && !enabled(level) {
        return;
    }
    let msg = escape_controls(&args.to_string());
    let line = if JSON.load(Ordering::Relaxed) == 1 {
        let obj = serde_json::json!({"level": level.name(), "msg": msg});
        format!("{obj}\n")
    } else {
        format!("secret-init: {}: {msg}\n", level.name())
    };
    // A closed stderr must not stop a start: the message is lost, nothing else.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Replaces control characters so one problem stays one line, and the bidirectional controls
/// (Trojan Source, CVE-2021-42574) so a name cannot make a line read as something else.
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_bidi_control(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Unicode's bidirectional formatting characters (UAX #9): embeddings, overrides, isolates and
/// the implicit marks, all invisible and all able to reorder what a terminal shows.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

// The level macros, called as `crate::log::warn!(...)`: defined here and re-exported by path
// (not `#[macro_export]`, which would put them at the crate root and make every caller import
// lib.rs).
macro_rules! log_error { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($t)*)) } }
macro_rules! log_warn { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($t)*)) } }
macro_rules! log_info { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($t)*)) } }
macro_rules! log_debug { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Debug, format_args!($($t)*)) } }
macro_rules! log_trace { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Trace, format_args!($($t)*)) } }
/// Logs at debug level.
pub(crate) use log_debug as debug;
/// Logs at error level.
pub(crate) use log_error as error;
/// Logs at info level.
pub(crate) use log_info as info;
/// Logs at trace level.
pub(crate) use log_trace as trace;
/// Logs at warn level.
pub(crate) use log_warn as warn;
