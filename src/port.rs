//! The port: where modem-control lines are read and driven.
//!
//! Owns the narrow [`ModemPort`] interface the rest of the driver uses, its two
//! implementations, and every ioctl the driver makes (the only `unsafe` in the crate):
//! - [`SerialPort`], a real tty opened as NUT opens it (`O_RDWR|O_NOCTTY|O_NONBLOCK`,
//!   `flock` unless `nolock`), with HUPCL cleared and CLOCAL set so that closing the port
//!   leaves cable power alone and a DCD drop cannot hang the line up. All inputs are read with
//!   one `TIOCMGET` (an atomic snapshot); outputs are changed with `TIOCMBIS`/`TIOCMBIC` so
//!   that only DTR and RTS move.
//! - [`SimPort`] (`port = sim:<file>`): input lines from a text file that a person or a script
//!   edits; output changes are logged. For rehearsing a shutdown chain without pulling a plug.
//!
//! ioctls go through libc's `ioctl` (via nix), never raw syscalls, so the test suite's
//! LD_PRELOAD interposer can simulate modem lines on a pseudo-terminal.

use crate::lines::Lines;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;
use nix::sys::termios::{self, ControlFlags, InputFlags, SetArg};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the driver needs from a port.
pub trait ModemPort {
    /// Reads every modem line at once (one `TIOCMGET`).
    fn read_lines(&mut self) -> io::Result<Lines>;
    /// Raises the output lines in `on` and lowers those in `off`; no other line changes.
    fn drive(&mut self, on: Lines, off: Lines) -> io::Result<()>;
    /// A descriptor that becomes readable when a line may have changed, for ports that can
    /// wake the poll loop (none yet).
    fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

/// The `call` of an [`OpenError::Failed`] when driving cable power right after opening failed.
pub const CABLE_POWER_CALL: &str = "setting cable power";

/// The CP lines up, the other output lines (of DTR and RTS) down.
fn cable_power_change(cp: Lines) -> (Lines, Lines) {
    (
        cp.intersection(Lines::OUTPUTS),
        Lines::OUTPUTS.difference(cp),
    )
}

/// Drives cable power: the CP lines up, the other output lines (of DTR and RTS) down.
pub fn apply_cable_power(port: &mut dyn ModemPort, cp: Lines) -> io::Result<()> {
    let (on, off) = cable_power_change(cp);
    port.drive(on, off)
}

/// Which kind of port `port =` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSpec {
    Serial(PathBuf),
    Sim(PathBuf),
}

impl PortSpec {
    pub fn parse(port: &str) -> PortSpec {
        match port.strip_prefix("sim:") {
            Some(path) => PortSpec::Sim(PathBuf::from(path)),
            None => PortSpec::Serial(PathBuf::from(port)),
        }
    }

    /// Opens the port and drives cable power `cp` at once; `lock` is false for `nolock` and
    /// `-k`.
    pub fn open(&self, lock: bool, cp: Lines) -> Result<Box<dyn ModemPort>, OpenError> {
        match self {
            PortSpec::Serial(path) => Ok(Box::new(SerialPort::open(path, lock, cp)?)),
            PortSpec::Sim(path) => {
                let mut port = SimPort::open(path)?;
                apply_cable_power(&mut port, cp).map_err(|e| OpenError::Failed {
                    path: path.clone(),
                    call: CABLE_POWER_CALL,
                    errno: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                })?;
                Ok(Box::new(port))
            }
        }
    }
}

/// Why a port could not be opened, with what an admin needs to fix it.
#[derive(Debug)]
pub enum OpenError {
    Missing {
        path: PathBuf,
    },
    Permission {
        path: PathBuf,
        user: String,
        uid: u32,
        owner: String,
        group: String,
        mode: u32,
    },
    Locked {
        path: PathBuf,
    },
    Failed {
        path: PathBuf,
        call: &'static str,
        errno: Errno,
    },
}

impl OpenError {
    /// True when the device was opened before the failure, so the attempt already made
    /// Linux raise DTR and RTS: such attempts must not be repeated at every poll.
    pub fn after_open(&self) -> bool {
        match self {
            OpenError::Missing { .. } | OpenError::Permission { .. } => false,
            OpenError::Failed { call, .. } => *call != "open",
            OpenError::Locked { .. } => true,
        }
    }

