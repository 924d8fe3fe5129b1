//! The modem-line interposer (`tools/modemsim`) seen from a test: building it, a pty to run a
//! driver on, and the control directory that sets input lines and reads back outputs and calls.
//!
//! Typical use:
//!
//! ```ignore
//! let pty = Pty::new();
//! let sim = ModemSim::new();
//! sim.set_lines("CTS");
//! let out = run_with_timeout(
//!     Command::new(driver).args(["-d", "1", "-x"]).arg(format!("port={}", pty.slave_path().display()))
//!         .envs(sim.envs_for(&pty)),
//!     Duration::from_secs(20),
//! );
//! assert!(sim.log().contains("TIOCMSET 0x004 RTS"));
//! ```

use std::fs;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::pty::{PtyMaster, grantpt, posix_openpt, ptsname_r, unlockpt};

use super::{TempDir, poll_until};

/// Builds the interposer once per test process and returns the path of `libmodemsim.so`.
///
/// Runs `$CARGO build -p modemsim --release` (`cargo` if `CARGO` is unset) in the workspace root
/// with `CARGO_TARGET_DIR=<workspace>/target/modemsim`, a target directory of its own so that it
/// does not wait on the lock of the `cargo test` that is running us. Panics with cargo's output
/// if the build fails.
pub fn modemsim_lib() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target_dir = workspace.join("target").join("modemsim");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(&cargo)
            .args(["build", "-p", "modemsim", "--release"])
            .current_dir(workspace)
            .env("CARGO_TARGET_DIR", &target_dir)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} to build the modemsim interposer: {e}",
                    Path::new(&cargo).display()
                )
            });
        if !output.status.success() {
            panic!(
                "building the modemsim interposer failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let lib = target_dir.join("release").join("libmodemsim.so");
        assert!(
            lib.is_file(),
            "cargo built modemsim but {} does not exist",
            lib.display()
        );
        lib
    })
    .clone()
}

/// A pseudo-terminal pair. The master stays open for the life of the value, so the slave can be
/// opened (and re-opened) by the program under test; the slave is not opened here.
#[derive(Debug)]
pub struct Pty {
    master: PtyMaster,
    slave: PathBuf,
}

impl Pty {
    /// Opens `/dev/ptmx` (close-on-exec, not a controlling tty) and unlocks the slave.
    pub fn new() -> Pty {
        let master =
            posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).expect("posix_openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let slave = PathBuf::from(ptsname_r(&master).expect("ptsname_r"));
        Pty { master, slave }
    }

    /// Path of the slave side, e.g. `/dev/pts/3`: the `port` to give the driver.
    pub fn slave_path(&self) -> &Path {
        &self.slave
    }

    /// Makes the slave readable and writable by every user (mode 0666), for a driver that opens
    /// the port after dropping root privileges (NUT's C driver does, when not run with `-u root`).
    pub fn allow_all_users(&self) {
        fs::set_permissions(&self.slave, fs::Permissions::from_mode(0o666))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", self.slave.display()));
    }

    /// The master side (to read what the driver writes, if anything).
    pub fn master(&self) -> BorrowedFd<'_> {
        self.master.as_fd()
    }
}

impl Default for Pty {
    fn default() -> Self {
        Pty::new()
    }
}

/// One line of the interposer's `log` file: `<secs>.<micros> <pid> <CALL> <detail>`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// Wall-clock time of the call, in seconds since the Unix epoch.
    pub time: f64,
    /// Process that made the call.
    pub pid: u32,
    /// `TIOCMGET`, `TIOCMSET`, `tcsendbreak`, `BREAK-END`, ...
    pub call: String,
    /// The rest of the line, e.g. `0x004 RTS` or `error EIO`; may be empty.
    pub detail: String,
}

impl LogEntry {
    /// Parses one log line; `None` if it is malformed.
    pub fn parse(line: &str) -> Option<LogEntry> {
        let mut parts = line.splitn(4, ' ');
        let time = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let call = parts.next()?.to_string();
        let detail = parts.next().unwrap_or("").to_string();
        Some(LogEntry {
            time,
            pid,
            call,
            detail,
        })
    }
}

/// A control directory for the interposer (`MODEMSIM_DIR`), deleted on drop (kept if the test is
/// panicking).
///
/// The interposer re-reads the files on every simulated call, so changes made here take effect
/// on the driver's next `ioctl`.
#[derive(Debug)]
pub struct ModemSim {
    dir: TempDir,
    lib: PathBuf,
    fast_break: bool,
}

impl ModemSim {
    /// Builds the interposer if needed ([`modemsim_lib`]) and creates an empty control directory
    /// (no input lines asserted, no failures injected).
    ///
    /// The directory is made world-writable (mode 0777) and an empty world-writable `log` is
    /// created, so that a driver which drops root privileges (e.g. to user `nut`) can still log
    /// and replace `outputs`.
    pub fn new() -> ModemSim {
        let sim = ModemSim {
            lib: modemsim_lib(),
            dir: TempDir::new("modemsim"),
            fast_break: false,
        };
        let log = sim.dir().join("log");
        fs::write(&log, "").expect("create modemsim log");
        fs::set_permissions(&log, fs::Permissions::from_mode(0o666)).expect("chmod modemsim log");
        fs::set_permissions(sim.dir(), fs::Permissions::from_mode(0o777))
            .expect("chmod modemsim dir");
        sim
    }

