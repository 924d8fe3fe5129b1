//! Tests of the `modemsim` interposer itself: under NUT's C `genericups` (the behaviour our
//! driver must reproduce) and under a small Python program that issues the ioctls directly.
//!
//! The C-driver tests skip with a note when `/lib/nut/genericups` is missing, and fail under
//! `CI=true`; the Python tests do the same for `python3`.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::Duration;

use nix::errno::Errno;
use support::{
    ModemSim, Pty, TempDir, dump_vars, nut_genericups, python3, run_with_timeout, text,
    wait_with_timeout,
};

const DRIVER_TIMEOUT: Duration = Duration::from_secs(30);
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Under the C driver.

/// Runs the C driver on `pty` with `args` placed before the common `-s t -x port=... -x
/// upstype=N -u root` arguments.
fn run_c_driver(driver: &Path, sim: &ModemSim, pty: &Pty, upstype: u32, args: &[&str]) -> Output {
    let state = TempDir::new("modemsim-nutstate");
    let mut cmd = Command::new(driver);
    cmd.args(args)
        .args(["-s", "t", "-x"])
        .arg(format!("port={}", pty.slave_path().display()))
        .arg("-x")
        .arg(format!("upstype={upstype}"))
        .args(["-u", "root"])
        .env("NUT_STATEPATH", state.path())
        .envs(sim.envs_for(pty));
    run_with_timeout(&mut cmd, DRIVER_TIMEOUT)
}

/// Runs the C driver with `args` on a fresh pty, under a fresh simulation that `setup`
/// prepares; returns the output, the simulation, and both described for failure messages.
fn c_run(
    driver: &Path,
    upstype: u32,
    args: &[&str],
    setup: impl FnOnce(&mut ModemSim),
) -> (Output, ModemSim, String) {
    let pty = Pty::new();
    let mut sim = ModemSim::new();
    setup(&mut sim);
    let out = run_c_driver(driver, &sim, &pty, upstype, args);
    let why = describe(&out, &sim);
    (out, sim, why)
}

/// Runs the C driver in dump mode (`-d 1`) with the given input lines; it must succeed.
/// Returns the simulation, the failure description and the variables it printed.
fn c_dump(
    driver: &Path,
    upstype: u32,
    lines: &str,
) -> (ModemSim, String, BTreeMap<String, String>) {
    let (out, sim, why) = c_run(driver, upstype, &["-d", "1"], |sim| sim.set_lines(lines));
    assert!(out.status.success(), "lines {lines:?}: {why}");
    let vars = dump_vars(&text(&out.stdout));
    (sim, why, vars)
}

fn describe(out: &Output, sim: &ModemSim) -> String {
    format!("{}--- log:\n{}", support::describe(out), sim.log())
}

#[test]
fn c_driver_type4_status_follows_simulated_lines() {
    let Some(driver) = nut_genericups() else {
        return;
    };
    // Type 4 (Generic RUPS): cable power RTS, on line = CTS high, low battery = DCD low.
    for (lines, status, tiocmget) in [
        ("CTS DCD", "OL", "0x064 RTS CTS DCD"),
        ("CTS", "LB OL", "0x024 RTS CTS"),
        ("dcd", "OB", "0x044 RTS DCD"),
        ("", "LB OB", "0x004 RTS"),
    ] {
        let (sim, why, vars) = c_dump(&driver, 4, lines);
        assert_eq!(
            vars.get("ups.status").map(String::as_str),
            Some(status),
            "lines {lines:?}: {why}"
        );
        assert_eq!(sim.calls("TIOCMSET"), ["0x004 RTS"], "{why}");
        assert_eq!(sim.outputs(), "0x004 RTS\n", "{why}");
        let gets = sim.calls("TIOCMGET");
        assert!(!gets.is_empty(), "{why}");
        assert!(gets.iter().all(|g| g == tiocmget), "{why}");
        // Every line carries the driver's pid.
        let pids: Vec<u32> = sim.log_entries().iter().map(|e| e.pid).collect();
        assert!(pids.windows(2).all(|w| w[0] == w[1]), "{why}");
    }
}