    /// Errors worth retrying quietly while the driver runs (an adapter being replugged).
    pub fn summary(&self) -> String {
        match self {
            OpenError::Missing { path } => format!("{}: no such device", path.display()),
            OpenError::Permission { path, .. } => format!("{}: permission denied", path.display()),
            OpenError::Locked { path } => {
                format!("{} is locked by another process", path.display())
            }
            OpenError::Failed { path, call, errno } => {
                format!("{}: {call}: {}", path.display(), errno_text(*errno))
            }
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Missing { path } => write!(
                f,
                "Unable to open {}: No such file or directory\n\
                 \n  The port does not exist. Check 'port =' in ups.conf (or -x port=), and\n  \
                 for a USB adapter, that it is plugged in (see 'ls -l /dev/serial/by-id/').",
                path.display()
            ),
            OpenError::Permission {
                path,
                user,
                uid,
                owner,
                group,
                mode,
            } => {
                write!(
                    f,
                    "Unable to open {}: Permission denied\n\
                     \n  The driver runs as user {user} (uid {uid}); the port belongs to \
                     {owner}:{group} with mode {mode:04o}.\n",
                    path.display()
                )?;
                // Group membership only helps when the group may read and write the port.
                if mode & 0o060 == 0o060 {
                    write!(
                        f,
                        "  Add user {user} to group {group}, or start the driver as a user \
                         that may open the port."
                    )
                } else {
                    write!(
                        f,
                        "  Give that user read and write access to the port (for example a udev \
                         rule), or start the driver as a user that may open it."
                    )
                }
            }
            OpenError::Locked { path } => write!(
                f,
                "{} is locked by another process: another driver (or a terminal program) is \
                 using this port. Two programs on one port fight over its lines; stop the \
                 other one first",
                path.display()
            ),
            OpenError::Failed { path, call, errno } => {
                write!(
                    f,
                    "Unable to use {}: {call}: {}",
                    path.display(),
                    errno_text(*errno)
                )
            }
        }
    }
}

/// The C library's text for an OS error, as NUT prints it: `Input/output error`, without
/// io::Error's ` (os error 5)` and unlike nix's `Errno::desc` (`I/O error`, `Not a typewriter`).
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(n) => text
            .strip_suffix(&format!(" (os error {n})"))
            .map_or(text.clone(), str::to_string),
        None => text,
    }
}

fn errno_text(errno: Errno) -> String {
    strerror(&io::Error::from_raw_os_error(errno as i32))
}

fn user_name(uid: nix::unistd::Uid) -> String {
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

fn group_name(gid: nix::unistd::Gid) -> String {
    nix::unistd::Group::from_gid(gid)
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| gid.to_string())
}

fn permission_error(path: &Path) -> OpenError {
    let uid = nix::unistd::geteuid();
    let (owner, group, mode) = match nix::sys::stat::stat(path) {
        Ok(st) => (
            user_name(nix::unistd::Uid::from_raw(st.st_uid)),
            group_name(nix::unistd::Gid::from_raw(st.st_gid)),
            st.st_mode & 0o7777,
        ),
        Err(_) => ("?".into(), "?".into(), 0),
    };
    OpenError::Permission {
        path: path.to_path_buf(),
        user: user_name(uid),
        uid: uid.as_raw(),
        owner,
        group,
        mode,
    }
}

mod raw {
    //! The modem-line ioctls. Each takes a descriptor the caller owns and a plain int.
    use nix::libc::c_int;
    nix::ioctl_read_bad!(tiocmget, nix::libc::TIOCMGET, c_int);
    nix::ioctl_write_ptr_bad!(tiocmbis, nix::libc::TIOCMBIS, c_int);
    nix::ioctl_write_ptr_bad!(tiocmbic, nix::libc::TIOCMBIC, c_int);
    nix::ioctl_write_ptr_bad!(tiocmset, nix::libc::TIOCMSET, c_int);
}

/// The descriptor, locked unless `nolock`: the lock lives exactly as long as the descriptor.
#[derive(Debug)]
enum PortFd {
    Locked(Flock<File>),
    Plain(File),
}

impl AsFd for PortFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            PortFd::Locked(f) => f.as_fd(),
            PortFd::Plain(f) => f.as_fd(),
        }
    }
}

/// A real serial port.
#[derive(Debug)]
pub struct SerialPort {
    fd: PortFd,
}

