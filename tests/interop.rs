//! Interoperability with NUT's real network server: our driver serves its socket to Debian's
//! `upsd` 2.8.0, and the results are read back with NUT's `upsc`, exactly as an admin (or
//! `upsmon`) would see them.
//!
//! Each test builds a private NUT installation in a temporary directory:
//!
//! * `ups.conf` with one section for our driver (`driver = genericups`, `port = sim:<dir>/lines`,
//!   `upstype = 4`, a quoted `desc`), read by both our driver (`-a`) and upsd;
//! * `upsd.conf` with `LISTEN 127.0.0.1 <free port>` (never the default 3493, so a system upsd
//!   is not disturbed) and `MAXAGE 15`;
//! * an empty `upsd.users` (upsd 2.8.0 needs the file to exist but not to contain anything to
//!   serve read-only clients like upsc); the config files are mode 0600, because upsd warns
//!   about world-readable ones.
//!
//! `NUT_CONFPATH`, `NUT_STATEPATH` and `NUT_ALTPIDPATH` point to that directory for both
//! programs. `NUT_ALTPIDPATH` matters for upsd: at start-up it looks for `upsd.pid` there to
//! refuse a second instance, so without it a system upsd running on this machine would make the
//! test's upsd exit.
//!
//! Users and permissions: most tests start both programs with `-u root`, so they share a user
//! and everything in the temporary directory is reachable (when the tests do not run as root,
//! `-u` is a no-op and the two processes again share a user). One test,
//! `stock_upsd_running_as_nut_reads_the_driver`, starts upsd as a stock installation does: as
//! root, letting it drop to user `nut` before it reads ups.conf and connects to drivers. This
//! version of our driver does not switch users yet, so, running as root, it gives its socket to
//! group `nut` (root:nut 0660), as NUT's group fix-up does; the directory and configuration are
//! made root:nut 0770/0640 as Debian ships them.
//!
//! Readiness is always observed, never slept for: the driver is ready when its socket answers
//! `PING` with `PONG`; upsd is ready, and each scripted step has taken effect, when `upsc`
//! shows the expected value (polled every 200 ms up to a generous deadline).
//!
//! The programs' stdout and stderr go to files in the temporary directory; when a test fails
//! they are printed, and the directory is kept.
//!
//! The tests skip with a note when `upsd` or `upsc` is missing, and fail under `CI=true`.

mod support;

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output};
use std::thread;
use std::time::Duration;

use support::{
    Proc, TempDir, describe, missing_prerequisite, ping, poll_until, run_with_timeout, text,
};

/// The section name in ups.conf.
const UPS: &str = "rups";
/// The description in ups.conf, as upsc shows it (ups.conf has it quoted, with escapes).
const DESC: &str = r#"test "quoted" ups"#;
/// How long anything may take to happen (a 2-core machine, busy with other test binaries).
const DEADLINE: Duration = Duration::from_secs(20);
/// How often an expected state is polled for.
const POLL: Duration = Duration::from_millis(200);
/// How long one `upsc` run may take.
const UPSC_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a process may take to exit after SIGTERM before it gets SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(10);
/// How long the driver's socket may take to answer one line of the readiness `PING`.
const PING_REPLY: Duration = Duration::from_secs(5);

/// The NUT programs the tests need.
struct Tools {
    upsd: PathBuf,
    upsc: PathBuf,
}