#[test]
fn c_driver_type1_status_follows_simulated_lines() {
    let Some(driver) = nut_genericups() else {
        return;
    };
    // Type 1 (APC Back-UPS 940-0095A/C): cable power DTR, on line = RNG low,
    // low battery = DCD high. Also exercises aliases and the numeric form of `lines`.
    for (lines, status) in [
        ("", "OL"),
        ("CTS DSR", "OL"),
        ("RNG", "OB"),
        ("0x040", "LB OL"),
        ("ri+cd", "LB OB"),
    ] {
        let (sim, why, vars) = c_dump(&driver, 1, lines);
        assert_eq!(
            vars.get("ups.status").map(String::as_str),
            Some(status),
            "{why}"
        );
        assert_eq!(
            vars.get("driver.parameter.upstype").map(String::as_str),
            Some("1")
        );
        assert_eq!(sim.calls("TIOCMSET"), ["0x002 DTR"], "{why}");
        assert_eq!(sim.outputs(), "0x002 DTR\n", "{why}");
    }
}

#[test]
fn c_driver_read_failure_reports_ioctl_error_and_no_status() {
    let Some(driver) = nut_genericups() else {
        return;
    };
    for (errno, message) in [
        ("", "Input/output error"),
        ("ENXIO", "No such device or address"),
    ] {
        let (out, sim, why) = c_run(&driver, 4, &["-d", "1"], |sim| {
            sim.set_lines("CTS DCD");
            sim.fail_read(Some(errno));
        });
        // NUT 2.8.0 logs each failed poll, marks the data stale, and in dump mode still exits 0
        // after printing the static variables only: no ups.status at all.
        assert!(out.status.success(), "{why}");
        let vars = dump_vars(&text(&out.stdout));
        assert_eq!(vars.get("ups.status"), None, "{why}");
        assert_eq!(
            vars.get("ups.model").map(String::as_str),
            Some("Generic RUPS model")
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("ioctl failed: {message}")),
            "{why}"
        );
        assert!(
            stderr.contains("Communications with UPS lost: Status read failed"),
            "{why}"
        );
        let want = format!("error {}", if errno.is_empty() { "EIO" } else { errno });
        let gets = sim.calls("TIOCMGET");
        assert!(!gets.is_empty(), "{why}");
        assert!(gets.iter().all(|g| *g == want), "{why}");
        // Writes are unaffected by fail-read.
        assert_eq!(sim.calls("TIOCMSET"), ["0x004 RTS"], "{why}");
    }
}

#[test]
fn c_driver_write_failure_is_fatal_at_startup() {
    let Some(driver) = nut_genericups() else {
        return;
    };
    let (out, sim, why) = c_run(&driver, 4, &["-d", "1"], |sim| {
        sim.set_lines("CTS DCD");
        sim.fail_write(Some("EIO"));
    });
    assert_eq!(out.status.code(), Some(1), "{why}");
    assert!(
        text(&out.stderr).contains("ioctl TIOCMSET: Input/output error"),
        "{why}"
    );
    assert_eq!(sim.calls("TIOCMSET"), ["error EIO"], "{why}");
    assert!(sim.calls("TIOCMGET").is_empty(), "{why}");
    // Only the open raised the lines (as Linux does); the driver changed nothing.
    assert_eq!(sim.calls("OPEN"), ["0x006 DTR RTS"], "{why}");
    assert_eq!(
        sim.outputs(),
        "0x006 DTR RTS\n",
        "no output change was made: {why}"
    );
}

#[test]
fn c_driver_shutdown_drops_lines_or_sends_break() {
    let Some(driver) = nut_genericups() else {
        return;
    };
    // Type 4 shuts down by clearing all outputs.
    let (out, sim, why) = c_run(&driver, 4, &["-k"], |_| {});
    assert!(out.status.success(), "{why}");
    assert_eq!(sim.calls("TIOCMSET"), ["0x004 RTS", "0x000 none"], "{why}");
    assert_eq!(sim.outputs(), "0x000 none\n", "{why}");

    // Type 11 (Powerware 3115) shuts down with tcsendbreak(fd, 4901): a 5 s break, made
    // instantaneous here.
    let (out, sim, why) = c_run(&driver, 11, &["-k"], |sim| sim.set_fast_break(true));
    assert!(out.status.success(), "{why}");
    let calls: Vec<(String, String)> = sim
        .log_entries()
        .into_iter()
        .map(|e| (e.call, e.detail))
        .collect();
    let expected = [
        ("OPEN", "0x006 DTR RTS"),
        ("TIOCMSET", "0x002 DTR"),
        ("tcsendbreak", "4901"),
        ("BREAK-END", "5000ms"),
    ]
    .map(|(c, d)| (c.to_string(), d.to_string()));
    assert_eq!(calls, expected, "{why}");
}