impl SerialPort {
    /// Opens like NUT's `ser_open`, then drives cable power `cp` before anything else: Linux
    /// raises DTR and RTS on every open, which on many cables is the shutdown signal, so the
    /// time they stay wrong must be as short as possible (even when the lock is then refused
    /// because another instance owns the port: it wants the same lines).
    pub fn open(path: &Path, lock: bool, cp: Lines) -> Result<SerialPort, OpenError> {
        let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let owned: OwnedFd = match nix::fcntl::open(path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) | Err(Errno::ENODEV) | Err(Errno::ENXIO) => {
                return Err(OpenError::Missing {
                    path: path.to_path_buf(),
                });
            }
            Err(Errno::EACCES) | Err(Errno::EPERM) => return Err(permission_error(path)),
            Err(errno) => {
                return Err(OpenError::Failed {
                    path: path.to_path_buf(),
                    call: "open",
                    errno,
                });
            }
        };
        let file = File::from(owned);
        let failed = |call, errno| OpenError::Failed {
            path: path.to_path_buf(),
            call,
            errno,
        };
        // Only a terminal has modem lines: say so plainly (this changes no line).
        let mut tio = termios::tcgetattr(file.as_fd()).map_err(|e| failed("tcgetattr", e))?;
        let (on, off) = cable_power_change(cp);
        drive_fd(file.as_fd(), on, off).map_err(|e| {
            failed(
                CABLE_POWER_CALL,
                Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            )
        })?;
        let fd = if lock {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(locked) => PortFd::Locked(locked),
                Err((_, Errno::EWOULDBLOCK)) => {
                    return Err(OpenError::Locked {
                        path: path.to_path_buf(),
                    });
                }
                Err((_, errno)) => {
                    return Err(OpenError::Failed {
                        path: path.to_path_buf(),
                        call: "flock",
                        errno,
                    });
                }
            }
        } else {
            PortFd::Plain(file)
        };
        // HUPCL off: closing the port must not drop DTR/RTS (cable power, or a shutdown
        // signal that -k must leave asserted). CLOCAL on: a DCD drop is a UPS signal, not a
        // modem hang-up. CRTSCTS off: with hardware flow control the kernel itself lowers RTS
        // when its input buffer fills (nothing here ever reads RX), which on some cables is
        // the shutdown signal. Software flow control off for the same reason: a full buffer
        // then only drops characters.
        tio.control_flags
            .remove(ControlFlags::HUPCL | ControlFlags::CRTSCTS);
        tio.control_flags.insert(ControlFlags::CLOCAL);
        tio.input_flags
            .remove(InputFlags::IXON | InputFlags::IXOFF | InputFlags::IXANY);
        termios::tcsetattr(fd.as_fd(), SetArg::TCSANOW, &tio)
            .map_err(|e| failed("tcsetattr", e))?;
        // Whatever the UPS sent on RX so far is of no use.
        let _ = termios::tcflush(fd.as_fd(), termios::FlushArg::TCIFLUSH);
        Ok(SerialPort { fd })
    }
}

/// The shape nix gives the three write ioctls.
type RawCall =
    unsafe fn(nix::libc::c_int, *const nix::libc::c_int) -> nix::Result<nix::libc::c_int>;

fn to_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// One TIOCMGET: every modem line at once.
fn tiocmget(fd: BorrowedFd<'_>) -> io::Result<Lines> {
    let mut bits: nix::libc::c_int = 0;
    // SAFETY: `fd` is open for the duration of the borrow, and TIOCMGET writes one int
    // through the pointer, which points at a live local.
    unsafe { raw::tiocmget(fd.as_raw_fd(), &mut bits) }.map_err(to_io)?;
    Ok(Lines::from_bits(bits as u32))
}

/// Raises `on` and lowers `off`, changing only the lines that need it, with one ioctl: a
/// lone raise or lower is one TIOCMBIS or TIOCMBIC; when one line must rise and another
/// fall, one TIOCMSET writes both at once (the other output bits as read), so the cable never
/// sees the union or the absence of both, either of which is the shutdown signal of some
/// types.
///
/// When the lines cannot be read it still sets them, with one TIOCMSET (NUT itself never
/// reads before writing, and a port whose reads fail must still get its cable power).
fn drive_fd(fd: BorrowedFd<'_>, on: Lines, off: Lines) -> io::Result<()> {
    let Ok(current) = tiocmget(fd) else {
        // The lines cannot be read: write the whole output word at once, as NUT does (other
        // output bits such as OUT1/OUT2 go low; a UPS cable does not use them).
        let bits = on.bits() as nix::libc::c_int;
        // SAFETY: `fd` is open for the duration of the borrow; TIOCMSET reads one int from a
        // live local.
        unsafe { raw::tiocmset(fd.as_raw_fd(), &bits) }.map_err(to_io)?;
        return Ok(());
    };
    // Lowering is repeated even when the line reads low already: an adapter that did not
    // report its output lines must not be left with one up that should be down. Raising
    // skips lines that read high, so a driver that reports correctly gets a single lower.
    let raise = on.difference(current);
    let lower = off;
    let (call, bits): (RawCall, Lines) = match (raise.is_empty(), lower.is_empty()) {
        (true, true) => return Ok(()),
        (false, true) => (raw::tiocmbis, raise),
        (true, false) => (raw::tiocmbic, lower),
        (false, false) => (
            raw::tiocmset,
            current.difference(Lines::INPUTS).difference(off).union(on),
        ),
    };
    let bits = bits.bits() as nix::libc::c_int;
    // SAFETY: `fd` is open for the duration of the borrow; each of these ioctls reads one int
    // from a live local.
    unsafe { call(fd.as_raw_fd(), &bits) }.map_err(to_io)?;
    Ok(())
}

