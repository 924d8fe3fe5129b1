//! The driver socket, seen by a raw Unix-socket client: every command's exact reply, value
//! escaping, broadcasts (and NOBROADCAST), stale data, many clients, hostile clients, idle CPU
//! use, and what the driver does with whatever already sits at the socket path.
//!
//! Every test runs its own driver (`genericups -D -s <name> -x port=sim:<file> -x upstype=<n>
//! -i 1`) with `NUT_STATEPATH` pointing into a fresh temporary directory, so the tests can run
//! in parallel. The simulated port reads its input lines from a text file; the tests change the
//! UPS status by replacing that file (atomically, with a rename). Nothing here touches a real
//! serial device or the network.
//!
//! Synchronisation is always on something observable: the socket accepting a connection, a
//! reply line (a `PING` answered by `PONG` on the same connection proves that everything sent
//! before it was processed), a broadcast arriving, a log line, the process exiting. Every wait
//! is bounded; only the CPU test sleeps, because the sleep is the interval it measures.

mod support;

use genericups::server::{MAX_BACKLOG, MAX_CLIENTS};
use nix::sys::signal::{Signal, kill};
use std::fs;
use std::io;
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use support::{Client, Next, Proc, REPLY, TempDir, poll_until, run_with_timeout};

const BIN: &str = env!("CARGO_BIN_EXE_genericups");

/// Bound for the socket to accept a connection after the driver was started.
const STARTUP: Duration = Duration::from_secs(20);
/// Bound for a change of the lines file to come back as a broadcast (the driver polls every
/// second with `-i 1`; the rest is slack for a loaded machine).
const BROADCAST_WITHIN: Duration = Duration::from_secs(10);
/// Bound for the driver to exit after SIGTERM or `driver.exit`.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// The driver under test
// ---------------------------------------------------------------------------------------------

/// A running driver in its own temporary state directory. Dropping it kills the process (so a
/// failing test leaves nothing behind) and, when the test is failing, prints the driver's
/// stderr (both done by [`Proc`]). Derefs to that [`Proc`].
struct Driver {
    /// Dropped first: the process is stopped before the directory goes.
    proc: Proc,
    socket: PathBuf,
    lines: PathBuf,
    /// Kept (and, when the test fails, left for inspection) until the driver is gone.
    _dir: TempDir,
}

/// The command line every test uses, plus `extra` arguments (each one argv element).
fn driver_command(dir: &Path, name: &str, upstype: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("-D")
        .arg("-s")
        .arg(name)
        .arg("-x")
        .arg(format!("port=sim:{}", dir.join("lines").display()))
        .arg("-x")
        .arg(format!("upstype={upstype}"))
        .arg("-i")
        .arg("1")
        .args(extra)
        .env("NUT_STATEPATH", dir)
        .env("NUT_CONFPATH", dir)
        .env("NUT_ALTPIDPATH", dir)
        .env("NUT_QUIET_INIT_BANNER", "1")
        .env_remove("NUT_DEBUG_LEVEL");
    cmd
}

/// Replaces the lines file atomically, so the driver never reads a half-written one.
fn write_lines(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, format!("{text}\n")).expect("write the new lines file");
    fs::rename(&tmp, path).expect("rename the new lines file into place");
}

impl Driver {
    /// Starts a driver with the lines file saying `CTS DCD` and waits until it answers PING.
    fn start(name: &str, upstype: &str, extra: &[&str]) -> Driver {
        Driver::start_in(TempDir::new("genericups-socket"), name, upstype, extra)
    }

    /// Like [`Driver::start`], in a directory the caller may have prepared.
    fn start_in(dir: TempDir, name: &str, upstype: &str, extra: &[&str]) -> Driver {
        let lines = dir.path().join("lines");
        write_lines(&lines, "CTS DCD");
        let proc = Proc::spawn(
            "the driver",
            driver_command(dir.path(), name, upstype, extra).stdout(Stdio::null()),
            &dir.path().join("stderr.log"),
        );
        let mut driver = Driver {
            proc,
            socket: dir.path().join(format!("genericups-{name}")),
            lines,
            _dir: dir,
        };
        let mut probe = driver.connect();
        assert_eq!(probe.request("PING"), "PONG", "the driver's first PING");
        driver
    }

    /// Panics (showing stderr) unless the process is still running.
    #[track_caller]
    fn assert_alive(&mut self) {
        self.proc.assert_running("unexpectedly");
    }

    /// Connects, retrying while the socket is missing, refuses, or its backlog is full.
    #[track_caller]
    fn connect(&mut self) -> Client {
        Client::connect(&self.socket, STARTUP, &mut self.proc)
    }

