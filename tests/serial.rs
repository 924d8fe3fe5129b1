//! The driver on a (simulated) serial port: status decoding for every combination of input
//! lines (against NUT's C driver where it is installed), cable power for every upstype, the
//! live socket while lines change, read failures, a port that vanishes and comes back, a pty
//! without the interposer, port locking and a missing port.
//!
//! Everything runs on pseudo-terminals, with the `modemsim` LD_PRELOAD interposer answering
//! the modem-control ioctls. Never a real serial device.
//!
//! The expectations (which line means what for each type, which lines are cable power) are
//! written out here from NUT's `genericups.h` as transcribed in the spec (§7.2, §7.6), not
//! taken from `src/upstype.rs`, so that a mistake in the table shows up as a failure.

mod support;

use std::fs::File;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

use support::{
    Client, LogEntry, ModemSim, Proc, Pty, TempDir, describe, dump_vars, nut_genericups,
    poll_until, run_with_timeout, text,
};

/// Our driver.
const DRIVER: &str = env!("CARGO_BIN_EXE_genericups");
/// Bound for one dump-mode run or one start-up failure.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound for waiting on a socket line or a log line from a live driver polling every second.
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Expectations, written out independently of src/upstype.rs.

const DTR: u32 = 0x002;
const RTS: u32 = 0x004;
const CTS: u32 = 0x020;
const DCD: u32 = 0x040;
const RNG: u32 = 0x080;
const DSR: u32 = 0x100;

/// Cable power (the output lines raised at start-up) of types 0..=23, from genericups.h.
const CABLE_POWER: [u32; 24] = [
    DTR | RTS, // 0 UPSONIC LAN Saver 600
    DTR,       // 1 APC Back-UPS 940-0095A/C
    RTS,       // 2 APC Back-UPS 940-0020B/C
    DTR,       // 3 PowerTech Comp1000
    RTS,       // 4 Generic RUPS
    DTR,       // 5 TrippLite Lan2.2
    DTR,       // 6 Best Patriot
    RTS,       // 7 CyberPower Power99
    DTR,       // 8 Nitram Elite 500
    0,         // 9 APC Back-UPS 940-0023A
    RTS,       // 10 Victron Lite
    DTR,       // 11 Powerware 3115
    RTS,       // 12 APC Back-UPS Office
    DTR | RTS, // 13 Repoteck
    DTR,       // 14 Online P-series
    DTR,       // 15 Powerware 5119
    DTR | RTS, // 16 Nitram Elite 2002
    DTR,       // 17 PowerKinetics 9001
    DTR,       // 18 TrippLite Omni 450LAN
    DTR,       // 19 Fideltronik Ares
    DTR,       // 20 Powerware 5119 RM
    RTS,       // 21 Generic RUPS 2000
    RTS,       // 22 Gamatronic
    RTS,       // 23 FTTx
];

/// The input lines one reading holds.
#[derive(Clone, Copy, Debug)]
struct Inputs {
    cts: bool,
    dcd: bool,
    rng: bool,
    dsr: bool,
}

impl Inputs {
    /// All 16 combinations.
    fn all() -> impl Iterator<Item = Inputs> {
        (0..16u32).map(|n| Inputs {
            cts: n & 1 != 0,
            dcd: n & 2 != 0,
            rng: n & 4 != 0,
            dsr: n & 8 != 0,
        })
    }

    /// The `lines` file content, e.g. `CTS RNG` (empty for none).
    fn words(self) -> String {
        let mut w = Vec::new();
        for (on, name) in [
            (self.cts, "CTS"),
            (self.dcd, "DCD"),
            (self.rng, "RNG"),
            (self.dsr, "DSR"),
        ] {
            if on {
                w.push(name);
            }
        }
        w.join(" ")
    }
}

/// `ups.status` for `upstype` with `l` read, by the rules of genericups.h: tokens in the order
/// LB, OL|OB, RB, BYPASS.
fn expected_status(upstype: u32, l: Inputs) -> String {
    // (on line, low battery, replace battery, bypass)
    let (ol, lb, rb, bypass) = match upstype {
        // Generic RUPS: OL = CTS high, LB = DCD low.
        4 => (l.cts, !l.dcd, false, false),
        // APC 940-0095A/C: OL = RNG low, LB = DCD high.
        1 => (!l.rng, l.dcd, false, false),
        // APC 940-0023A: OL = DCD low, LB = CTS high.
        9 => (!l.dcd, l.cts, false, false),
        // Repoteck: OL = DCD high, LB = CTS low.
        13 => (l.dcd, !l.cts, false, false),
        // FTTx: OL = CTS high, LB = DCD low, RB = RNG low, BYPASS = DSR low.
        23 => (l.cts, !l.dcd, !l.rng, !l.dsr),
        other => panic!("no status rules written for type {other}"),
    };
    let mut tokens = Vec::new();
    if lb {
        tokens.push("LB");
    }
    tokens.push(if ol { "OL" } else { "OB" });
    if rb {
        tokens.push("RB");
    }
    if bypass {
        tokens.push("BYPASS");
    }
    tokens.join(" ")
}

