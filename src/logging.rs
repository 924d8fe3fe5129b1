//! Log output in NUT's format: stderr lines, and syslog once asked for.
//!
//! Owns the `log` backend. NUT has numbered debug levels (`-D` once per level) where `log`
//! has one Debug level, so debug messages carry their NUT level in the target
//! (`genericups::D3`), written with the [`upsdebug!`](crate::upsdebug) macro. On stderr, when
//! the debug level is above 0, every line starts with the time since the first logged line
//! (`%4.0f.%06ld\t`, e.g. `   2.002773\t`) and debug lines with `[D<n>] `, as NUT's are, so
//! admins' grep patterns and habits keep working.
#![forbid(unsafe_code)]

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// Logs a NUT debug message at level `$lvl` (1..=9): shown when the debug level is at
/// least `$lvl`.
#[macro_export]
macro_rules! upsdebug {
    ($lvl:literal, $($arg:tt)+) => {
        ::log::debug!(target: concat!("genericups::D", $lvl), $($arg)+)
    };
}

static LOGGER: Logger = Logger {
    level: AtomicU32::new(0),
    syslog: AtomicBool::new(false),
    start: OnceLock::new(),
    lock: Mutex::new(()),
};

struct Logger {
    level: AtomicU32,
    syslog: AtomicBool,
    start: OnceLock<Instant>,
    lock: Mutex<()>,
}

/// The NUT debug level of a record: 0 for info and above, n for `upsdebug!(n, …)`.
fn nut_level(record_target: &str, level: Level) -> u32 {
    if level <= Level::Info {
        return 0;
    }
    record_target
        .rsplit_once("::D")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(if level == Level::Debug { 1 } else { 9 })
}

/// Formats one stderr line the way NUT does (pure, for tests).
pub fn format_line(
    debug_level: u32,
    elapsed: std::time::Duration,
    msg_level: u32,
    msg: &str,
) -> String {
    let mut line = String::new();
    if debug_level > 0 {
        line.push_str(&format!(
            "{:4}.{:06}\t",
            elapsed.as_secs(),
            elapsed.subsec_micros()
        ));
    }
    if msg_level > 0 {
        line.push_str(&format!("[D{msg_level}] "));
    }
    line.push_str(msg);
    line.push('\n');
    line
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        nut_level(metadata.target(), metadata.level()) <= self.level.load(Ordering::Relaxed)
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let msg_level = nut_level(record.target(), record.level());
        let msg = record.args().to_string();
        let _guard = self.lock.lock();
        let start = *self.start.get_or_init(Instant::now);
        let line = format_line(
            self.level.load(Ordering::Relaxed),
            start.elapsed(),
            msg_level,
            &msg,
        );
        // Nothing sensible to do if stderr is gone.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        if self.syslog.load(Ordering::Relaxed) {
            crate::syslog::send(record.level(), msg_level, &msg);
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Installs the logger (once per process) at the given NUT debug level.
pub fn init(debug_level: u32) {
    set_debug_level(debug_level);
    // A second init (tests calling `run` twice) keeps the first logger, which is fine.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(LevelFilter::Trace);
}

pub fn set_debug_level(level: u32) {
    LOGGER.level.store(level, Ordering::Relaxed);
}

/// Also send messages to syslog (NUT does when not debugging, and always once in the
/// background).
pub fn enable_syslog(on: bool) {
    LOGGER.syslog.store(on, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lines_look_like_nut_debug_output() {
        let cases = [
            (
                0,
                Duration::ZERO,
                0,
                "Startup successful",
                "Startup successful\n",
            ),
            (
                5,
                Duration::from_micros(2_002_773),
                5,
                "ups.status: OL",
                "   2.002773\t[D5] ups.status: OL\n",
            ),
            (
                1,
                Duration::from_micros(27),
                1,
                "x",
                "   0.000027\t[D1] x\n",
            ),
            (
                2,
                Duration::from_micros(606_627_297),
                0,
                "UPS type: y",
                " 606.627297\tUPS type: y\n",
            ),
        ];
        for (dl, el, ml, msg, want) in cases {
            assert_eq!(format_line(dl, el, ml, msg), want);
        }
    }

    #[test]
    fn nut_levels_from_targets() {
        assert_eq!(nut_level("genericups::D3", Level::Debug), 3);
        assert_eq!(nut_level("genericups::driver", Level::Info), 0);
        assert_eq!(nut_level("genericups::driver", Level::Warn), 0);
        assert_eq!(nut_level("other", Level::Debug), 1);
        assert_eq!(nut_level("other", Level::Trace), 9);
    }
}