// ---------------------------------------------------------------------------------------------
// Under Python: the ioctls one at a time.

/// A Python program that opens the port and runs one request per stdin line, answering one line
/// each: `<result> <elapsed seconds>`, where result is a hex word, `ok`, the four icount numbers
/// (cts dsr rng dcd), or `errno N`.
const PY_PORT: &str = r#"
import fcntl, os, struct, sys, termios, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
REQ = {'TIOCMGET': 0x5415, 'TIOCMBIS': 0x5416, 'TIOCMBIC': 0x5417, 'TIOCMSET': 0x5418,
       'TCSBRK': 0x5409, 'TCSBRKP': 0x5425, 'TIOCSBRK': 0x5427, 'TIOCCBRK': 0x5428,
       'TIOCMIWAIT': 0x545C, 'TIOCGICOUNT': 0x545D}
print('ready', flush=True)
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    cmd, args = words[0], [int(w, 0) for w in words[1:]]
    t0 = time.monotonic()
    try:
        if cmd == 'TIOCMGET':
            res = hex(struct.unpack('i', fcntl.ioctl(fd, REQ[cmd], struct.pack('i', 0)))[0])
        elif cmd in ('TIOCMBIS', 'TIOCMBIC', 'TIOCMSET'):
            fcntl.ioctl(fd, REQ[cmd], struct.pack('i', args[0]))
            res = 'ok'
        elif cmd in ('TIOCMIWAIT', 'TCSBRK', 'TCSBRKP'):
            fcntl.ioctl(fd, REQ[cmd], args[0])
            res = 'ok'
        elif cmd in ('TIOCSBRK', 'TIOCCBRK'):
            fcntl.ioctl(fd, REQ[cmd], 0)
            res = 'ok'
        elif cmd == 'TIOCGICOUNT':
            v = struct.unpack('20i', fcntl.ioctl(fd, REQ[cmd], bytes(80)))
            res = ' '.join(str(n) for n in v[:4])
        elif cmd == 'tcsendbreak':
            termios.tcsendbreak(fd, args[0])
            res = 'ok'
        elif cmd == 'tcgetattr':
            termios.tcgetattr(fd)
            res = 'ok'
        else:
            res = 'unknown'
    except (OSError, termios.error) as e:
        res = 'errno %d' % e.args[0]
    print('%s %.3f' % (res, time.monotonic() - t0), flush=True)
"#;

/// The Python port program running under the interposer.
struct PyPort {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<String>,
}

impl PyPort {
    /// Starts the program on `pty`'s slave with `envs`; `None` if python3 is missing.
    fn start(pty: &Pty, envs: Vec<(String, String)>) -> Option<PyPort> {
        let python = python3()?;
        let mut child = Command::new(python)
            .arg("-c")
            .arg(PY_PORT)
            .arg(pty.slave_path())
            .envs(envs)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python3");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, replies) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut port = PyPort {
            child,
            stdin,
            replies,
        };
        assert_eq!(port.reply(), "ready");
        Some(port)
    }

    /// Sends one request without waiting for its reply.
    fn send(&mut self, request: &str) {
        writeln!(self.stdin, "{request}").expect("write to python");
        self.stdin.flush().expect("flush to python");
    }

    /// The next reply line, in full (result and elapsed time).
    fn reply(&mut self) -> String {
        self.replies
            .recv_timeout(REPLY_TIMEOUT)
            .expect("python port program did not answer in time")
    }

    /// Runs one request; returns (result, elapsed seconds).
    fn call(&mut self, request: &str) -> (String, f64) {
        self.send(request);
        split_reply(&self.reply())
    }

    /// Runs one request; returns its result only.
    fn result(&mut self, request: &str) -> String {
        self.call(request).0
    }
}