/// A modem word as the interposer logs it: `0x064 RTS CTS DCD`, `0x000 none`.
fn word(bits: u32) -> String {
    let names: Vec<&str> = [
        (DTR, "DTR"),
        (RTS, "RTS"),
        (CTS, "CTS"),
        (DCD, "DCD"),
        (RNG, "RNG"),
        (DSR, "DSR"),
    ]
    .iter()
    .filter(|(b, _)| bits & b != 0)
    .map(|(_, n)| *n)
    .collect();
    let names = if names.is_empty() {
        "none".to_string()
    } else {
        names.join(" ")
    };
    format!("0x{bits:03x} {names}")
}

// ---------------------------------------------------------------------------------------------
// Running drivers.

/// A driver command (ours or the C one) with the common arguments and a private state path.
fn command(exe: &Path, state: &Path, name: &str, port: &Path, upstype: u32) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(["-s", name, "-x"])
        .arg(format!("port={}", port.display()))
        .arg("-x")
        .arg(format!("upstype={upstype}"))
        .env("NUT_STATEPATH", state)
        .env("NUT_CONFPATH", state)
        .env_remove("NUT_DEBUG_LEVEL")
        .env_remove("LD_PRELOAD")
        .env_remove("MODEMSIM_DIR")
        .env_remove("MODEMSIM_PORT");
    if exe != Path::new(DRIVER) {
        // NUT's C driver would drop to user nut otherwise.
        cmd.args(["-u", "root"]);
    }
    cmd
}

/// A dump-mode command (`-d <debug>`, UPS name `t`) of `exe` on `port`.
fn dump_command(exe: &Path, state: &Path, port: &Path, upstype: u32, debug: u32) -> Command {
    let mut cmd = command(exe, state, "t", port, upstype);
    cmd.args(["-d", &debug.to_string()]);
    cmd
}

/// Runs `cmd` to its end (bounded by [`RUN_TIMEOUT`]).
fn run(cmd: &mut Command) -> Output {
    run_with_timeout(cmd, RUN_TIMEOUT)
}

/// One dump-mode run (`-d 1`) under the interposer with `extra` arguments.
fn dump_run(exe: &Path, sim: &ModemSim, pty: &Pty, upstype: u32, extra: &[&str]) -> Output {
    let state = TempDir::new("serial-dump");
    run(
        dump_command(exe, state.path(), pty.slave_path(), upstype, 1)
            .args(extra)
            .envs(sim.envs_for(pty)),
    )
}

/// [`dump_run`] under a fresh simulation whose input lines are `lines`.
fn sim_dump(
    exe: &Path,
    pty: &Pty,
    upstype: u32,
    lines: &str,
    extra: &[&str],
) -> (Output, ModemSim) {
    let sim = ModemSim::new();
    sim.set_lines(lines);
    let out = dump_run(exe, &sim, pty, upstype, extra);
    (out, sim)
}

/// Our driver, then NUT's C driver if it is installed (`c`), each with a name for messages.
fn ours_and_c(c: &Option<PathBuf>) -> Vec<(PathBuf, &'static str)> {
    let mut runs = vec![(PathBuf::from(DRIVER), "ours")];
    if let Some(c) = c {
        runs.push((c.clone(), "C"));
    }
    runs
}

/// Our driver running in the foreground, stdout and stderr going to files in the state
/// directory; a [`Proc`] (derefs to it), so dropping it stops the driver and a failing test
/// leaks no process.
struct Running {
    proc: Proc,
    socket: PathBuf,
}

impl Running {
    /// Starts our driver: `-DDDDD -s <name> -x port=<port> -x upstype=<n> -i 1 <extra>`.
    fn start(
        state: &Path,
        name: &str,
        port: &Path,
        upstype: u32,
        extra: &[&str],
        envs: Vec<(String, String)>,
    ) -> Running {
        let stdout = state.join(format!("{name}.stdout"));
        let mut cmd = command(Path::new(DRIVER), state, name, port, upstype);
        cmd.args(["-DDDDD", "-i", "1"])
            .args(extra)
            .envs(envs)
            .stdout(File::create(&stdout).expect("create stdout file"));
        Running {
            proc: Proc::spawn("driver", &mut cmd, &state.join(format!("{name}.stderr"))),
            socket: state.join(format!("genericups-{name}")),
        }
    }

    /// Starts our driver on `pty`, simulated by `sim` (and only that pty).
    fn start_on(
        state: &TempDir,
        name: &str,
        pty: &Pty,
        sim: &ModemSim,
        upstype: u32,
        extra: &[&str],
    ) -> Running {
        let envs = sim.envs_for(pty);
        Running::start(state.path(), name, pty.slave_path(), upstype, extra, envs)
    }

    /// Connects to the driver's socket, retrying until it accepts (bounded by [`WAIT`]); the
    /// client waits up to [`WAIT`] for lines.
    fn connect(&mut self) -> Client {
        Client::connect(&self.socket, WAIT, &mut self.proc).reply_timeout(WAIT)
    }
}

