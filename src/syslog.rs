//! The syslog sink: ident `genericups`, facility daemon, with the PID, as NUT logs.
//!
//! Owns the few `nix::syslog` calls. Messages always go through syslog's `"%s"` format
//! (nix does that), so text from config files or sockets cannot act as a format string.
#![forbid(unsafe_code)]

use log::Level;
use nix::syslog::{Facility, LogFlags, Priority, Severity};

/// Opens the connection to the system logger. Harmless to call when none runs.
pub fn open() {
    let _ = nix::syslog::openlog(
        Some(c"genericups"),
        LogFlags::LOG_PID | LogFlags::LOG_NDELAY,
        Facility::LOG_DAEMON,
    );
}

pub fn send(level: Level, nut_debug_level: u32, msg: &str) {
    let severity = match level {
        Level::Error => Severity::LOG_ERR,
        Level::Warn => Severity::LOG_WARNING,
        Level::Info if nut_debug_level == 0 => Severity::LOG_INFO,
        _ => Severity::LOG_DEBUG,
    };
    let _ = nix::syslog::syslog(Priority::new(severity, Facility::LOG_DAEMON), msg);
}