impl Drop for PyPort {
    fn drop(&mut self) {
        // Closing stdin ends the loop; kill it if it is stuck (e.g. in TIOCMIWAIT).
        let _ = self.stdin.flush();
        if wait_with_timeout(&mut self.child, Duration::from_millis(0)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// [`PyPort::start`] on a fresh pty under a fresh simulation of it, which `setup` prepares
/// before the program starts. Bind the parts in this order, so that the program stops first.
fn py_sim(setup: impl FnOnce(&mut ModemSim)) -> Option<(Pty, ModemSim, PyPort)> {
    let pty = Pty::new();
    let mut sim = ModemSim::new();
    setup(&mut sim);
    let port = PyPort::start(&pty, sim.envs_for(&pty))?;
    Some((pty, sim, port))
}

fn split_reply(reply: &str) -> (String, f64) {
    let (result, elapsed) = reply.rsplit_once(' ').expect("reply has an elapsed time");
    (
        result.to_string(),
        elapsed.parse().expect("elapsed seconds"),
    )
}

#[test]
fn shim_get_set_bits_and_outputs_file() {
    let Some((_pty, sim, mut port)) = py_sim(|_| {}) else {
        return;
    };
    // No `lines` file: no inputs; outputs start at DTR|RTS as Linux raises both on open.
    assert_eq!(port.result("TIOCMGET"), "0x6");
    sim.set_lines("cts+DCD");
    assert_eq!(port.result("TIOCMGET"), "0x66");
    assert_eq!(port.result("TIOCMBIC 0x2"), "ok");
    assert_eq!(sim.outputs(), "0x004 RTS\n");
    assert_eq!(port.result("TIOCMGET"), "0x64");
    assert_eq!(port.result("TIOCMBIS 0x2"), "ok");
    assert_eq!(sim.outputs(), "0x006 DTR RTS\n");
    // TIOCMSET keeps DTR, RTS and ST and drops input bits.
    assert_eq!(port.result("TIOCMSET 0x28"), "ok");
    assert_eq!(sim.outputs(), "0x008 ST\n");
    sim.set_lines("0x160");
    assert_eq!(port.result("TIOCMGET"), "0x168");
    assert_eq!(port.result("TIOCMSET 0"), "ok");
    assert_eq!(sim.outputs(), "0x000 none\n");
    sim.set_lines("");
    assert_eq!(port.result("TIOCMGET"), "0x0");
    // Other requests on the simulated fd still reach the pty.
    assert_eq!(port.result("tcgetattr"), "ok");

    let calls: Vec<String> = sim
        .log_entries()
        .into_iter()
        .map(|e| format!("{} {}", e.call, e.detail))
        .collect();
    assert_eq!(
        calls,
        [
            "OPEN 0x006 DTR RTS",
            "TIOCMGET 0x006 DTR RTS",
            "TIOCMGET 0x066 DTR RTS CTS DCD",
            "TIOCMBIC 0x002 DTR",
            "TIOCMGET 0x064 RTS CTS DCD",
            "TIOCMBIS 0x002 DTR",
            "TIOCMSET 0x028 ST CTS",
            "TIOCMGET 0x168 ST CTS DCD DSR",
            "TIOCMSET 0x000 none",
            "TIOCMGET 0x000 none",
        ]
    );
    let pid = port.child.id();
    assert!(sim.log_entries().iter().all(|e| e.pid == pid));
}

#[test]
fn shim_injected_failures_come_and_go() {
    let Some((_pty, sim, mut port)) = py_sim(|sim| sim.set_lines("CTS")) else {
        return;
    };
    sim.fail_read(Some(""));
    assert_eq!(
        port.result("TIOCMGET"),
        format!("errno {}", Errno::EIO as i32)
    );
    assert_eq!(
        port.result("TIOCGICOUNT"),
        format!("errno {}", Errno::EIO as i32)
    );
    assert_eq!(
        port.result("TIOCMIWAIT 0x20"),
        format!("errno {}", Errno::EIO as i32)
    );
    // Writes still work while reads fail.
    assert_eq!(port.result("TIOCMBIC 0x4"), "ok");
    sim.fail_read(Some("ENODEV\n"));
    assert_eq!(
        port.result("TIOCMGET"),
        format!("errno {}", Errno::ENODEV as i32)
    );
    sim.fail_read(Some("6"));
    assert_eq!(
        port.result("TIOCMGET"),
        format!("errno {}", Errno::ENXIO as i32)
    );
    sim.fail_read(None);
    assert_eq!(port.result("TIOCMGET"), "0x22");

    sim.fail_write(Some("ENOTTY"));
    let enotty = format!("errno {}", Errno::ENOTTY as i32);
    for request in [
        "TIOCMSET 0",
        "TIOCMBIS 4",
        "TIOCMBIC 2",
        "TIOCSBRK",
        "TIOCCBRK",
        "TCSBRK 0",
        "TCSBRKP 1",
        "tcsendbreak 0",
    ] {
        assert_eq!(port.result(request), enotty, "{request}");
    }
    assert_eq!(
        port.result("TIOCMGET"),
        "0x22",
        "reads unaffected by fail-write"
    );
    sim.fail_write(None);
    assert_eq!(port.result("TIOCMSET 0"), "ok");
    assert_eq!(sim.outputs(), "0x000 none\n");

    let log = sim.log();
    for expected in [
        "TIOCMGET error EIO",
        "TIOCGICOUNT error EIO",
        "TIOCMIWAIT error EIO",
        "TIOCMGET error ENODEV",
        "TIOCMGET error ENXIO",
        "TIOCMSET error ENOTTY",
        "TIOCMBIS error ENOTTY",
        "TIOCMBIC error ENOTTY",
        "TIOCSBRK error ENOTTY",
        "TIOCCBRK error ENOTTY",
        "TCSBRK error ENOTTY",
        "TCSBRKP error ENOTTY",
        "tcsendbreak error ENOTTY",
    ] {
        assert!(
            log.contains(expected),
            "{expected:?} missing from log:\n{log}"
        );
    }
    assert!(
        !log.contains("BREAK-END"),
        "failed breaks do not run:\n{log}"
    );
}

#[test]
fn shim_tiocmiwait_blocks_until_a_masked_line_changes() {
    let Some((_pty, sim, mut port)) = py_sim(|sim| sim.set_lines("DCD")) else {
        return;
    };
    port.send("TIOCMIWAIT 0x20"); // CTS only
    assert!(
        sim.wait_for_log(|log| log.contains("TIOCMIWAIT 0x020"), REPLY_TIMEOUT),
        "TIOCMIWAIT not logged:\n{}",
        sim.log()
    );
    // Changing an unmasked line does not wake it: it is still waiting after several polls.
    sim.set_lines("DSR");
    assert!(
        port.replies
            .recv_timeout(Duration::from_millis(150))
            .is_err(),
        "TIOCMIWAIT(CTS) returned on a DCD/DSR change"
    );
    sim.set_lines("DSR CTS");
    assert_eq!(split_reply(&port.reply()).0, "ok");
    assert_eq!(port.result("TIOCMGET"), "0x126");

    // A change back (high to low) wakes it too.
    port.send("TIOCMIWAIT 0x1e0");
    assert!(sim.wait_for_log(|log| log.contains("TIOCMIWAIT 0x1e0"), REPLY_TIMEOUT));
    sim.set_lines("DSR");
    assert_eq!(split_reply(&port.reply()).0, "ok");

    // fail-read appearing during the wait ends it with that errno.
    sim.clear_log();
    port.send("TIOCMIWAIT 0x1e0");
    assert!(sim.wait_for_log(|log| log.contains("TIOCMIWAIT 0x1e0"), REPLY_TIMEOUT));
    sim.fail_read(Some("ENXIO"));
    assert_eq!(
        split_reply(&port.reply()).0,
        format!("errno {}", Errno::ENXIO as i32)
    );
    assert!(sim.log().contains("TIOCMIWAIT error ENXIO"));
}

#[test]
fn shim_tiocgicount_counts_transitions_between_reads() {
    let Some((_pty, sim, mut port)) = py_sim(|_| {}) else {
        return;
    };
    // Order in the reply: cts dsr rng dcd. The first read is the baseline.
    assert_eq!(port.result("TIOCGICOUNT"), "0 0 0 0");
    sim.set_lines("CTS RNG");
    assert_eq!(
        port.result("TIOCGICOUNT"),
        "1 0 0 0",
        "RNG rising edge not counted"
    );
    sim.set_lines("");
    assert_eq!(
        port.result("TIOCGICOUNT"),
        "2 0 1 0",
        "RNG falling edge counted"
    );
    sim.set_lines("DSR DCD");
    // Any read of `lines` updates the counters, TIOCMGET included.
    assert_eq!(port.result("TIOCMGET"), "0x146");
    sim.set_lines("DSR");
    assert_eq!(port.result("TIOCGICOUNT"), "2 1 1 2");
    // Transitions between two reads are not seen: DSR off and on again looks like no change.
    sim.set_lines("");
    sim.set_lines("DSR");
    assert_eq!(port.result("TIOCGICOUNT"), "2 1 1 2");
    assert!(sim.log().contains("TIOCGICOUNT cts=2 dsr=1 rng=1 dcd=2"));
}

#[test]
fn shim_breaks_take_their_time_and_are_logged() {
    let Some((_pty, sim, mut port)) = py_sim(|_| {}) else {
        return;
    };
    // glibc: tcsendbreak(fd, 0) is the default 0.25 s break; d > 0 is TCSBRKP((d+99)/100).
    let (res, took) = port.call("tcsendbreak 0");
    assert_eq!(res, "ok");
    assert!((0.24..2.0).contains(&took), "tcsendbreak 0 took {took}");
    let (res, took) = port.call("tcsendbreak 201");
    assert_eq!(res, "ok");
    assert!((0.29..2.0).contains(&took), "tcsendbreak 201 took {took}");
    let (res, took) = port.call("TCSBRKP 2");
    assert_eq!(res, "ok");
    assert!((0.19..2.0).contains(&took), "TCSBRKP 2 took {took}");
    let (res, took) = port.call("TCSBRK 0");
    assert_eq!(res, "ok");
    assert!((0.24..2.0).contains(&took), "TCSBRK 0 took {took}");
    assert_eq!(port.result("TIOCSBRK"), "ok");
    assert_eq!(port.result("TIOCCBRK"), "ok");

    let calls: Vec<String> = sim
        .log_entries()
        .into_iter()
        .map(|e| format!("{} {}", e.call, e.detail).trim_end().to_string())
        .collect();
    assert_eq!(
        calls,
        [
            "OPEN 0x006 DTR RTS",
            "tcsendbreak 0",
            "BREAK-END 250ms",
            "tcsendbreak 201",
            "BREAK-END 300ms",
            "TCSBRKP 2",
            "BREAK-END 200ms",
            "TCSBRK 0",
            "BREAK-END 250ms",
            "TIOCSBRK",
            "TIOCCBRK",
        ]
    );
    let entries = sim.log_entries();
    // Entry 0 is the OPEN; 3 and 4 are the 0.3 s break.
    let gap = entries[4].time - entries[3].time;
    assert!((0.29..2.0).contains(&gap), "break start/end {gap} s apart");
}

#[test]
fn shim_fast_break_returns_at_once() {
    let Some((_pty, sim, mut port)) = py_sim(|sim| sim.set_fast_break(true)) else {
        return;
    };
    let (res, took) = port.call("tcsendbreak 4901");
    assert_eq!(res, "ok");
    assert!(took < 1.0, "fast tcsendbreak 4901 took {took}");
    assert_eq!(sim.calls("tcsendbreak"), ["4901"]);
    assert_eq!(sim.calls("BREAK-END"), ["5000ms"]);
}

#[test]
fn shim_passes_through_unsimulated_fds() {
    let pty = Pty::new();
    let other = Pty::new();
    let sim = ModemSim::new();
    sim.set_lines("CTS");
    let enotty = format!("errno {}", Errno::ENOTTY as i32);

    // MODEMSIM_PORT names another pty: ours is left alone and the pty answers ENOTTY.
    let Some(mut port) = PyPort::start(&pty, sim.envs_for(&other)) else {
        return;
    };
    assert_eq!(port.result("TIOCMGET"), enotty);
    assert_eq!(port.result("TIOCMBIS 2"), enotty);
    assert_eq!(port.result("tcgetattr"), "ok");
    drop(port);

    // No MODEMSIM_DIR: pure pass-through even for pty slaves.
    let envs: Vec<(String, String)> = sim
        .envs()
        .into_iter()
        .filter(|(k, _)| k != "MODEMSIM_DIR")
        .collect();
    let mut port = PyPort::start(&pty, envs).expect("python3 ran a moment ago");
    assert_eq!(port.result("TIOCMGET"), enotty);
    drop(port);

    // Without MODEMSIM_PORT every pty slave is simulated.
    let mut port = PyPort::start(&pty, sim.envs()).expect("python3 ran a moment ago");
    assert_eq!(port.result("TIOCMGET"), "0x26");
    drop(port);

    assert_eq!(
        sim.calls("TIOCMGET"),
        ["0x026 RTS CTS"].map(|s| s.replace("RTS", "DTR RTS"))
    );
}
