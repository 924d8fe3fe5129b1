//! Shared support for the integration tests.
//!
//! Every `tests/*.rs` file that needs it says `mod support;`. Each test binary uses a different
//! subset of these helpers, hence the crate-wide `dead_code` allowance.
//!
//! * [`modemsim_lib`], [`ModemSim`], [`Pty`], [`LogEntry`]: the `LD_PRELOAD` interposer that
//!   simulates modem-control lines on a pseudo-terminal (see `tools/modemsim/README.md`).
//! * [`TempDir`]: a self-deleting temporary directory (e.g. for `NUT_STATEPATH`).
//! * [`nut_genericups`], [`python3`]: external programs, with the "skip locally, fail in CI"
//!   policy.
//! * [`run_with_timeout`], [`wait_with_timeout`], [`dump_vars`]: running drivers without
//!   hanging the test suite.
//! * [`Proc`]: a driver (or upsd) running in the background, stderr captured to a file, stopped
//!   by PID when dropped (see `driver.rs`).
//! * [`Client`], [`Next`], [`ping`]: a raw client of the driver socket (see `client.rs`).
//! * [`poll_until`]: the one bounded polling loop behind every wait for an observable state.
//! * [`text`], [`describe`]: a finished run's output for failure messages.
#![allow(dead_code)]

mod client;
mod driver;
mod modemsim;

#[allow(unused_imports)]
pub use client::{Client, Next, REPLY, ping, try_connect};
#[allow(unused_imports)]
pub use driver::{Proc, TERM_GRACE};
#[allow(unused_imports)]
pub use modemsim::{LogEntry, ModemSim, Pty, modemsim_lib};

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where Debian installs NUT's C `genericups` driver (the compatibility reference).
pub const NUT_GENERICUPS: &str = "/lib/nut/genericups";

/// True when running under CI (`CI=true`), where missing prerequisites must fail, not skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Handles a missing external prerequisite: panics under CI, otherwise prints a note to stderr
/// so the caller can return early (skip).
pub fn missing_prerequisite(what: &str) {
    if in_ci() {
        panic!("{what} is required when CI=true, but it is missing");
    }
    eprintln!("note: {what} is missing; skipping this test (it would fail under CI=true)");
}

/// Path of NUT's C driver, or `None` (after [`missing_prerequisite`]) when it is not installed.
pub fn nut_genericups() -> Option<PathBuf> {
    let path = PathBuf::from(NUT_GENERICUPS);
    if path.is_file() {
        Some(path)
    } else {
        missing_prerequisite(NUT_GENERICUPS);
        None
    }
}

/// The `python3` command, or `None` (after [`missing_prerequisite`]) when it does not run.
pub fn python3() -> Option<PathBuf> {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("import fcntl, termios, struct")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(PathBuf::from("python3"))
    } else {
        missing_prerequisite("python3");
        None
    }
}

/// A temporary directory under `std::env::temp_dir()`, removed on drop.
///
/// If the thread is panicking when it is dropped (a failing test), the directory is kept and its
/// path printed, so that logs can be inspected.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh, empty directory whose name starts with `prefix`.
    pub fn new(prefix: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir();
        loop {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("{prefix}-{}-{n}-{nanos:x}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return TempDir { path },
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create temporary directory {}: {e}", path.display()),
            }
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("note: keeping {} for inspection", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Calls `probe` until it returns `Some`, sleeping `every` between calls, for at most
/// `timeout`: `None` if the deadline passed first. `probe` runs at least once, and once more at
/// or after the deadline; it may panic itself (e.g. when the process it watches died).
pub fn poll_until<T>(
    timeout: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(every);
    }
}

/// Polls `child` every 10 ms until it exits or `timeout` passes; `None` on timeout (the child is
/// left running).
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    poll_until(timeout, Duration::from_millis(10), || {
        child
            .try_wait()
            .unwrap_or_else(|e| panic!("waiting for child {}: {e}", child.id()))
    })
}

/// Bytes (a program's output) as text, invalid UTF-8 replaced.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A finished run's exit status, stdout and stderr, for failure messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {}\n--- stdout:\n{}--- stderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Runs `cmd` with stdin from `/dev/null` and stdout/stderr captured, like `Command::output`,
/// but kills it and panics (showing what it printed) if it has not exited after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let status = wait_with_timeout(&mut child, timeout);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    match status {
        Some(status) => Output {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{cmd:?} did not exit within {timeout:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

/// Parses the `name: value` lines a driver prints in dump mode (`-d N`); other lines are ignored.
pub fn dump_vars(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(": ")?;
            let plausible = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
            plausible.then(|| (name.to_string(), value.to_string()))
        })
        .collect()
}