impl Deref for Running {
    type Target = Proc;
    fn deref(&self) -> &Proc {
        &self.proc
    }
}

impl DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

/// The common start of a live test: a state directory, a pty simulated with `lines` as its
/// input lines, our driver on it (type `upstype`, named `name`), and a client connected to it.
/// Bind the parts in this order, so that they drop client first, state directory last.
fn live(
    dir: &str,
    name: &str,
    upstype: u32,
    lines: &str,
    extra: &[&str],
) -> (TempDir, Pty, ModemSim, Running, Client) {
    let state = TempDir::new(dir);
    let pty = Pty::new();
    let sim = ModemSim::new();
    sim.set_lines(lines);
    let mut driver = Running::start_on(&state, name, &pty, &sim, upstype, extra);
    let client = driver.connect();
    (state, pty, sim, driver, client)
}

fn status_line(status: &str) -> String {
    format!("SETINFO ups.status \"{status}\"")
}

/// Index of the first log entry at or after `from` for which `pred` holds.
fn find_entry(
    entries: &[LogEntry],
    from: usize,
    pred: impl Fn(&LogEntry) -> bool,
) -> Option<usize> {
    entries
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, e)| pred(e))
        .map(|(i, _)| i)
}

// ---------------------------------------------------------------------------------------------
// 1. Status follows the lines.