fn first_file(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Finds upsd and upsc, or returns `None` after [`missing_prerequisite`] (which panics under
/// `CI=true`). `/sbin/upsd` on Debian is a wrapper script that refuses to run unless
/// `/etc/nut/nut.conf` says `MODE=standalone|netserver`, so the real binary is used.
fn tools() -> Option<Tools> {
    let Some(upsd) = first_file(&["/lib/nut/upsd", "/usr/lib/nut/upsd"]) else {
        missing_prerequisite("NUT's upsd (/lib/nut/upsd, Debian package nut-server)");
        return None;
    };
    let Some(upsc) = first_file(&["/bin/upsc", "/usr/bin/upsc"]) else {
        missing_prerequisite("NUT's upsc (/bin/upsc, Debian package nut-client)");
        return None;
    };
    Some(Tools { upsd, upsc })
}

/// A free TCP port on the loopback interface (free when this returns; see [`Rig::start_upsd`]
/// for the retry should someone take it before upsd binds it).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// A private NUT installation: configuration, our driver and upsd, all in one temp directory.
struct Rig {
    tools: Tools,
    dir: TempDir,
    port: u16,
    driver: Option<Proc>,
    upsd: Option<Proc>,
    /// How many times the driver was started (for messages).
    driver_starts: u32,
    /// Start upsd as a stock installation does: as root, letting it drop to user `nut`.
    upsd_as_nut: bool,
}

impl Rig {
    /// Writes the configuration (with `initial` as the input lines), starts our driver and
    /// waits for its socket, then starts upsd and waits until upsc shows `initial_status`.
    fn start(tools: Tools, initial: &str, initial_status: &str) -> Rig {
        Rig::start_with(tools, initial, initial_status, false)
    }

    fn start_with(tools: Tools, initial: &str, initial_status: &str, upsd_as_nut: bool) -> Rig {
        let dir = TempDir::new("genericups-interop");
        let mut rig = Rig {
            tools,
            dir,
            port: 0,
            driver: None,
            upsd: None,
            driver_starts: 0,
            upsd_as_nut,
        };
        // upsd warns about a world-readable configuration directory.
        std::fs::set_permissions(rig.dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod the temporary directory");
        rig.set_lines(initial);
        let lines = rig.lines_path();
        rig.write_private(
            "ups.conf",
            &format!(
                "[{UPS}]\n\
                 \tdriver = genericups\n\
                 \tport = \"sim:{}\"\n\
                 \tupstype = 4\n\
                 \tpollinterval = 1\n\
                 \tdesc = \"test \\\"quoted\\\" ups\"\n",
                lines.display()
            ),
        );
        rig.write_private("upsd.users", "");
        if upsd_as_nut {
            rig.share_with_nut();
        }
        rig.start_driver();
        rig.start_upsd();
        rig.wait_status(initial_status);
        rig
    }

    /// Makes the directory and the configuration readable by group `nut` (as Debian installs
    /// them: root:nut 0640 in a root:nut 0770 directory), for a upsd that drops to `nut`.
    fn share_with_nut(&self) {
        let nut = nix::unistd::Group::from_name("nut")
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("group nut is missing (Debian's nut-server creates it)"));
        let dir = self.dir.path().to_path_buf();
        let mut paths = vec![dir.clone()];
        for name in ["ups.conf", "upsd.users", "upsd.conf", "lines"] {
            paths.push(dir.join(name));
        }
        for path in paths {
            if !path.exists() {
                continue;
            }
            nix::unistd::chown(&path, None, Some(nut.gid))
                .unwrap_or_else(|e| panic!("cannot chgrp {}: {e}", path.display()));
            let mode = if path == dir { 0o770 } else { 0o640 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn lines_path(&self) -> PathBuf {
        self.path("lines")
    }

    fn socket_path(&self) -> PathBuf {
        self.path(&format!("genericups-{UPS}"))
    }

    fn target(&self) -> String {
        format!("{UPS}@127.0.0.1:{}", self.port)
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Writes a file readable by its owner only.
    fn write_private(&self, name: &str, contents: &str) {
        let path = self.path(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
    }

    /// Replaces the simulated input lines atomically (write then rename), so that the driver
    /// never reads a missing or half-written file.
    fn set_lines(&self, lines: &str) {
        let tmp = self.path("lines.new");
        std::fs::write(&tmp, format!("{lines}\n"))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", tmp.display()));
        std::fs::rename(&tmp, self.lines_path())
            .unwrap_or_else(|e| panic!("cannot rename {}: {e}", tmp.display()));
    }

    /// A log file, appended to (the driver may be started more than once).
    fn log_file(&self, name: &str) -> File {
        let path = self.path(name);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
    }

    fn nut_env(&self, cmd: &mut Command) {
        for var in ["NUT_CONFPATH", "NUT_STATEPATH", "NUT_ALTPIDPATH"] {
            cmd.env(var, self.dir.path());
        }
        // Inherited settings that would change what the programs print or where they look.
        for var in [
            "NUT_DEBUG_LEVEL",
            "NUT_QUIET_INIT_BANNER",
            "NUT_IGNORE_CHECKPROCNAME",
        ] {
            cmd.env_remove(var);
        }
    }

    /// Starts `cmd` in the NUT environment, stdout and stderr appended to `<log>.stdout` and
    /// `<log>.stderr`; the logs are printed by `Drop` when the test fails.
    fn spawn(&self, name: &str, mut cmd: Command, log: &str) -> Proc {
        self.nut_env(&mut cmd);
        cmd.stdout(self.log_file(&format!("{log}.stdout")));
        Proc::spawn(name, &mut cmd, &self.path(&format!("{log}.stderr")))
            .term_grace(TERM_GRACE)
            .quiet()
    }

    /// Starts our driver from ups.conf (`-a`), in the foreground, and waits until its socket
    /// answers `PING`.
    fn start_driver(&mut self) {
        assert!(self.driver.is_none(), "driver already running");
        self.driver_starts += 1;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_genericups"));
        cmd.args(["-F", "-a", UPS, "-u", "root"]);
        self.driver = Some(self.spawn("our genericups driver", cmd, "driver"));
        let socket = self.socket_path();
        self.wait_until("the driver's socket to answer PING", |_| {
            ping(&socket, PING_REPLY).map_err(|e| format!("{}: {e}", socket.display()))
        });
    }

    /// Stops our driver (SIGTERM) and returns its exit status; panics if it does not exit
    /// within [`TERM_GRACE`] (it is then killed).
    fn stop_driver(&mut self) -> ExitStatus {
        let mut driver = self.driver.take().expect("driver running");
        driver.terminate(TERM_GRACE).unwrap_or_else(|| {
            panic!("our genericups driver did not exit within {TERM_GRACE:?} of SIGTERM")
        })
    }

    /// Starts upsd in the foreground on a free loopback port and waits until it accepts
    /// connections. If upsd exits because the port was taken in the meantime, tries another.
    fn start_upsd(&mut self) {
        assert!(self.upsd.is_none(), "upsd already running");
        for attempt in 1..=3 {
            self.port = free_port();
            self.write_private(
                "upsd.conf",
                &format!("LISTEN 127.0.0.1 {}\nMAXAGE 15\n", self.port),
            );
            if self.upsd_as_nut {
                self.share_with_nut();
            }
            // -F: foreground without debug output (and no PID file); -u root: see the module
            // documentation.
            let mut cmd = Command::new(&self.tools.upsd);
            cmd.arg("-F");
            if !self.upsd_as_nut {
                cmd.args(["-u", "root"]);
            }
            let mut upsd = self.spawn("upsd", cmd, "upsd");
            let mut last = None;
            let ready = poll_until(DEADLINE, POLL, || {
                if let Some(status) = upsd.exited() {
                    return Some(Err(status));
                }
                let out = self.upsc(&["-l", &self.host()]);
                if out.status.success() {
                    return Some(Ok(()));
                }
                last = Some(out);
                None
            });
            match ready {
                Some(Ok(())) => {
                    self.upsd = Some(upsd);
                    return;
                }
                Some(Err(status)) => {
                    let log = std::fs::read_to_string(self.path("upsd.stderr")).unwrap_or_default();
                    if attempt < 3 && log.contains("not listening") {
                        eprintln!(
                            "note: upsd could not listen on port {}; retrying",
                            self.port
                        );
                        continue;
                    }
                    self.fail(&format!("upsd exited during start-up ({status})"));
                }
                None => {
                    drop(upsd);
                    self.fail(&format!(
                        "upsd did not accept connections on {} within {DEADLINE:?}; last upsc -l:\n{}",
                        self.host(),
                        last.as_ref().map(describe).unwrap_or_default()
                    ));
                }
            }
        }
    }

    /// Runs upsc with `args`.
    fn upsc(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.tools.upsc);
        cmd.args(args);
        run_with_timeout(&mut cmd, UPSC_TIMEOUT)
    }

    /// `upsc <ups>@127.0.0.1:<port> ups.status`: the status, or upsc's error message (its
    /// stderr minus the SSL banner).
    fn status(&self) -> Result<String, String> {
        let out = self.upsc(&[&self.target(), "ups.status"]);
        if out.status.success() {
            Ok(text(&out.stdout).trim().to_string())
        } else {
            Err(upsc_error(&out))
        }
    }

    /// Checks that the processes that should run still do.
    fn check_alive(&mut self) {
        if let Some(p) = self.driver.as_mut()
            && let Some(status) = p.exited()
        {
            self.driver = None;
            self.fail(&format!("our driver exited unexpectedly ({status})"));
        }
        if let Some(p) = self.upsd.as_mut()
            && let Some(status) = p.exited()
        {
            self.upsd = None;
            self.fail(&format!("upsd exited unexpectedly ({status})"));
        }
    }

    /// Polls `probe` every [`POLL`] until it returns `Ok`, for at most [`DEADLINE`]; `Err`
    /// carries the latest observation for the failure message.
    fn wait_until<T>(&mut self, what: &str, mut probe: impl FnMut(&Rig) -> Result<T, String>) -> T {
        let mut last = String::new();
        let found = poll_until(DEADLINE, POLL, || {
            self.check_alive();
            probe(self).map_err(|seen| last = seen).ok()
        });
        found.unwrap_or_else(|| {
            self.fail(&format!(
                "timed out after {DEADLINE:?} waiting for {what}; last seen: {last}"
            ))
        })
    }

    /// Waits until upsc shows `expected` as `ups.status`.
    fn wait_status(&mut self, expected: &str) {
        self.wait_until(
            &format!("upsc to show ups.status {expected:?}"),
            |rig| match rig.status() {
                Ok(s) if s == expected => Ok(()),
                Ok(s) => Err(format!("ups.status {s:?}")),
                Err(e) => Err(format!("upsc error {e:?}")),
            },
        );
    }

    /// Waits until upsc fails with one of `errors` (its exact message); returns which.
    fn wait_error(&mut self, errors: &[&str]) -> String {
        self.wait_until(
            &format!("upsc to fail with one of {errors:?}"),
            |rig| match rig.status() {
                Err(e) if errors.contains(&e.as_str()) => Ok(e),
                Err(e) => Err(format!("upsc error {e:?}")),
                Ok(s) => Err(format!("ups.status {s:?}")),
            },
        )
    }

    /// Waits until upsd's stderr contains `line` at least `count` times.
    fn wait_upsd_log(&mut self, line: &str, count: usize) {
        let path = self.path("upsd.stderr");
        self.wait_until(&format!("upsd to log {line:?} {count} time(s)"), |_| {
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            let seen = log.lines().filter(|l| *l == line).count();
            if seen >= count {
                Ok(())
            } else {
                Err(format!("{seen} time(s)"))
            }
        });
    }

    /// Everything the programs logged, for failure messages.
    fn logs(&self) -> String {
        let mut all = String::new();
        for name in [
            "driver.stdout",
            "driver.stderr",
            "upsd.stdout",
            "upsd.stderr",
        ] {
            let body = std::fs::read_to_string(self.path(name))
                .unwrap_or_else(|e| format!("(cannot read: {e})\n"));
            all.push_str(&format!("--- {name}:\n{body}"));
            if !all.ends_with('\n') {
                all.push('\n');
            }
        }
        all
    }

    /// Panics with `msg`; the logs are printed by `Drop`.
    fn fail(&self, msg: &str) -> ! {
        panic!("{msg}");
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        // Stop the programs before the directory goes away: upsd first, then the driver.
        drop(self.upsd.take());
        drop(self.driver.take());
        if thread::panicking() {
            eprintln!(
                "=== logs of the failed test (driver started {} time(s), upsd on {}):\n{}",
                self.driver_starts,
                self.host(),
                self.logs()
            );
        }
    }
}

/// upsc's error message: its stderr without the `Init SSL ...` note every run prints.
fn upsc_error(out: &Output) -> String {
    text(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("Init SSL"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// `name: value` lines of a full `upsc <ups>` listing.
fn vars(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn upsd_serves_the_scripted_line_sequence() {
    let Some(tools) = tools() else {
        return;
    };
    let mut rig = Rig::start(tools, "CTS DCD", "OL");

    // upsd knows the UPS, with the description it parsed from ups.conf.
    let out = rig.upsc(&["-l", &rig.host()]);
    assert!(out.status.success(), "upsc -l: {}", describe(&out));
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        [UPS],
        "upsc -l"
    );
    let out = rig.upsc(&["-L", &rig.host()]);
    assert!(out.status.success(), "upsc -L: {}", describe(&out));
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        [format!("{UPS}: {DESC}")],
        "upsc -L"
    );

    // The full listing: what the driver put in its DUMPALL, relayed by upsd.
    let out = rig.upsc(&[&rig.target()]);
    assert!(
        out.status.success(),
        "upsc {}: {}",
        rig.target(),
        describe(&out)
    );
    let listing = vars(&text(&out.stdout));
    for (name, value) in [
        ("device.type", "ups"),
        ("driver.name", "genericups"),
        ("ups.mfr", "Generic"),
        ("ups.model", "Generic RUPS model"),
        ("ups.status", "OL"),
        ("driver.parameter.upstype", "4"),
        ("driver.parameter.pollinterval", "1"),
    ] {
        assert!(
            listing.iter().any(|(n, v)| n == name && v == value),
            "upsc {} should list {name}: {value}; it printed:\n{}",
            rig.target(),
            text(&out.stdout)
        );
    }
    let port = format!("sim:{}", rig.lines_path().display());
    assert!(
        listing
            .iter()
            .any(|(n, v)| n == "driver.parameter.port" && *v == port),
        "upsc should list driver.parameter.port: {port}; it printed:\n{}",
        text(&out.stdout)
    );
    // Names are unique and sorted, as upsd keeps them.
    let names: Vec<&str> = listing.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "upsc listing order");

    // Type 4: CTS = on line, DCD = battery not low. Each change travels as a SETINFO
    // broadcast from the driver to upsd.
    for (lines, status) in [
        ("DCD", "OB"),
        ("", "LB OB"),
        ("CTS", "LB OL"),
        ("CTS DCD", "OL"),
    ] {
        rig.set_lines(lines);
        rig.wait_status(status);
    }
    // A single variable, as upsmon reads it.
    let out = rig.upsc(&[&rig.target(), "ups.model"]);
    assert!(out.status.success(), "upsc ups.model: {}", describe(&out));
    assert_eq!(text(&out.stdout), "Generic RUPS model\n");
}

#[test]
fn upsd_reports_stale_data_while_the_port_cannot_be_read() {
    let Some(tools) = tools() else {
        return;
    };
    let mut rig = Rig::start(tools, "CTS DCD", "OL");

    // The next read fails: the driver sends DATASTALE and upsd refuses to serve the data.
    std::fs::remove_file(rig.lines_path()).expect("remove the lines file");
    rig.wait_error(&["Error: Data stale"]);
    rig.wait_upsd_log(&format!("Data for UPS [{UPS}] is stale - check driver"), 1);
    // Every variable is refused, not only the status.
    let out = rig.upsc(&[&rig.target(), "ups.model"]);
    assert_eq!(
        (out.status.success(), upsc_error(&out).as_str()),
        (false, "Error: Data stale"),
        "upsc ups.model while stale: {}",
        describe(&out)
    );

    // The port comes back with different lines: DATAOK, and the fresh status.
    rig.set_lines("DCD");
    rig.wait_status("OB");
    rig.wait_upsd_log(&format!("UPS [{UPS}] data is no longer stale"), 1);
    rig.set_lines("CTS DCD");
    rig.wait_status("OL");
}

#[test]
fn upsd_reconnects_to_a_restarted_driver() {
    let Some(tools) = tools() else {
        return;
    };
    let mut rig = Rig::start(tools, "CTS DCD", "OL");

    let status = rig.stop_driver();
    assert_eq!(
        status.code(),
        Some(0),
        "our driver's exit status after SIGTERM"
    );
    assert!(
        !rig.socket_path().exists(),
        "the driver should remove its socket {} on exit",
        rig.socket_path().display()
    );
    // upsd notices the closed connection (or, failing that, the silence after MAXAGE).
    let seen = rig.wait_error(&["Error: Driver not connected", "Error: Data stale"]);
    eprintln!("note: with the driver stopped, upsc said {seen:?}");

    // Different lines while it is down, so the status after the restart must be fresh data.
    rig.set_lines("DCD");
    rig.start_driver();
    // upsd reconnects by itself (no reload, no restart of upsd).
    rig.wait_status("OB");
    rig.wait_upsd_log(&format!("Connected to UPS [{UPS}]: genericups-{UPS}"), 2);
    rig.set_lines("CTS DCD");
    rig.wait_status("OL");
    let status = rig.stop_driver();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after the second SIGTERM"
    );
}

/// A stock upsd started as root drops to user `nut` before it connects to drivers; our driver
/// (running as root in this version) must leave its socket reachable for it: root:nut 0660.
#[test]
fn stock_upsd_running_as_nut_reads_the_driver() {
    let Some(tools) = tools() else { return };
    if !nix::unistd::geteuid().is_root() {
        support::missing_prerequisite("root (to let upsd drop to user nut)");
        return;
    }
    let mut rig = Rig::start_with(tools, "CTS DCD", "OL", true);
    let meta = std::fs::metadata(rig.socket_path()).expect("socket exists");
    assert_eq!(meta.permissions().mode() & 0o777, 0o660, "socket mode");
    let nut = nix::unistd::Group::from_name("nut")
        .ok()
        .flatten()
        .expect("group nut");
    assert_eq!(meta.gid(), nut.gid.as_raw(), "socket group");
    rig.set_lines("DCD");
    rig.wait_status("OB");
    rig.set_lines("CTS DCD");
    rig.wait_status("OL");
}