    /// A connected client that has seen PONG (so the driver has accepted it and reads it).
    #[track_caller]
    fn client(&mut self) -> Client {
        let mut c = self.connect();
        assert_eq!(c.request("PING"), "PONG");
        c
    }

    fn set_lines(&self, text: &str) {
        write_lines(&self.lines, text);
    }

    /// SIGTERM: the driver must exit 0 and remove its socket.
    #[track_caller]
    fn stop(mut self) {
        self.proc.stop(EXIT_WITHIN);
        assert!(
            !self.socket.exists(),
            "the socket {} is still there after SIGTERM",
            self.socket.display()
        );
    }
}

impl Deref for Driver {
    type Target = Proc;
    fn deref(&self) -> &Proc {
        &self.proc
    }
}

impl DerefMut for Driver {
    fn deref_mut(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

/// The DUMPALL of a type-4 driver started by [`Driver::start`] with the given status.
fn expected_dump(driver: &Driver, status: &str) -> Vec<String> {
    vec![
        r#"SETINFO device.mfr "Generic""#.to_string(),
        r#"SETINFO device.model "Generic RUPS model""#.to_string(),
        r#"SETINFO device.type "ups""#.to_string(),
        r#"SETINFO driver.debug "1""#.to_string(),
        "SETFLAGS driver.debug RW NUMBER".to_string(),
        r#"SETINFO driver.flag.allow_killpower "0""#.to_string(),
        "SETFLAGS driver.flag.allow_killpower RW NUMBER".to_string(),
        r#"SETINFO driver.name "genericups""#.to_string(),
        r#"SETINFO driver.parameter.pollinterval "1""#.to_string(),
        format!(
            r#"SETINFO driver.parameter.port "sim:{}""#,
            driver.lines.display()
        ),
        r#"SETINFO driver.parameter.synchronous "auto""#.to_string(),
        r#"SETINFO driver.parameter.upstype "4""#.to_string(),
        r#"SETINFO driver.state "quiet""#.to_string(),
        r#"SETINFO driver.version "2.8.5""#.to_string(),
        format!(
            r#"SETINFO driver.version.internal "{}""#,
            env!("CARGO_PKG_VERSION")
        ),
        r#"SETINFO ups.mfr "Generic""#.to_string(),
        r#"SETINFO ups.model "Generic RUPS model""#.to_string(),
        format!(r#"SETINFO ups.status "{status}""#),
        "DATAOK".to_string(),
        "DUMPDONE".to_string(),
    ]
}

/// The next line on `c` must be the broadcast of `ups.status` = `status`, within
/// [`BROADCAST_WITHIN`].
#[track_caller]
fn expect_status_broadcast(c: &mut Client, status: &str) {
    assert_eq!(
        c.next(BROADCAST_WITHIN),
        Next::Line(format!(r#"SETINFO ups.status "{status}""#))
    );
}

/// The variable names of a dump's SETINFO lines must be in `strcasecmp` order.
fn assert_sorted_case_insensitively(dump: &[String]) {
    let names: Vec<String> = dump
        .iter()
        .filter_map(|l| l.strip_prefix("SETINFO "))
        .map(|rest| rest.split(' ').next().unwrap_or("").to_ascii_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "DUMPALL order");
}

/// xorshift64: reproducible garbage without a `rand` dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// Clock ticks per second for `/proc/<pid>/stat`; `getconf CLK_TCK`, else Linux's usual 100.
fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(100)
}

/// utime + stime of a process, in clock ticks (fields 14 and 15 of `/proc/<pid>/stat`).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    // The command name (field 2) is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')').expect("')' in stat") + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state), so field n is fields[n - 3].
    let utime: u64 = fields[14 - 3].parse().expect("utime");
    let stime: u64 = fields[15 - 3].parse().expect("stime");
    utime + stime
}

fn open_fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/<pid>/fd")
        .count()
}

/// The descriptors the driver holds besides its clients, measured while exactly one client,
/// `c`, is connected. Two round trips on `c` first: the driver forgets a client that hung up
/// at the top of its loop, so after the second PONG every earlier hang-up has been handled.
fn descriptors_without_clients(driver: &Driver, c: &mut Client) -> usize {
    c.expect_silence_until_pong();
    c.expect_silence_until_pong();
    open_fds(driver.id()) - 1
}

/// Waits (bounded) until the driver holds at most `max` descriptors.
#[track_caller]
fn wait_for_fds_at_most(driver: &Driver, max: usize, timeout: Duration) {
    let mut n = 0;
    let done = poll_until(timeout, Duration::from_millis(20), || {
        n = open_fds(driver.id());
        (n <= max).then_some(())
    });
    assert!(
        done.is_some(),
        "the driver still holds {n} descriptors (expected at most {max}) after {timeout:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. Every command, exact lines
// ---------------------------------------------------------------------------------------------

#[test]
fn transcript_of_every_command() {
    let mut driver = Driver::start("transcript", "4", &[]);
    let mut a = driver.client();

    let dump = a.dump("DUMPALL");
    assert_eq!(dump, expected_dump(&driver, "OL"));
    assert_sorted_case_insensitively(&dump);

    assert_eq!(a.request("PING"), "PONG");
    assert_eq!(a.request("ping"), "PONG", "commands are case-insensitive");
    assert_eq!(a.request("GETPID"), format!("PID {}", driver.id()));

    assert_eq!(
        a.dump("DUMPSTATUS"),
        strings(&[r#"SETINFO ups.status "OL""#, "DATAOK", "DUMPDONE"])
    );
    assert_eq!(
        a.dump("DUMPVALUE ups.mfr"),
        strings(&[r#"SETINFO ups.mfr "Generic""#, "DATAOK", "DUMPDONE"])
    );
    assert_eq!(
        a.dump("DUMPVALUE driver.debug"),
        strings(&[
            r#"SETINFO driver.debug "1""#,
            "SETFLAGS driver.debug RW NUMBER",
            "DATAOK",
            "DUMPDONE"
        ])
    );
    assert_eq!(
        a.dump("DUMPVALUE no.such"),
        strings(&["DATAOK", "DUMPDONE"])
    );

    // Unknown commands get no reply; the connection keeps working.
    a.send("HELLO");
    a.expect_silence_until_pong();
    a.send("INSTCMD");
    a.send("SET driver.debug");
    a.send("");
    a.expect_silence_until_pong();

    // Several commands in one write are answered in order; CRLF works; a line may arrive in
    // pieces.
    a.send_raw(b"PING\r\nGETPID\nDUMPSTATUS\n")
        .expect("send three commands");
    assert_eq!(a.line(), "PONG");
    assert_eq!(a.line(), format!("PID {}", driver.id()));
    assert_eq!(
        a.read_until("DUMPDONE", REPLY),
        strings(&[r#"SETINFO ups.status "OL""#, "DATAOK", "DUMPDONE"])
    );
    a.send_raw(b"PI").expect("send half a line");
    a.send_raw(b"NG\n").expect("send the rest");
    assert_eq!(a.line(), "PONG");

    assert_eq!(a.request("INSTCMD foo.bar TRACKING abc"), "TRACKING abc 1");
    assert_eq!(
        a.request("INSTCMD foo.bar someparam TRACKING abd"),
        "TRACKING abd 1"
    );
    // Without TRACKING there is no reply at all.
    a.send("INSTCMD foo.bar");
    a.expect_silence_until_pong();
    assert_eq!(
        a.request("INSTCMD driver.killpower TRACKING k1"),
        "TRACKING k1 2",
        "driver.flag.allow_killpower is 0"
    );

    // A SET that changes a value is broadcast to every client, the sender included, before
    // the TRACKING reply (as NUT does).
    let mut b = driver.client();
    a.send("SET driver.flag.allow_killpower 1 TRACKING s1");
    let got = vec![a.line(), a.line()];
    assert_eq!(
        got,
        strings(&[
            r#"SETINFO driver.flag.allow_killpower "1""#,
            "TRACKING s1 0"
        ])
    );
    assert_eq!(b.line(), r#"SETINFO driver.flag.allow_killpower "1""#);
    assert_eq!(
        a.dump("DUMPVALUE driver.flag.allow_killpower"),
        strings(&[
            r#"SETINFO driver.flag.allow_killpower "1""#,
            "SETFLAGS driver.flag.allow_killpower RW NUMBER",
            "DATAOK",
            "DUMPDONE"
        ])
    );
    // Setting the same value again is no change: TRACKING only, no broadcast.
    assert_eq!(
        a.request("SET driver.flag.allow_killpower yes TRACKING s1b"),
        "TRACKING s1b 0"
    );
    a.expect_silence_until_pong();
    b.expect_silence_until_pong();
    // Without TRACKING: no reply, but the broadcast.
    a.send("SET driver.flag.allow_killpower 0");
    assert_eq!(a.line(), r#"SETINFO driver.flag.allow_killpower "0""#);
    assert_eq!(b.line(), r#"SETINFO driver.flag.allow_killpower "0""#);

    assert_eq!(a.request("SET no.such 1 TRACKING s2"), "TRACKING s2 1");
    assert_eq!(
        a.request("SET driver.debug abc TRACKING s3"),
        "TRACKING s3 2"
    );
    a.expect_silence_until_pong();
    b.expect_silence_until_pong();

    // LOGOUT: a goodbye, then the driver closes the connection.
    let mut c = driver.client();
    assert_eq!(c.request("LOGOUT"), "OK Goodbye");
    c.expect_eof(REPLY);

    // driver.exit: the reply, then a clean exit that removes the socket.
    assert_eq!(
        a.request("INSTCMD driver.exit TRACKING e1"),
        "TRACKING e1 0"
    );
    a.expect_eof(EXIT_WITHIN);
    b.expect_eof(EXIT_WITHIN);
    let status = driver.wait_exit(EXIT_WITHIN).unwrap_or_else(|| {
        panic!(
            "the driver did not exit within {EXIT_WITHIN:?}; stderr:\n{}",
            driver.stderr()
        )
    });
    assert_eq!(status.code(), Some(0), "exit status after driver.exit");
    assert!(
        !driver.socket.exists(),
        "the socket is still there after driver.exit"
    );
}

#[test]
fn nobroadcast_and_broadcast_switch_broadcasts_per_connection() {
    let mut driver = Driver::start("bcast", "4", &[]);
    let mut quiet = driver.client();
    let mut setter = driver.client();
    let mut flag = 0;
    // Flips allow_killpower from `setter`; returns once `setter` saw the broadcast, i.e. once
    // the driver has queued it for every broadcast client.
    let mut flip = |setter: &mut Client| {
        flag = 1 - flag;
        setter.send(&format!("SET driver.flag.allow_killpower {flag}"));
        let line = format!(r#"SETINFO driver.flag.allow_killpower "{flag}""#);
        assert_eq!(setter.line(), line);
        line
    };

    // NOBROADCAST has no reply; the PONG proves it was processed.
    quiet.send("NOBROADCAST");
    quiet.expect_silence_until_pong();
    flip(&mut setter);
    quiet.expect_silence_until_pong();

    quiet.send("BROADCAST");
    quiet.expect_silence_until_pong();
    let line = flip(&mut setter);
    assert_eq!(quiet.line(), line);
    quiet.expect_silence_until_pong();

    quiet.send("BROADCAST 0");
    quiet.expect_silence_until_pong();
    flip(&mut setter);
    quiet.expect_silence_until_pong();

    quiet.send("BROADCAST 1");
    quiet.expect_silence_until_pong();
    let line = flip(&mut setter);
    assert_eq!(quiet.line(), line);

    quiet.send("nobroadcast");
    quiet.expect_silence_until_pong();
    flip(&mut setter);
    quiet.expect_silence_until_pong();

    // Replies still arrive while broadcasts are off.
    assert_eq!(quiet.request("GETPID"), format!("PID {}", driver.id()));
    driver.stop();
}

// ---------------------------------------------------------------------------------------------
// 2. Escaping
// ---------------------------------------------------------------------------------------------

#[test]
fn values_are_escaped_once() {
    let mut driver = Driver::start(
        "escape",
        "4",
        &[
            "-x",
            r#"mfr=My "quoted" \mfr#x"#,
            "-x",
            "override.ups.model=a#b",
        ],
    );
    let mut a = driver.client();
    let dump = a.dump("DUMPALL");
    let mfr = r#""My \"quoted\" \\mfr\#x""#;
    for want in [
        format!("SETINFO device.mfr {mfr}"),
        format!("SETINFO driver.parameter.mfr {mfr}"),
        format!("SETINFO ups.mfr {mfr}"),
        r#"SETINFO driver.parameter.override.ups.model "a\#b""#.to_string(),
    ] {
        assert!(dump.contains(&want), "{want:?} missing from {dump:#?}");
    }
    // The override pins ups.model: its SETINFO is followed by a bare SETFLAGS.
    let at = dump
        .iter()
        .position(|l| l == r#"SETINFO ups.model "a\#b""#)
        .unwrap_or_else(|| panic!("ups.model missing from {dump:#?}"));
    assert_eq!(dump[at + 1], "SETFLAGS ups.model");
    assert!(
        !dump
            .iter()
            .any(|l| l.contains(r#"\\\""#) || l.contains(r"\\\#")),
        "double escaping in {dump:#?}"
    );
    assert_sorted_case_insensitively(&dump);
    assert_eq!(dump.last().map(String::as_str), Some("DUMPDONE"));
    assert_eq!(
        a.dump("DUMPVALUE UPS.MFR"),
        vec![
            format!("SETINFO ups.mfr {mfr}"),
            "DATAOK".into(),
            "DUMPDONE".into()
        ]
    );

    // Quoted and escaped words in requests are unquoted by the tokenizer.
    let mut b = driver.client();
    a.send(r#"SET driver.debug "3" TRACKING t"#);
    let mut got = vec![a.line(), a.line()];
    got.sort();
    assert_eq!(
        got,
        strings(&[r#"SETINFO driver.debug "3""#, "TRACKING t 0"])
    );
    assert_eq!(b.line(), r#"SETINFO driver.debug "3""#);
    a.send(r#"SET "driver.debug" "\4" TRACKING t2"#);
    let mut got = vec![a.line(), a.line()];
    got.sort();
    assert_eq!(
        got,
        strings(&[r#"SETINFO driver.debug "4""#, "TRACKING t2 0"])
    );
    assert_eq!(b.line(), r#"SETINFO driver.debug "4""#);
    assert_eq!(
        a.request(r#"SET driver.debug "\"5" TRACKING t3"#),
        "TRACKING t3 2",
        "a quote before the number is not an integer"
    );

    // Status broadcasts are SETINFO lines with quoted (trivially escaped) values.
    driver.set_lines("CTS");
    expect_status_broadcast(&mut b, "LB OL");
    driver.stop();
}

// ---------------------------------------------------------------------------------------------
// 3. Status broadcasts and stale data
// ---------------------------------------------------------------------------------------------

#[test]
fn status_changes_and_staleness_are_broadcast() {
    let mut driver = Driver::start("status", "4", &[]);
    let mut a = driver.client();
    let mut b = driver.client();
    let mut quiet = driver.client();
    quiet.send("NOBROADCAST");
    quiet.expect_silence_until_pong();

    driver.set_lines("DCD");
    for c in [&mut a, &mut b] {
        expect_status_broadcast(c, "OB");
    }
    quiet.expect_silence_until_pong();
    assert_eq!(
        a.dump("DUMPSTATUS"),
        strings(&[r#"SETINFO ups.status "OB""#, "DATAOK", "DUMPDONE"])
    );

    // A failed read (the lines file is gone) makes the data stale.
    fs::remove_file(&driver.lines).expect("remove the lines file");
    for c in [&mut a, &mut b] {
        assert_eq!(c.next(BROADCAST_WITHIN), Next::Line("DATASTALE".into()));
    }
    quiet.expect_silence_until_pong();
    let stale = a.dump("DUMPALL");
    assert_eq!(stale.first().map(String::as_str), Some("DATASTALE"));
    assert!(!stale.contains(&"DATAOK".to_string()), "{stale:#?}");
    assert!(
        stale.contains(&r#"SETINFO ups.status "OB""#.to_string()),
        "the last status is kept while stale: {stale:#?}"
    );
    let mut fresh = expected_dump(&driver, "OB");
    fresh.retain(|l| l != "DATAOK");
    fresh.insert(0, "DATASTALE".into());
    assert_eq!(stale, fresh);
    assert_eq!(
        a.dump("DUMPSTATUS"),
        strings(&["DATASTALE", r#"SETINFO ups.status "OB""#, "DUMPDONE"])
    );
    assert_eq!(
        a.dump("DUMPVALUE no.such"),
        strings(&["DATASTALE", "DUMPDONE"])
    );

    // The file is back (the driver reopens the port): new status, then DATAOK.
    driver.set_lines("CTS DCD");
    for c in [&mut a, &mut b] {
        expect_status_broadcast(c, "OL");
        assert_eq!(c.line(), "DATAOK");
    }
    quiet.expect_silence_until_pong();
    assert_eq!(a.dump("DUMPALL"), expected_dump(&driver, "OL"));

    // No further broadcasts while nothing changes.
    a.expect_silence_until_pong();
    b.expect_silence_until_pong();
    driver.stop();
}

#[test]
fn upstype_23_status_words() {
    let mut driver = Driver::start("type23", "23", &[]);
    let mut a = driver.client();
    // RNG and DSR low: replace battery and bypass.
    assert_eq!(
        a.dump("DUMPSTATUS"),
        strings(&[r#"SETINFO ups.status "OL RB BYPASS""#, "DATAOK", "DUMPDONE"])
    );
    driver.set_lines("CTS DCD RNG DSR");
    expect_status_broadcast(&mut a, "OL");
    driver.stop();
}

// ---------------------------------------------------------------------------------------------
// 4. Many clients
// ---------------------------------------------------------------------------------------------

#[test]
fn two_hundred_concurrent_clients_each_get_a_full_dump() {
    let mut driver = Driver::start("many", "4", &[]);
    let mut first = driver.client();
    let expected = expected_dump(&driver, "OL");
    assert_eq!(first.dump("DUMPALL"), expected);
    let base = descriptors_without_clients(&driver, &mut first);

    let mut clients: Vec<Client> = (0..200).map(|_| driver.connect()).collect();
    for c in &mut clients {
        c.send("DUMPALL");
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let dump = c.read_until("DUMPDONE", REPLY);
        assert_eq!(dump, expected, "client {i}");
    }
    // Every one of them is still served.
    for c in &mut clients {
        c.expect_silence_until_pong();
    }
    driver.assert_alive();
    drop(clients);
    // All 200 connections are closed on the driver's side too.
    wait_for_fds_at_most(&driver, base + 1, REPLY);
    assert_eq!(first.request("PING"), "PONG");
    driver.stop();
}

// ---------------------------------------------------------------------------------------------
// 5. Idle CPU
// ---------------------------------------------------------------------------------------------

#[test]
fn vanished_clients_cost_no_cpu() {
    let mut driver = Driver::start("idle", "4", &[]);
    let pid = driver.id();
    // A client that stays connected (and idle) throughout.
    let mut keeper = driver.client();
    let base = descriptors_without_clients(&driver, &mut keeper);

    // One that talked and left, one that left without a word, and one that half-closed
    // (shut down its sending side) after its command.
    drop(driver.client());
    drop(driver.connect());
    let mut half = driver.connect();
    half.send("PING");
    half.shutdown(std::net::Shutdown::Write)
        .expect("shutdown(Write)");
    assert_eq!(half.line(), "PONG");
    // EOF closes the connection on the driver's side.
    half.expect_eof(REPLY);
    wait_for_fds_at_most(&driver, base + 1, REPLY);

    let hz = clock_ticks_per_second();
    let before = cpu_ticks(pid);
    // Not a synchronisation sleep: this is the idle interval whose CPU time is measured.
    thread::sleep(Duration::from_secs(5));
    let after = cpu_ticks(pid);
    let used_ms = (after - before) * 1000 / hz;
    assert!(
        used_ms < 50,
        "the idle driver used {used_ms} ms of CPU in 5 s ({} ticks at {hz} Hz)",
        after - before
    );

    driver.assert_alive();
    assert_eq!(keeper.dump("DUMPALL"), expected_dump(&driver, "OL"));
    let mut c = driver.client();
    assert_eq!(c.dump("DUMPALL"), expected_dump(&driver, "OL"));
    driver.stop();
}

/// Out of descriptors (EMFILE): the pending connection keeps the listener readable, so a
/// driver that simply retried would spin. It must pause accepting, stay idle, and accept
/// again once a client leaves.
#[test]
fn running_out_of_descriptors_does_not_spin() {
    let mut driver = Driver::start("emfile", "4", &["-i", "1"]);
    let pid = driver.id();
    let mut keeper = driver.client();
    let limit = descriptors_without_clients(&driver, &mut keeper) + 4;
    let status = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--nofile={limit}:{limit}"),
        ])
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success(), "prlimit failed");
    // Fill the table, then queue connections the driver cannot accept.
    let mut served: Vec<Client> = (0..3).map(|_| driver.client()).collect();
    let mut pending: Vec<Client> = (0..8).map(|_| driver.connect()).collect();
    for c in &mut pending {
        c.send("PING");
    }
    driver.wait_stderr("EMFILE reported", REPLY, |e| {
        e.contains("Too many open files")
    });

    let hz = clock_ticks_per_second();
    let before = cpu_ticks(pid);
    // Not a synchronisation sleep: the interval whose CPU time is measured.
    thread::sleep(Duration::from_secs(3));
    let used_ms = (cpu_ticks(pid) - before) * 1000 / hz;
    assert!(
        used_ms < 100,
        "the driver used {used_ms} ms of CPU in 3 s while out of descriptors"
    );
    let reports = driver.stderr().matches("Too many open files").count();
    assert!(
        reports <= 10,
        "{reports} EMFILE reports in about 3 s:\n{}",
        driver.stderr()
    );

    // Clients leave; the queued ones are accepted and answered. (While no descriptor was
    // free, the simulated port could not be read either, so broadcasts about stale data may
    // come first: that is the truth, not noise.)
    served.clear();
    let pong = |c: &mut Client| loop {
        let line = c.line();
        if line == "PONG" {
            break;
        }
        assert!(
            line.starts_with("DATA") || line.starts_with("SETINFO "),
            "unexpected line {line:?}"
        );
    };
    keeper.send("PING");
    pong(&mut keeper);
    for c in &mut pending[..3] {
        pong(c);
    }
    driver.assert_alive();
    driver.stop();
}

// ---------------------------------------------------------------------------------------------
// 6. Hostile clients
// ---------------------------------------------------------------------------------------------

/// Writes `bytes` from a thread; Ok also when the driver closed the connection (allowed).
fn write_in_background(mut client: Client, bytes: Vec<u8>) -> thread::JoinHandle<(Client, String)> {
    thread::spawn(move || {
        let outcome = match client.send_raw(&bytes) {
            Ok(()) => "written".to_string(),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                format!("closed by the driver: {e}")
            }
            Err(e) => panic!("writing {} bytes: {e}", bytes.len()),
        };
        (client, outcome)
    })
}

#[test]
fn garbage_and_overlong_lines_do_not_disturb_other_clients() {
    let mut driver = Driver::start("hostile", "4", &[]);
    let expected = expected_dump(&driver, "OL");
    let mut good = driver.client();
    assert_eq!(good.dump("DUMPALL"), expected);
    let base = descriptors_without_clients(&driver, &mut good);

    let mut overlong = b"A".repeat(100_000);
    overlong.push(b'\n');
    let long_writer = write_in_background(driver.client(), overlong);
    let garbage = XorShift(0x9E37_79B9_7F4A_7C15).bytes(1 << 20);
    let garbage_writer = write_in_background(driver.client(), garbage);

    // Served while the garbage is arriving…
    let mut rounds = 0;
    let consumed = poll_until(Duration::from_secs(60), Duration::ZERO, || {
        assert_eq!(good.request("PING"), "PONG");
        assert_eq!(good.dump("DUMPALL"), expected);
        rounds += 1;
        (long_writer.is_finished() && garbage_writer.is_finished()).then_some(())
    });
    assert!(
        consumed.is_some(),
        "the garbage was not consumed within 60 s"
    );
    let (mut long_client, long_outcome) = long_writer.join().expect("overlong writer");
    let (garbage_client, garbage_outcome) = garbage_writer.join().expect("garbage writer");
    eprintln!("{rounds} rounds; overlong line: {long_outcome}; garbage: {garbage_outcome}");

    // …and after it: once the garbage client hangs up, the driver has read everything it sent
    // when it closes that connection (the overlong line's sender may still be connected).
    drop(garbage_client);
    wait_for_fds_at_most(&driver, base + 2, Duration::from_secs(30));
    driver.assert_alive();
    assert_eq!(good.request("PING"), "PONG");
    assert_eq!(good.dump("DUMPALL"), expected);
    // The overlong line's sender is either still served or was disconnected.
    long_client
        .send_raw(b"PING\n")
        .or_else(|e| match e.kind() {
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => Ok(()),
            _ => Err(e),
        })
        .expect("PING after the overlong line");
    match long_client.next(REPLY) {
        Next::Line(l) => assert_eq!(l, "PONG"),
        Next::Eof => {}
        Next::Timeout => panic!("the overlong line's sender got neither PONG nor EOF"),
    }
    // A new client is served normally.
    let mut late = driver.client();
    assert_eq!(late.dump("DUMPALL"), expected);
    driver.stop();
}

#[test]
fn client_that_never_reads_is_dropped() {
    let mut driver = Driver::start("noreader", "4", &[]);
    let expected = expected_dump(&driver, "OL");
    let mut good = driver.client();
    let mut hog = driver.client();

    // 2000 dumps (about 1.5 MB) are far more than the kernel buffer plus the 256 KiB backlog.
    let dump_bytes: usize = expected.iter().map(|l| l.len() + 1).sum();
    assert!(
        2000 * dump_bytes > 4 * MAX_BACKLOG,
        "{dump_bytes} bytes per dump"
    );
    hog.send_raw("DUMPALL\n".repeat(2000).as_bytes())
        .expect("send 2000 DUMPALL");

    // The driver says so when it drops the client; other clients are served meanwhile.
    let dropped = poll_until(Duration::from_secs(30), Duration::ZERO, || {
        if driver.stderr().contains("does not read its replies") {
            return Some(());
        }
        assert_eq!(good.request("PING"), "PONG");
        assert_eq!(good.dump("DUMPALL"), expected);
        driver.assert_alive();
        None
    });
    assert!(
        dropped.is_some(),
        "the non-reading client was not dropped within 30 s"
    );

    // The hog finds what the kernel had buffered, then the end of the connection.
    let mut dumps = 0;
    let hog_deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match hog.next(hog_deadline.saturating_duration_since(Instant::now())) {
            Next::Line(l) if l == "DUMPDONE" => dumps += 1,
            Next::Line(_) => {}
            Next::Eof => break,
            Next::Timeout => panic!("the dropped client's connection is still open"),
        }
    }
    assert!(dumps < 2000, "the hog got all {dumps} dumps");

    driver.assert_alive();
    assert_eq!(good.request("PING"), "PONG");
    assert_eq!(good.dump("DUMPALL"), expected);
    driver.set_lines("DCD");
    expect_status_broadcast(&mut good, "OB");
    driver.stop();
}

#[test]
fn clients_that_hang_up_before_their_reply_are_forgotten() {
    let mut driver = Driver::start("hangup", "4", &[]);
    let expected = expected_dump(&driver, "OL");
    let mut good = driver.client();
    let base = descriptors_without_clients(&driver, &mut good);

    // Some ask for one dump and leave at once, some for many (the driver is still writing
    // when they are gone: EPIPE, not SIGPIPE), some leave in the middle of a line.
    for i in 0..60 {
        let mut c = driver.connect();
        let request = match i % 3 {
            0 => "DUMPALL\n".to_string(),
            1 => "DUMPALL\n".repeat(100),
            _ => "DUMPALL\nPING\nDUMPV".to_string(),
        };
        c.send_raw(request.as_bytes()).expect("send");
        drop(c);
        if i % 10 == 0 {
            assert_eq!(good.request("PING"), "PONG");
        }
    }
    wait_for_fds_at_most(&driver, base + 1, Duration::from_secs(30));
    driver.assert_alive();
    assert_eq!(good.dump("DUMPALL"), expected);
    driver.set_lines("DCD");
    expect_status_broadcast(&mut good, "OB");
    driver.stop();
}

#[test]
fn connections_beyond_the_limit_are_closed_at_once() {
    let mut driver = Driver::start("limit", "4", &[]);
    let mut clients = vec![driver.client()];
    let base = descriptors_without_clients(&driver, &mut clients[0]);
    // Each one answered, so each one is counted by the driver.
    clients.extend((1..MAX_CLIENTS).map(|_| driver.client()));
    let mut extra = driver.connect();
    extra.expect_eof(REPLY);
    assert!(
        driver.stderr().contains("Too many clients"),
        "no 'Too many clients' warning"
    );
    for c in clients.iter_mut().step_by(37) {
        c.expect_silence_until_pong();
    }
    // A slot that is given back can be used again.
    drop(clients.pop());
    wait_for_fds_at_most(&driver, base + MAX_CLIENTS - 1, REPLY);
    let mut late = driver.client();
    assert_eq!(late.request("GETPID"), format!("PID {}", driver.id()));
    drop(clients);
    drop(late);
    wait_for_fds_at_most(&driver, base, REPLY);
    driver.stop();
}

// ---------------------------------------------------------------------------------------------
// 7. What is already at the socket path
// ---------------------------------------------------------------------------------------------

#[test]
fn stale_socket_is_replaced() {
    let dir = TempDir::new("genericups-socket");
    let path = dir.path().join("genericups-stale");
    // A socket left behind by a dead process: the file exists, nobody listens.
    drop(UnixListener::bind(&path).expect("bind the stale socket"));
    assert!(
        fs::symlink_metadata(&path)
            .expect("stat")
            .file_type()
            .is_socket()
    );
    assert_eq!(
        UnixStream::connect(&path).map_err(|e| e.kind()).err(),
        Some(io::ErrorKind::ConnectionRefused)
    );

    let mut driver = Driver::start_in(dir, "stale", "4", &[]);
    let mut c = driver.client();
    assert_eq!(c.request("GETPID"), format!("PID {}", driver.id()));
    driver.stop();
}

#[test]
fn regular_file_at_the_socket_path_is_not_replaced() {
    let dir = TempDir::new("genericups-socket");
    write_lines(&dir.path().join("lines"), "CTS DCD");
    let path = dir.path().join("genericups-file");
    fs::write(&path, "precious\n").expect("write the regular file");

    let out = run_with_timeout(
        &mut driver_command(dir.path(), "file", "4", &[]),
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit status; stderr:\n{stderr}");
    assert!(
        stderr.contains("not a socket"),
        "stderr does not say 'not a socket':\n{stderr}"
    );
    assert_eq!(
        fs::read_to_string(&path).expect("the file is still there"),
        "precious\n"
    );
}

/// INT and QUIT end the driver as cleanly as TERM, in the foreground too (NUT 2.8.0 dies
/// there and leaves its socket behind), and the exit names the signal.
#[test]
fn int_and_quit_exit_cleanly() {
    for (signal, number) in [(Signal::SIGINT, 2), (Signal::SIGQUIT, 3)] {
        let mut driver = Driver::start(&format!("sig{number}"), "4", &[]);
        let socket = driver.socket.clone();
        driver.client();
        kill(driver.proc.pid(), signal).expect("send the signal");
        let status = driver.proc.wait_exit(EXIT_WITHIN);
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "{signal}: {}",
            driver.stderr()
        );
        assert!(!socket.exists(), "{signal}: the socket is still there");
        assert!(
            driver
                .stderr()
                .contains(&format!("Signal {number}: exiting")),
            "{signal}: {}",
            driver.stderr()
        );
    }
}
