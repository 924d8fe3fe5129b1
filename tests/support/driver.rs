//! A child process under test (our driver, or NUT's upsd) that cannot outlive its test.
//!
//! [`Proc::spawn`] starts the command with stdin from `/dev/null` and stderr appended to a
//! file (stdout is whatever the caller set on the command). Dropping the guard stops a process
//! that still runs, by its PID: SIGTERM, then SIGKILL after a grace period. When the test is
//! failing, the drop also prints the captured stderr (unless [`Proc::quiet`] was asked for,
//! for callers that print their own logs).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{poll_until, wait_with_timeout};

/// How long a process dropped while still running gets between SIGTERM and SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(5);

/// A running child process, stopped by PID when dropped.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    stderr_log: PathBuf,
    term_grace: Duration,
    report: bool,
}

impl Proc {
    /// Spawns `cmd` (named `name` in messages) with stdin from `/dev/null` and stderr appended
    /// to `stderr_log` (created if needed); panics if it cannot be started.
    pub fn spawn(name: &str, cmd: &mut Command, stderr_log: &Path) -> Proc {
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(stderr_log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", stderr_log.display()));
        let child = cmd
            .stdin(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} {cmd:?}: {e}"));
        Proc {
            name: name.to_string(),
            child,
            stderr_log: stderr_log.to_path_buf(),
            term_grace: TERM_GRACE,
            report: true,
        }
    }

    /// Sets the time between SIGTERM and SIGKILL when the guard is dropped.
    pub fn term_grace(mut self, grace: Duration) -> Proc {
        self.term_grace = grace;
        self
    }

    /// Does not print stderr when dropped during a failing test (the caller prints it).
    pub fn quiet(mut self) -> Proc {
        self.report = false;
        self
    }

    /// The process ID, as `Child::id` gives it.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The process ID, for signals.
    pub fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits in i32"))
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// The exit status if the process has exited (it is then reaped, and never signalled).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        match self.child.try_wait() {
            Ok(status) => status,
            Err(e) => panic!("waiting for {}: {e}", self.name),
        }
    }

    /// Panics (showing stderr) if the process has exited; `when` says at what point.
    #[track_caller]
    pub fn assert_running(&mut self, when: &str) {
        if let Some(status) = self.exited() {
            panic!(
                "{} exited ({status}) {when}\n--- stderr:\n{}",
                self.name,
                self.stderr()
            );
        }
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_with_timeout(&mut self.child, timeout)
    }

    /// SIGTERM, then waits up to `timeout` for the exit. `None` if it did not come: the
    /// process has then been killed (SIGKILL) and reaped.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.exited() {
            return Some(status);
        }
        kill(self.pid(), Signal::SIGTERM)
            .unwrap_or_else(|e| panic!("SIGTERM to {}: {e}", self.name));
        let status = wait_with_timeout(&mut self.child, timeout);
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        status
    }

    /// Asks a running process to stop (SIGTERM): it must exit 0 within `timeout`.
    #[track_caller]
    pub fn stop(&mut self, timeout: Duration) {
        self.assert_running("before it was asked to stop");
        let status = self.terminate(timeout);
        assert!(
            status.is_some_and(|s| s.success()),
            "{} did not exit 0 within {timeout:?} of SIGTERM: {status:?}\n--- stderr:\n{}",
            self.name,
            self.stderr()
        );
    }

    /// Waits until `predicate(stderr)` holds, re-reading stderr every 20 ms; panics (showing
    /// stderr) after `timeout` or if the process exits first.
    #[track_caller]
    pub fn wait_stderr(&mut self, what: &str, timeout: Duration, predicate: impl Fn(&str) -> bool) {
        let seen = poll_until(timeout, Duration::from_millis(20), || {
            if predicate(&self.stderr()) {
                return Some(());
            }
            self.assert_running(&format!("while waiting for {what} on stderr"));
            None
        });
        if seen.is_none() {
            panic!(
                "no {what} on stderr within {timeout:?}\n--- stderr:\n{}",
                self.stderr()
            );
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(self.pid(), Signal::SIGTERM);
            if wait_with_timeout(&mut self.child, self.term_grace).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        if self.report && thread::panicking() {
            eprintln!(
                "--- {} stderr ({}):\n{}",
                self.name,
                self.stderr_log.display(),
                self.stderr()
            );
        }
    }
}