    /// The control directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The interposer library this simulation preloads.
    pub fn lib(&self) -> &Path {
        &self.lib
    }

    /// Makes simulated breaks return at once instead of sleeping for their length (adds
    /// `MODEMSIM_FAST_BREAK=1` to [`envs`](Self::envs)). Affects processes started afterwards.
    pub fn set_fast_break(&mut self, fast: bool) {
        self.fast_break = fast;
    }

    /// Sets the asserted input lines, e.g. `"CTS DCD"`, `"cts+rng"`, `"0x160"` or `""` (none).
    /// Written atomically, so a concurrent read sees the old or the new value, never a mix.
    pub fn set_lines(&self, lines: &str) {
        self.write_atomically("lines", lines);
    }

    /// `Some(errno)` makes `TIOCMGET`, `TIOCMIWAIT` and `TIOCGICOUNT` fail with that errno
    /// (`""` means `EIO`; names `EIO`, `ENXIO`, `ENODEV`, `ENOTTY` or a number); `None` stops it.
    pub fn fail_read(&self, errno: Option<&str>) {
        self.set_failure("fail-read", errno);
    }

    /// Like [`fail_read`](Self::fail_read) for `TIOCMSET`/`TIOCMBIS`/`TIOCMBIC`, the break
    /// requests and `tcsendbreak`.
    pub fn fail_write(&self, errno: Option<&str>) {
        self.set_failure("fail-write", errno);
    }

    /// Simulates another process opening the port: at the driver's next read, DTR and RTS
    /// are raised under its feet, as Linux does on every open of a tty.
    pub fn foreign_open(&self) {
        let path = self.dir().join("foreign-open");
        std::fs::write(&path, "").unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// The `outputs` file, e.g. `"0x004 RTS\n"`; empty if no output has changed yet (the
    /// simulated port starts with DTR and RTS raised).
    pub fn outputs(&self) -> String {
        fs::read_to_string(self.dir().join("outputs")).unwrap_or_default()
    }

    /// The whole `log` file; empty if nothing was logged yet.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir().join("log")).unwrap_or_default()
    }

    /// The log, parsed (malformed lines are skipped).
    pub fn log_entries(&self) -> Vec<LogEntry> {
        self.log().lines().filter_map(LogEntry::parse).collect()
    }

    /// Details of the logged calls named `call` (e.g. `"TIOCMSET"` gives `["0x004 RTS", ...]`).
    pub fn calls(&self, call: &str) -> Vec<String> {
        self.log_entries()
            .into_iter()
            .filter(|e| e.call == call)
            .map(|e| e.detail)
            .collect()
    }

    /// Truncates the log.
    pub fn clear_log(&self) {
        let _ = fs::write(self.dir().join("log"), "");
    }

    /// Waits until `predicate(whole log text)` holds, re-reading the log every 10 ms; false if
    /// `timeout` passes first.
    pub fn wait_for_log(&self, predicate: impl Fn(&str) -> bool, timeout: Duration) -> bool {
        poll_until(timeout, Duration::from_millis(10), || {
            predicate(&self.log()).then_some(())
        })
        .is_some()
    }

    /// Environment for a process under test: `LD_PRELOAD` and `MODEMSIM_DIR` (and
    /// `MODEMSIM_FAST_BREAK=1` if set). Every Unix98 pty slave the process opens is simulated.
    pub fn envs(&self) -> Vec<(String, String)> {
        let mut envs = vec![
            ("LD_PRELOAD".to_string(), self.lib.display().to_string()),
            ("MODEMSIM_DIR".to_string(), self.dir().display().to_string()),
        ];
        if self.fast_break {
            envs.push(("MODEMSIM_FAST_BREAK".to_string(), "1".to_string()));
        }
        envs
    }

    /// [`envs`](Self::envs) plus `MODEMSIM_PORT`, so that only `pty`'s slave is simulated (not,
    /// say, a terminal the test happens to run in).
    pub fn envs_for(&self, pty: &Pty) -> Vec<(String, String)> {
        let mut envs = self.envs();
        envs.push((
            "MODEMSIM_PORT".to_string(),
            pty.slave_path().display().to_string(),
        ));
        envs
    }

    fn set_failure(&self, file: &str, errno: Option<&str>) {
        match errno {
            Some(errno) => self.write_atomically(file, errno),
            None => match fs::remove_file(self.dir().join(file)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("cannot remove {file}: {e}"),
            },
        }
    }

    fn write_atomically(&self, file: &str, contents: &str) {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir().join(format!(".{file}.{n}.test-tmp"));
        fs::write(&tmp, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", tmp.display()));
        fs::rename(&tmp, self.dir().join(file))
            .unwrap_or_else(|e| panic!("cannot rename {} to {file}: {e}", tmp.display()));
    }
}

impl Default for ModemSim {
    fn default() -> Self {
        ModemSim::new()
    }
}