impl ModemPort for SerialPort {
    fn read_lines(&mut self) -> io::Result<Lines> {
        tiocmget(self.fd.as_fd())
    }

    fn drive(&mut self, on: Lines, off: Lines) -> io::Result<()> {
        drive_fd(self.fd.as_fd(), on, off)
    }
}

/// A port simulated by a text file holding the input lines (`CTS DCD`, `0x60`, empty for
/// none). The file is read on every poll, so editing it changes the UPS status.
#[derive(Debug)]
pub struct SimPort {
    path: PathBuf,
    outputs: Lines,
}

impl SimPort {
    pub fn open(path: &Path) -> Result<SimPort, OpenError> {
        match std::fs::metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(OpenError::Missing {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => {
                return Err(OpenError::Failed {
                    path: path.to_path_buf(),
                    call: "stat",
                    errno: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                });
            }
        }
        log::info!(
            "Simulated port: input lines are read from {} (write e.g. 'CTS DCD' into it)",
            path.display()
        );
        Ok(SimPort {
            path: path.to_path_buf(),
            outputs: Lines::DTR | Lines::RTS,
        })
    }
}

impl ModemPort for SimPort {
    fn read_lines(&mut self) -> io::Result<Lines> {
        let text = std::fs::read_to_string(&self.path)?;
        let inputs = Lines::parse_list(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", self.path.display()),
            )
        })?;
        Ok(inputs.intersection(Lines::INPUTS).union(self.outputs))
    }

    fn drive(&mut self, on: Lines, off: Lines) -> io::Result<()> {
        let next = self.outputs.union(on).difference(off);
        if next != self.outputs {
            log::info!(
                "Simulated port {}: output lines now {} (were {})",
                self.path.display(),
                next.intersection(Lines::OUTPUTS),
                self.outputs.intersection(Lines::OUTPUTS)
            );
        }
        self.outputs = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder {
        calls: Vec<(Lines, Lines)>,
    }
    impl ModemPort for Recorder {
        fn read_lines(&mut self) -> io::Result<Lines> {
            Ok(Lines::NONE)
        }
        fn drive(&mut self, on: Lines, off: Lines) -> io::Result<()> {
            self.calls.push((on, off));
            Ok(())
        }
    }

    #[test]
    fn cable_power_moves_only_dtr_and_rts() {
        let cases = [
            (Lines::DTR, (Lines::DTR, Lines::RTS)),
            (Lines::RTS, (Lines::RTS, Lines::DTR)),
            (
                Lines::DTR | Lines::RTS,
                (Lines::DTR | Lines::RTS, Lines::NONE),
            ),
            (Lines::NONE, (Lines::NONE, Lines::DTR | Lines::RTS)),
        ];
        for (cp, want) in cases {
            let mut r = Recorder::default();
            apply_cable_power(&mut r, cp).expect("recorder never fails");
            assert_eq!(r.calls, vec![want], "cp {cp}");
        }
    }

    #[test]
    fn port_spec() {
        assert_eq!(
            PortSpec::parse("/dev/ttyUSB0"),
            PortSpec::Serial("/dev/ttyUSB0".into())
        );
        assert_eq!(
            PortSpec::parse("sim:/tmp/l"),
            PortSpec::Sim("/tmp/l".into())
        );
    }

    #[test]
    fn sim_port_reads_the_file_each_time() {
        let dir = std::env::temp_dir().join(format!("gu-sim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("lines");
        std::fs::write(&file, "CTS\n").expect("write");
        let mut p = SimPort::open(&file).expect("opens");
        apply_cable_power(&mut p, Lines::RTS).expect("drive");
        assert_eq!(p.read_lines().expect("read"), Lines::CTS | Lines::RTS);
        std::fs::write(&file, "DCD DSR").expect("write");
        assert_eq!(
            p.read_lines().expect("read"),
            Lines::DCD | Lines::DSR | Lines::RTS
        );
        std::fs::write(&file, "BOGUS").expect("write");
        assert_eq!(
            p.read_lines().expect_err("bad").kind(),
            io::ErrorKind::InvalidData
        );
        std::fs::remove_file(&file).expect("rm");
        assert_eq!(
            p.read_lines().expect_err("gone").kind(),
            io::ErrorKind::NotFound
        );
        assert!(matches!(
            SimPort::open(&file),
            Err(OpenError::Missing { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn opening_a_missing_device_says_so() {
        let err = SerialPort::open(
            Path::new("/dev/genericups-test-no-such-port"),
            true,
            Lines::DTR,
        )
        .expect_err("no such device");
        assert!(matches!(err, OpenError::Missing { .. }), "{err:?}");
        assert!(err.to_string().starts_with(
            "Unable to open /dev/genericups-test-no-such-port: No such file or directory"
        ));
    }
}