#[test]
fn status_follows_every_line_combination() {
    let c_driver = nut_genericups();
    let ours = Path::new(DRIVER);
    for upstype in [4, 1, 9, 13, 23] {
        let pty = Pty::new();
        for inputs in Inputs::all() {
            let lines = inputs.words();
            let want = expected_status(upstype, inputs);
            let (out, sim) = sim_dump(ours, &pty, upstype, &lines, &[]);
            let why = format!(
                "type {upstype}, lines {lines:?}\n{}\n--- log:\n{}",
                describe(&out),
                sim.log()
            );
            assert!(out.status.success(), "{why}");
            let vars = dump_vars(&text(&out.stdout));
            assert_eq!(
                vars.get("ups.status").map(String::as_str),
                Some(want.as_str()),
                "{why}"
            );
            // The reading really came from the simulated lines.
            let gets = sim.calls("TIOCMGET");
            let read = [
                (inputs.cts, CTS),
                (inputs.dcd, DCD),
                (inputs.rng, RNG),
                (inputs.dsr, DSR),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .fold(CABLE_POWER[upstype as usize], |w, (_, b)| w | b);
            // The first read is the cable-power check, made before DTR/RTS were set.
            assert!(gets.len() > 1, "{why}");
            assert!(gets.iter().skip(1).all(|g| *g == word(read)), "{why}");

            if let Some(c) = &c_driver {
                let (c_out, _c_sim) = sim_dump(c, &pty, upstype, &lines, &[]);
                let c_why = format!("C driver, {why}\n--- C:\n{}", describe(&c_out));
                assert!(c_out.status.success(), "{c_why}");
                let c_vars = dump_vars(&text(&c_out.stdout));
                assert_eq!(c_vars.get("ups.status"), vars.get("ups.status"), "{c_why}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Live: the socket follows the lines.

#[test]
fn live_status_broadcasts_follow_the_lines() {
    let (_state, _pty, sim, mut driver, mut client) =
        live("serial-live", "live", 4, "CTS DCD", &[]);
    let dump = client.dumpall(&driver);
    assert!(dump.contains(&status_line("OL")), "{dump:#?}");
    assert!(!dump.contains(&"DATASTALE".to_string()), "{dump:#?}");

    for (lines, status, debug) in [
        (
            "DCD",
            "OB",
            "lines: CTS=0 DCD=1 RNG=0 DSR=0 -> ups.status: OB",
        ),
        (
            "",
            "LB OB",
            "lines: CTS=0 DCD=0 RNG=0 DSR=0 -> ups.status: LB OB",
        ),
        (
            "CTS DCD",
            "OL",
            "lines: CTS=1 DCD=1 RNG=0 DSR=0 -> ups.status: OL",
        ),
    ] {
        sim.set_lines(lines);
        let got = client.wait_line(&status_line(status), &driver);
        // Nothing else changes: only the status is broadcast, and the data stay good.
        assert!(
            got.iter().all(|l| l.starts_with("SETINFO ups.status ")),
            "lines {lines:?}: {got:#?}"
        );
        driver.wait_stderr(debug, WAIT, |e| e.contains(debug));
    }
    let dump = client.dumpall(&driver);
    assert!(dump.contains(&status_line("OL")), "{dump:#?}");
    // One cable-power setting at start-up (open raised both lines; DTR is lowered) and
    // nothing since: no failure, no reopen.
    assert_eq!(sim.calls("OPEN").len(), 1, "{}", sim.log());
    assert!(sim.calls("TIOCMBIS").is_empty(), "{}", sim.log());
    assert_eq!(sim.calls("TIOCMBIC"), ["0x002 DTR"], "{}", sim.log());
    assert!(sim.calls("TIOCMSET").is_empty(), "{}", sim.log());
    driver.stop(RUN_TIMEOUT);
}

// ---------------------------------------------------------------------------------------------
// 3. Cable power.

/// Checks one `-d 1` run's interposer log and `outputs` against cable power `cp`.
///
/// Opening a tty raises DTR and RTS (the interposer logs that as `OPEN`); the driver then
/// reads the lines once and lowers, with a single TIOCMBIC, whichever of them is not cable
/// power: never a TIOCMBIS or TIOCMSET, so the cable never sees a state other than "both up"
/// and "cable power".
fn check_cable_power(what: &str, cp: u32, out: &Output, sim: &ModemSim) {
    let why = format!("{what}\n{}\n--- log:\n{}", describe(out), sim.log());
    assert!(out.status.success(), "{why}");
    let off = (DTR | RTS) & !cp;
    let entries: Vec<_> = sim
        .log_entries()
        .into_iter()
        .filter(|e| e.call != "OPEN")
        .collect();
    assert_eq!(sim.calls("OPEN").len(), 1, "one open: {why}");
    let drives: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e.call != "TIOCMGET")
        .map(|e| (e.call.clone(), e.detail.clone()))
        .collect();
    let want: Vec<(String, String)> = if off != 0 {
        vec![("TIOCMBIC".to_string(), word(off))]
    } else {
        vec![]
    };
    assert_eq!(drives, want, "{why}");
    // The one read before it is the driver checking the lines; status readings come after.
    let first_get = find_entry(&entries, 0, |e| e.call == "TIOCMGET").expect("a reading");
    assert_eq!(
        first_get, 0,
        "the lines are read before they are driven: {why}"
    );
    let second_get = find_entry(&entries, 1, |e| e.call == "TIOCMGET").expect("a status read");
    assert_eq!(
        second_get,
        1 + want.len(),
        "cable power comes before the status: {why}"
    );
    // The status readings see the cable power (lines are CTS DCD).
    assert!(
        sim.calls("TIOCMGET")
            .iter()
            .skip(1)
            .all(|g| *g == word(cp | CTS | DCD)),
        "{why}"
    );
    assert_eq!(sim.outputs(), format!("{}\n", word(cp)), "{why}");
}

#[test]
fn cable_power_as_the_table_says() {
    let c_driver = nut_genericups();
    let ours = Path::new(DRIVER);
    let pty = Pty::new();
    for upstype in 0..24u32 {
        let cp = CABLE_POWER[upstype as usize];
        let (out, sim) = sim_dump(ours, &pty, upstype, "CTS DCD", &[]);
        check_cable_power(&format!("type {upstype}"), cp, &out, &sim);
        if let Some(c) = &c_driver {
            // The C driver writes the whole word with TIOCMSET; the line state must agree.
            let (c_out, c_sim) = sim_dump(c, &pty, upstype, "CTS DCD", &[]);
            let why = format!("C driver, type {upstype}\n{}", describe(&c_out));
            assert!(c_out.status.success(), "{why}");
            assert_eq!(c_sim.calls("TIOCMSET"), [word(cp)], "{why}");
            assert_eq!(c_sim.outputs(), sim.outputs(), "{why}");
        }
    }

    // An override replaces the table's cable power: type 4 is RTS, CP=DTR makes it DTR only.
    assert_eq!(CABLE_POWER[4], RTS);
    let (out, sim) = sim_dump(ours, &pty, 4, "CTS DCD", &["-x", "CP=DTR"]);
    check_cable_power("type 4 with CP=DTR", DTR, &out, &sim);
    if let Some(c) = &c_driver {
        let (c_out, c_sim) = sim_dump(c, &pty, 4, "CTS DCD", &["-x", "CP=DTR"]);
        let why = format!("C driver, type 4 with CP=DTR\n{}", describe(&c_out));
        assert!(c_out.status.success(), "{why}");
        assert_eq!(c_sim.calls("TIOCMSET"), [word(DTR)], "{why}");
        assert_eq!(c_sim.outputs(), sim.outputs(), "{why}");
    }
}

/// Another process opening the port makes Linux raise DTR and RTS. On type 1 (cable power
/// DTR, shutdown RTS) that is the shutdown signal, so the driver must notice at its next
/// reading and lower RTS again, without a reopen and without touching the status.
#[test]
fn foreign_open_is_undone_at_the_next_poll() {
    let (_state, _pty, sim, mut driver, mut client) = live("serial-foreign", "foreign", 1, "", &[]);
    let dump = client.dumpall(&driver);
    assert!(dump.contains(&status_line("OL")), "{dump:#?}");
    assert_eq!(sim.outputs(), format!("{}\n", word(DTR)));

    sim.foreign_open();
    assert!(
        sim.wait_for_log(|l| l.contains(" FOREIGN-OPEN "), RUN_TIMEOUT),
        "the simulated foreign open never happened:\n{}",
        sim.log()
    );
    driver.wait_stderr("the warning", WAIT, |e| {
        e.contains("Output lines read DTR+RTS but cable power is DTR")
    });
    // After the foreign open, the driver lowers RTS (only RTS) again.
    let lowered_again = |log: &str| {
        log.lines()
            .skip_while(|l| !l.contains(" FOREIGN-OPEN "))
            .any(|l| l.ends_with(" TIOCMBIC 0x004 RTS"))
    };
    assert!(
        sim.wait_for_log(lowered_again, RUN_TIMEOUT),
        "RTS was not lowered again:\n{}",
        sim.log()
    );
    // The interposer logs a call before it rewrites `outputs`: wait for the file too.
    let want = format!("{}\n", word(DTR));
    poll_until(RUN_TIMEOUT, Duration::from_millis(10), || {
        (sim.outputs() == want).then_some(())
    });
    assert_eq!(sim.outputs(), want, "{}", sim.log());
    assert_eq!(sim.calls("OPEN").len(), 1, "no reopen: {}", sim.log());
    // The status never moved, and the data never went stale.
    sim.set_lines("RNG");
    let got = client.wait_line(&status_line("OB"), &driver);
    assert!(!got.iter().any(|l| l.starts_with("DATA")), "{got:#?}");
    driver.stop(RUN_TIMEOUT);
}

/// Interference that keeps coming back (ModemManager probing, say) is undone every time: the
/// driver must not conclude that the adapter cannot report its outputs and stop watching.
#[test]
fn repeated_foreign_opens_are_undone_every_time() {
    let (_state, _pty, sim, mut driver, mut client) =
        live("serial-foreign-again", "again", 2, "", &[]);
    client.dumpall(&driver);
    // Type 2: cable power RTS, shutdown DTR+RTS, so each foreign open is the shutdown signal.
    for round in 1..=5 {
        sim.foreign_open();
        let undone = |log: &str| {
            log.lines().filter(|l| l.contains(" FOREIGN-OPEN ")).count() == round
                && log
                    .lines()
                    .rev()
                    .take_while(|l| !l.contains(" FOREIGN-OPEN "))
                    .any(|l| l.ends_with(" TIOCMBIC 0x002 DTR"))
        };
        assert!(
            sim.wait_for_log(undone, RUN_TIMEOUT),
            "round {round}: DTR not lowered again:\n{}",
            sim.log()
        );
    }
    assert!(
        !driver.stderr().contains("does not report its output lines"),
        "{}",
        driver.stderr()
    );
    driver.stop(RUN_TIMEOUT);
}

/// A second start for the same UPS is refused before the port is even opened: opening it
/// would raise DTR and RTS under the running driver's feet.
#[test]
fn duplicate_start_is_refused_without_opening_the_port() {
    let (state, pty, sim, mut first, mut client) = live("serial-dup", "dup", 4, "CTS DCD", &[]);
    client.dumpall(&first);
    let opens_before = sim.calls("OPEN").len();
    let mut again = Running::start_on(&state, "dup", &pty, &sim, 4, &[]);
    let status = again.wait_exit(RUN_TIMEOUT);
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{}", again.stderr());
    assert!(
        again
            .stderr()
            .contains("Duplicate driver instance detected"),
        "{}",
        again.stderr()
    );
    assert_eq!(sim.calls("OPEN").len(), opens_before, "{}", sim.log());
    // The first one still serves its socket.
    assert!(client.dumpall(&first).contains(&status_line("OL")));
    first.stop(RUN_TIMEOUT);
}

/// A read error that is not "device gone" (a USB control transfer timing out: ETIMEDOUT) marks
/// the data stale but keeps the port open at first; every reopen would raise DTR and RTS.
#[test]
fn transient_read_errors_do_not_reopen_at_once() {
    let (_state, _pty, sim, mut driver, mut client) =
        live("serial-soft", "soft", 4, "CTS DCD", &[]);
    client.dumpall(&driver);
    sim.fail_read(Some("110"));
    client.wait_line("DATASTALE", &driver);
    sim.fail_read(None);
    client.wait_line("DATAOK", &driver);
    assert_eq!(sim.calls("OPEN").len(), 1, "no reopen: {}", sim.log());
    driver.stop(RUN_TIMEOUT);
}

// ---------------------------------------------------------------------------------------------
// 4. A failing read.

#[test]
fn read_failure_marks_data_stale_and_recovers() {
    let (_state, _pty, sim, mut driver, mut client) = live("serial-eio", "eio", 4, "DCD", &[]);
    let dump = client.dumpall(&driver);
    assert!(dump.contains(&status_line("OB")), "{dump:#?}");

    sim.fail_read(Some("EIO"));
    client.wait_line("DATASTALE", &driver);
    driver.wait_stderr("the failure", WAIT, |e| {
        e.lines()
            .any(|l| l.ends_with("\tioctl failed: Input/output error"))
            && e.contains("Communications with UPS lost: Status read failed")
    });
    let dump = client.dumpall(&driver);
    assert_eq!(
        dump.first().map(String::as_str),
        Some("DATASTALE"),
        "{dump:#?}"
    );
    assert!(
        dump.contains(&status_line("OB")),
        "last status kept: {dump:#?}"
    );
    driver.assert_running("after the read failure");

    // The lines change while reads fail; the status follows once they work again.
    sim.set_lines("CTS DCD");
    sim.fail_read(None);
    let got = client.wait_all(&["DATAOK", &status_line("OL")], &driver);
    assert!(!got.contains(&"DATASTALE".to_string()), "{got:#?}");
    driver.wait_stderr("the recovery", WAIT, |e| {
        e.contains("Communications with UPS re-established")
    });

    // The port was closed, reopened and cable power driven again after the failure.
    let entries = sim.log_entries();
    let why = sim.log();
    let failed = find_entry(&entries, 0, |e| {
        e.call == "TIOCMGET" && e.detail == "error EIO"
    })
    .unwrap_or_else(|| panic!("no failed read logged:\n{why}"));
    let reopened = find_entry(&entries, failed, |e| e.call == "OPEN")
        .unwrap_or_else(|| panic!("no reopen after the failure:\n{why}"));
    let redriven = find_entry(&entries, reopened, |e| {
        e.call == "TIOCMBIC" && e.detail == "0x002 DTR"
    })
    .unwrap_or_else(|| panic!("cable power not re-driven after the reopen:\n{why}"));
    find_entry(&entries, redriven, |e| {
        e.call == "TIOCMGET" && e.detail == "0x064 RTS CTS DCD"
    })
    .unwrap_or_else(|| panic!("no good read after re-driving:\n{why}"));
    assert!(driver.stderr().contains("reopened"), "{}", driver.stderr());
    driver.stop(RUN_TIMEOUT);
}

// ---------------------------------------------------------------------------------------------
// 5. The port vanishes and comes back.

#[test]
fn port_that_vanishes_and_returns_is_reopened() {
    let state = TempDir::new("serial-usb");
    let link = state.path().join("ttyUSBsim");
    let old = Pty::new();
    std::os::unix::fs::symlink(old.slave_path(), &link).expect("symlink to the pty");
    let sim = ModemSim::new();
    sim.set_lines("CTS DCD");
    // No MODEMSIM_PORT: every pty slave is simulated, the new one too.
    let mut driver = Running::start(state.path(), "usb", &link, 4, &[], sim.envs());
    let mut client = driver.connect();
    let dump = client.dumpall(&driver);
    assert!(dump.contains(&status_line("OL")), "{dump:#?}");

    // Unplugged: the device node goes away and the open descriptor answers ENXIO.
    std::fs::remove_file(&link).expect("remove the symlink");
    sim.fail_read(Some("ENXIO"));
    client.wait_line("DATASTALE", &driver);
    sim.set_lines("DCD");
    // Failure 1 is the read, 2..=10 the reopen attempts; at the 10th reporting is limited.
    let reopen_failed = format!(
        "Communications with UPS lost: reopening the port failed: {}: no such device",
        link.display()
    );
    driver.wait_stderr("10 failures", WAIT, |e| {
        e.contains("Warning: excessive comm failures, limiting error reporting")
    });
    let stderr = driver.stderr();
    assert!(
        stderr
            .lines()
            .any(|l| l.ends_with("\tioctl failed: No such device or address")),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches(&reopen_failed).count(),
        9,
        "{reopen_failed:?}\n{stderr}"
    );
    // Failures 11 and 12 are not reported. No readiness signal exists for a message that must
    // not appear, so give the driver (polling every second) a few more polls.
    thread::sleep(Duration::from_millis(2500));
    driver.assert_running("while the port is missing");
    let stderr = driver.stderr();
    assert_eq!(
        stderr.matches("Communications with UPS lost").count(),
        10,
        "only 10 failures are reported before the 20th:\n{stderr}"
    );
    assert_eq!(
        stderr
            .matches("Warning: excessive comm failures, limiting error reporting")
            .count(),
        1,
        "{stderr}"
    );

    // Plugged in again: a new device (a new pty) behind the same name.
    let new = Pty::new();
    assert_ne!(new.slave_path(), old.slave_path());
    drop(old);
    std::os::unix::fs::symlink(new.slave_path(), &link).expect("symlink to the new pty");
    sim.clear_log();
    sim.fail_read(None);
    let got = client.wait_all(&["DATAOK", &status_line("OB")], &driver);
    assert!(!got.contains(&"DATASTALE".to_string()), "{got:#?}");
    driver.wait_stderr("the reopen", WAIT, |e| {
        e.contains(&format!("Port {} reopened", link.display()))
            && e.contains("Communications with UPS re-established")
    });
    // Cable power was driven on the new device before the good reading.
    let entries = sim.log_entries();
    let why = sim.log();
    let opened = find_entry(&entries, 0, |e| e.call == "OPEN")
        .unwrap_or_else(|| panic!("the new device was not opened:\n{why}"));
    let bis = find_entry(&entries, opened, |e| {
        e.call == "TIOCMBIC" && e.detail == "0x002 DTR"
    })
    .unwrap_or_else(|| panic!("cable power not re-driven:\n{why}"));
    find_entry(&entries, bis, |e| {
        e.call == "TIOCMGET" && e.detail == "0x044 RTS DCD"
    })
    .unwrap_or_else(|| panic!("no good read after the reopen:\n{why}"));

    // And the status follows the lines again.
    sim.set_lines("CTS DCD");
    client.wait_line(&status_line("OL"), &driver);
    sim.set_lines("CTS");
    client.wait_line(&status_line("LB OL"), &driver);
    driver.stop(RUN_TIMEOUT);
}

// ---------------------------------------------------------------------------------------------
// 6. A pty without the interposer.

#[test]
fn pty_without_modem_lines_is_refused_at_startup() {
    let pty = Pty::new();
    let state = TempDir::new("serial-notty");
    let slave = pty.slave_path();
    let out = run(&mut dump_command(
        Path::new(DRIVER),
        state.path(),
        slave,
        4,
        1,
    ));
    let why = describe(&out);
    assert_eq!(out.status.code(), Some(1), "{why}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "Can't set cable power (RTS) on {}",
            slave.display()
        )),
        "{why}"
    );
    assert!(
        stderr.contains(&format!(
            "Can't set cable power (RTS) on {}: Inappropriate ioctl for device\n",
            slave.display()
        )),
        "the C library's text, no \"(os error 25)\": {why}"
    );
    assert!(!text(&out.stdout).contains("ups.status"), "{why}");

    if let Some(c) = nut_genericups() {
        let c_out = run(&mut dump_command(&c, state.path(), slave, 4, 1));
        let why = describe(&c_out);
        assert_eq!(c_out.status.code(), Some(1), "{why}");
        assert!(
            text(&c_out.stderr).contains("ioctl TIOCMSET: Inappropriate ioctl for device"),
            "{why}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Locking.

#[test]
fn second_instance_on_a_locked_port_is_refused() {
    // The socket exists only after the port is open and locked.
    let (state, pty, sim, mut first, mut client) = live("serial-lock", "first", 4, "CTS DCD", &[]);
    client.dumpall(&first);

    let mut second = Running::start_on(&state, "second", &pty, &sim, 4, &[]);
    let status = second.wait_exit(RUN_TIMEOUT);
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "second instance: {status:?}\n--- stderr:\n{}",
        second.stderr()
    );
    let msg = format!(
        "{} is locked by another process",
        pty.slave_path().display()
    );
    assert!(second.stderr().contains(&msg), "{}", second.stderr());
    assert!(!state.path().join("genericups-second").exists());

    // NUT's C driver uses flock too, so it sees our lock.
    if let Some(c) = nut_genericups() {
        let c_out = dump_run(&c, &sim, &pty, 4, &[]);
        let why = describe(&c_out);
        assert_eq!(c_out.status.code(), Some(1), "{why}");
        assert!(text(&c_out.stderr).contains(&msg), "{why}");
    }
    first.assert_running("after the second instance was refused");
    sim.set_lines("DCD");
    client.wait_line(&status_line("OB"), &first);
    drop(client);
    first.stop(RUN_TIMEOUT);
}

#[test]
fn nolock_lets_a_second_instance_share_the_port() {
    let nolock = ["-x", "nolock"];
    let (state, pty, sim, mut first, mut c1) =
        live("serial-nolock", "first", 4, "CTS DCD", &nolock);
    assert!(c1.dumpall(&first).contains(&status_line("OL")));
    let mut second = Running::start_on(&state, "second", &pty, &sim, 4, &nolock);
    let mut c2 = second.connect();
    let dump = c2.dumpall(&second);
    assert!(dump.contains(&status_line("OL")), "{dump:#?}");
    assert!(
        dump.contains(&"SETINFO driver.flag.nolock \"enabled\"".to_string()),
        "{dump:#?}"
    );
    // Both follow the lines.
    sim.set_lines("DCD");
    c1.wait_line(&status_line("OB"), &first);
    c2.wait_line(&status_line("OB"), &second);
    assert!(!second.stderr().contains("locked"), "{}", second.stderr());
    drop((c1, c2));
    second.stop(RUN_TIMEOUT);
    first.stop(RUN_TIMEOUT);
}

// ---------------------------------------------------------------------------------------------
// 8. A missing port.

#[test]
fn missing_port_is_fatal() {
    let state = TempDir::new("serial-missing");
    let port = state.path().join("nonexistent");
    let sim = ModemSim::new();
    let outs: Vec<_> = ours_and_c(&nut_genericups())
        .into_iter()
        .map(|(exe, who)| {
            let out = run(dump_command(&exe, state.path(), &port, 4, 1).envs(sim.envs()));
            (who, out)
        })
        .collect();
    for (who, out) in outs {
        let why = format!("{who}: {}", describe(&out));
        assert_eq!(out.status.code(), Some(1), "{why}");
        // The C driver prints the first part on stdout, the fatal line on stderr.
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            all.contains(&format!(
                "Unable to open {}: No such file or directory",
                port.display()
            )),
            "{why}"
        );
        assert!(
            text(&out.stderr).contains("Fatal error: unusable configuration"),
            "{why}"
        );
        assert!(!all.contains("ups.status"), "{why}");
    }
    assert!(
        sim.log().is_empty(),
        "no ioctl reached a port: {}",
        sim.log()
    );
}

// ---------------------------------------------------------------------------------------------
// Dump mode details, against the C driver where it is installed.

/// `-d n` reads the status n+2 times: once in init, then n+1 loop updates (spec §4.10). Ours
/// reads the lines once more, first, to change only the output lines that need it, and takes
/// a second start-up reading (published only when it agrees with the first: an unfilled USB
/// adapter cache must never be published).
#[test]
fn dump_mode_reads_as_often_as_nut() {
    let c_driver = nut_genericups();
    let pty = Pty::new();
    for n in [1u32, 3] {
        for (exe, who) in ours_and_c(&c_driver) {
            let sim = ModemSim::new();
            sim.set_lines("CTS");
            let state = TempDir::new("serial-count");
            let out =
                run(dump_command(&exe, state.path(), pty.slave_path(), 4, n)
                    .envs(sim.envs_for(&pty)));
            let why = format!("{who}, -d {n}\n{}\n--- log:\n{}", describe(&out), sim.log());
            assert!(out.status.success(), "{why}");
            let mut gets = sim.calls("TIOCMGET");
            if who == "ours" {
                assert_eq!(
                    gets.first(),
                    Some(&word(DTR | RTS | CTS)),
                    "the cable-power check: {why}"
                );
                gets.remove(0);
            }
            let settle = usize::from(who == "ours");
            assert_eq!(
                gets,
                vec![word(RTS | CTS); n as usize + 2 + settle],
                "{why}"
            );
            assert_eq!(
                dump_vars(&text(&out.stdout))
                    .get("ups.status")
                    .map(String::as_str),
                Some("LB OL"),
                "{why}"
            );
        }
    }
}

/// Failed reads in dump mode: each is reported with the C library's text, the data are never
/// valid, so no `ups.status` is printed, and the exit code is still 0.
#[test]
fn dump_mode_read_failures_match_nut() {
    let c_driver = nut_genericups();
    let pty = Pty::new();
    for (errno, message) in [
        ("EIO", "Input/output error"),
        ("ENXIO", "No such device or address"),
    ] {
        // -d 1: the init reading and two loop updates all fail.
        let want: Vec<String> = (0..3)
            .flat_map(|_| {
                [
                    format!("ioctl failed: {message}"),
                    "Communications with UPS lost: Status read failed".to_string(),
                ]
            })
            .collect();
        for (exe, who) in ours_and_c(&c_driver) {
            let sim = ModemSim::new();
            sim.set_lines("CTS DCD");
            sim.fail_read(Some(errno));
            let out = dump_run(&exe, &sim, &pty, 4, &[]);
            let why = format!(
                "{who}, {errno}\n{}\n--- log:\n{}",
                describe(&out),
                sim.log()
            );
            assert!(out.status.success(), "{why}");
            let vars = dump_vars(&text(&out.stdout));
            assert_eq!(vars.get("ups.status"), None, "{why}");
            assert_eq!(
                vars.get("ups.model").map(String::as_str),
                Some("Generic RUPS model"),
                "{why}"
            );
            let reported: Vec<String> = text(&out.stderr)
                .lines()
                .filter(|l| l.starts_with("ioctl failed") || l.starts_with("Communications"))
                .map(str::to_string)
                .collect();
            // Ours closes the port after a failed read and reopens it; a port that reopens
            // but still cannot be read is retried less often (each open raises DTR and RTS),
            // so the third update only reports that it is waiting.
            let want = if who == "ours" {
                let mut ours = want[..4].to_vec();
                ours.push(
                    "Communications with UPS lost: Status read failed (port closed; will reopen)"
                        .to_string(),
                );
                ours
            } else {
                want.clone()
            };
            assert_eq!(reported, want, "{why}");
            // Ours also tries the cable-power check before each open's drive: init and the
            // one reopen, each followed by its status read.
            let reads = if who == "ours" { 4 } else { 3 };
            assert_eq!(
                sim.calls("TIOCMGET"),
                vec![format!("error {errno}"); reads],
                "{why}"
            );
        }
    }
}

/// A port that opens but is not a terminal: fatal at start-up, with the C library's text.
#[test]
fn port_that_is_not_a_terminal_is_refused() {
    let state = TempDir::new("serial-notatty");
    let port = state.path().join("plain-file");
    std::fs::write(&port, "").expect("create a regular file");
    let out = run(&mut dump_command(
        Path::new(DRIVER),
        state.path(),
        &port,
        4,
        1,
    ));
    let why = describe(&out);
    assert_eq!(out.status.code(), Some(1), "{why}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "Unable to use {}: tcgetattr: Inappropriate ioctl for device\n",
            port.display()
        )),
        "{why}"
    );
    assert!(
        stderr.contains("Fatal error: unusable configuration"),
        "{why}"
    );
    if let Some(c) = nut_genericups() {
        let c_out = run(&mut dump_command(&c, state.path(), &port, 4, 1));
        let why = describe(&c_out);
        assert_eq!(c_out.status.code(), Some(1), "{why}");
        assert!(
            text(&c_out.stderr).contains("tcgetattr: Inappropriate ioctl for device"),
            "{why}"
        );
    }
}
