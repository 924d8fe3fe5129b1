//! `modemsim`: an `LD_PRELOAD` interposer that simulates serial modem-control lines on
//! pseudo-terminal slaves.
//!
//! A pty answers `ENOTTY` to `TIOCMGET` and friends, so a contact-closure UPS driver cannot be
//! tested against one directly. Preloading this library replaces the libc symbols `ioctl` and
//! `tcsendbreak` (and `open`/`open64`, to raise DTR and RTS on every open of a simulated port,
//! as Linux does; logged as `OPEN`): calls on a simulated file descriptor (a Unix98 pty slave, or only the device
//! named by `MODEMSIM_PORT`) are answered from files in the control directory `MODEMSIM_DIR`;
//! everything else goes to the real libc functions found with `dlsym(RTLD_NEXT, ...)`.
//!
//! See `README.md` next to `Cargo.toml` for the file interface. In short, inside `MODEMSIM_DIR`:
//!
//! * `lines` (read by the shim): input lines, e.g. `CTS DCD` or `0x160`;
//! * `fail-read` / `fail-write` (read by the shim): while present, reads / writes fail with the
//!   errno named inside (default `EIO`);
//! * `foreign-open` (read and removed by the shim): simulates another process opening the port,
//!   which makes Linux raise DTR and RTS under the program's feet; applied (and logged as
//!   `FOREIGN-OPEN`) at the next read;
//! * `outputs` (written by the shim): current output word, e.g. `0x006 DTR RTS`;
//! * `log` (appended by the shim): one line per simulated call.
//!
//! Stable Rust cannot define a C-variadic function, so `ioctl` is defined with a fixed third
//! argument `*mut c_void`. On the x86_64 and aarch64 Linux ABIs a variadic caller passing one
//! pointer- or integer-sized argument is compatible with that definition.
//!
//! Nothing in here may unwind into C: every entry point runs its work under `catch_unwind` and
//! turns a panic into `-1`/`EIO`, and the code avoids panicking operations anyway.

use std::cell::Cell;
use std::ffi::{CStr, OsString};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libc::{c_int, c_ulong, c_void};

// Modem-control bits (Linux `TIOCM_*`; identical on x86_64 and aarch64).
const TIOCM_LE: u32 = 0x001;
const TIOCM_DTR: u32 = 0x002;
const TIOCM_RTS: u32 = 0x004;
const TIOCM_ST: u32 = 0x008;
const TIOCM_SR: u32 = 0x010;
const TIOCM_CTS: u32 = 0x020;
const TIOCM_CD: u32 = 0x040;
const TIOCM_RNG: u32 = 0x080;
const TIOCM_DSR: u32 = 0x100;

/// The input lines that `TIOCMIWAIT` and `TIOCGICOUNT` know about.
const INPUT_LINES: u32 = TIOCM_CTS | TIOCM_CD | TIOCM_RNG | TIOCM_DSR;
/// The output bits the simulated port keeps (Linux keeps DTR/RTS; ST is kept for NUT's sake).
const OUTPUT_LINES: u32 = TIOCM_DTR | TIOCM_RTS | TIOCM_ST;

/// Names in bit order, used for the `outputs` file and the log.
const LINE_NAMES: [(u32, &str); 9] = [
    (TIOCM_LE, "LE"),
    (TIOCM_DTR, "DTR"),
    (TIOCM_RTS, "RTS"),
    (TIOCM_ST, "ST"),
    (TIOCM_SR, "SR"),
    (TIOCM_CTS, "CTS"),
    (TIOCM_CD, "DCD"),
    (TIOCM_RNG, "RNG"),
    (TIOCM_DSR, "DSR"),
];

/// Unix98 pty slaves live on character majors 136..=143.
const PTY_SLAVE_MAJORS: std::ops::RangeInclusive<u32> = 136..=143;

/// Default break length for `TCSBRK 0`, `TCSBRKP 0` and `tcsendbreak(fd, 0)`.
const DEFAULT_BREAK: Duration = Duration::from_millis(250);

/// How often `TIOCMIWAIT` re-reads the control files.
const IWAIT_POLL: Duration = Duration::from_millis(5);

/// `struct serial_icounter_struct` from `<linux/serial.h>`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct SerialIcounter {
    cts: c_int,
    dsr: c_int,
    rng: c_int,
    dcd: c_int,
    rx: c_int,
    tx: c_int,
    frame: c_int,
    overrun: c_int,
    parity: c_int,
    brk: c_int,
    buf_overrun: c_int,
    reserved: [c_int; 9],
}

/// Per-process simulated port state (shared by all simulated fds of the process).
struct State {
    /// Output word; Linux raises DTR and RTS when a tty is opened.
    outputs: u32,
    /// The input word seen by the previous read of `lines`, for the transition counters.
    last_inputs: Option<u32>,
    /// Transition counters reported by `TIOCGICOUNT`.
    icount: SerialIcounter,
}

static STATE: Mutex<State> = Mutex::new(State {
    outputs: TIOCM_DTR | TIOCM_RTS,
    last_inputs: None,
    icount: SerialIcounter {
        cts: 0,
        dsr: 0,
        rng: 0,
        dcd: 0,
        rx: 0,
        tx: 0,
        frame: 0,
        overrun: 0,
        parity: 0,
        brk: 0,
        buf_overrun: 0,
        reserved: [0; 9],
    },
});

fn state() -> MutexGuard<'static, State> {
    // A poisoned lock only means an earlier call panicked (and was caught); the data is plain
    // integers and still usable.
    STATE.lock().unwrap_or_else(|poison| poison.into_inner())
}

thread_local! {
    /// Set while this thread is inside the simulation, so that an `ioctl` made by the shim itself
    /// (or by std on its behalf) goes straight to libc instead of recursing.
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread busy for its lifetime; `None` if it already was.
struct BusyGuard;

impl BusyGuard {
    fn enter() -> Option<BusyGuard> {
        // `try_with` fails only during thread-local destruction; treat that as "busy" so the
        // call is passed through.
        let was_busy = BUSY.try_with(|b| b.replace(true)).unwrap_or(true);
        if was_busy { None } else { Some(BusyGuard) }
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let _ = BUSY.try_with(|b| b.set(false));
    }
}

// ---------------------------------------------------------------------------------------------
// The real libc functions.

type RealIoctl = unsafe extern "C" fn(c_int, c_ulong, ...) -> c_int;
type RealOpen = unsafe extern "C" fn(*const libc::c_char, c_int, ...) -> c_int;
type RealTcsendbreak = unsafe extern "C" fn(c_int, c_int) -> c_int;

static REAL_IOCTL: AtomicUsize = AtomicUsize::new(0);
static REAL_TCSENDBREAK: AtomicUsize = AtomicUsize::new(0);
static REAL_OPEN: AtomicUsize = AtomicUsize::new(0);
static REAL_OPEN64: AtomicUsize = AtomicUsize::new(0);

/// Looks `name` up with `dlsym(RTLD_NEXT, ...)`, caching the address in `slot`.
fn next_symbol(slot: &AtomicUsize, name: &CStr) -> usize {
    let cached = slot.load(Ordering::Acquire);
    if cached != 0 {
        return cached;
    }
    // SAFETY: `name` is a NUL-terminated string; RTLD_NEXT is a valid pseudo-handle.
    let addr = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
    slot.store(addr, Ordering::Release);
    addr
}

/// Calls the real `ioctl`.
///
/// # Safety
/// Same contract as `ioctl(2)`: `arg` must be what `request` expects.
unsafe fn real_ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    let addr = next_symbol(&REAL_IOCTL, c"ioctl");
    if addr == 0 {
        set_errno(libc::ENOSYS);
        return -1;
    }
    // SAFETY: `addr` is the address of libc's `ioctl`, whose C type is
    // `int ioctl(int, unsigned long, ...)`.
    let f: RealIoctl = unsafe { std::mem::transmute::<usize, RealIoctl>(addr) };
    // SAFETY: forwarded unchanged from our caller, who upholds ioctl's contract.
    unsafe { f(fd, request, arg) }
}

/// Calls the real `tcsendbreak`.
fn real_tcsendbreak(fd: c_int, duration: c_int) -> c_int {
    let addr = next_symbol(&REAL_TCSENDBREAK, c"tcsendbreak");
    if addr == 0 {
        set_errno(libc::ENOSYS);
        return -1;
    }
    // SAFETY: `addr` is the address of libc's `int tcsendbreak(int, int)`.
    let f: RealTcsendbreak = unsafe { std::mem::transmute::<usize, RealTcsendbreak>(addr) };
    // SAFETY: tcsendbreak takes two plain integers; any values are memory-safe.
    unsafe { f(fd, duration) }
}

/// Calls the real `open` or `open64` (whichever `slot`/`name` names).
///
/// # Safety
/// Same contract as `open(2)`: `path` is a NUL-terminated string.
unsafe fn real_open(
    slot: &AtomicUsize,
    name: &CStr,
    path: *const libc::c_char,
    flags: c_int,
    mode: libc::c_uint,
) -> c_int {
    let addr = next_symbol(slot, name);
    if addr == 0 {
        set_errno(libc::ENOSYS);
        return -1;
    }
    // SAFETY: `addr` is the address of libc's `int open(const char *, int, ...)`.
    let f: RealOpen = unsafe { std::mem::transmute::<usize, RealOpen>(addr) };
    // SAFETY: forwarded unchanged from our caller, who upholds open's contract; `mode` is
    // only read by libc when `flags` asks for it.
    unsafe { f(path, flags, mode) }
}

/// After a successful open: Linux raises DTR and RTS whenever a tty is opened, so do the same
/// for a simulated port (logged as `OPEN`).
fn after_open(fd: c_int) {
    let saved_errno = errno();
    let Some(_busy) = BusyGuard::enter() else {
        return;
    };
    let _ = std::panic::catch_unwind(|| {
        if let Some(sim) = Sim::for_fd(fd) {
            sim.raise_on_open();
        }
    });
    set_errno(saved_errno);
}

fn set_errno(e: c_int) {
    // SAFETY: `__errno_location` returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() = e };
}

fn errno() -> c_int {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() }
}

// ---------------------------------------------------------------------------------------------
// Exported symbols.

/// Interposed `ioctl(2)`.
///
/// # Safety
/// Same contract as libc's `ioctl`: `arg` must be valid for `request`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    let saved_errno = errno();
    let Some(busy) = BusyGuard::enter() else {
        // SAFETY: pass-through with the caller's arguments.
        return unsafe { real_ioctl(fd, request, arg) };
    };
    let outcome = std::panic::catch_unwind(|| {
        let sim = Sim::for_fd(fd)?;
        // SAFETY: the caller guarantees `arg` matches `request`, which is all `Sim::ioctl`
        // relies on; it only dereferences `arg` for requests whose argument is a pointer.
        unsafe { sim.ioctl(request, arg) }
    });
    match outcome {
        Ok(Some(Ok(ret))) => {
            set_errno(saved_errno);
            ret
        }
        Ok(Some(Err(e))) => {
            set_errno(e);
            -1
        }
        Ok(None) => {
            drop(busy);
            set_errno(saved_errno);
            // SAFETY: pass-through with the caller's arguments.
            unsafe { real_ioctl(fd, request, arg) }
        }
        Err(_) => {
            set_errno(libc::EIO);
            -1
        }
    }
}

/// Opens through the real function in `slot`/`name`, then applies [`after_open`].
///
/// # Safety
/// Same contract as `open(2)`.
unsafe fn open_and_raise(
    slot: &AtomicUsize,
    name: &CStr,
    path: *const libc::c_char,
    flags: c_int,
    mode: libc::c_uint,
) -> c_int {
    // SAFETY: forwarded unchanged from our caller.
    let fd = unsafe { real_open(slot, name, path, flags, mode) };
    if fd >= 0 {
        after_open(fd);
    }
    fd
}

/// Interposed `open(2)`: see [`after_open`].
///
/// # Safety
/// Same contract as libc's `open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open(
    path: *const libc::c_char,
    flags: c_int,
    mode: libc::c_uint,
) -> c_int {
    // SAFETY: forwarded unchanged.
    unsafe { open_and_raise(&REAL_OPEN, c"open", path, flags, mode) }
}

/// Interposed `open64(2)` (the same call under its large-file name).
///
/// # Safety
/// Same contract as libc's `open64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open64(
    path: *const libc::c_char,
    flags: c_int,
    mode: libc::c_uint,
) -> c_int {
    // SAFETY: forwarded unchanged.
    unsafe { open_and_raise(&REAL_OPEN64, c"open64", path, flags, mode) }
}

/// Interposed `tcsendbreak(3)`.
///
/// glibc's own `tcsendbreak` calls `ioctl` internally without going through the PLT, so the
/// interposed `ioctl` never sees it; this definition catches it by name.
#[unsafe(no_mangle)]
pub extern "C" fn tcsendbreak(fd: c_int, duration: c_int) -> c_int {
    let saved_errno = errno();
    let Some(busy) = BusyGuard::enter() else {
        return real_tcsendbreak(fd, duration);
    };
    let outcome = std::panic::catch_unwind(|| {
        let sim = Sim::for_fd(fd)?;
        Some(sim.tcsendbreak(duration))
    });
    match outcome {
        Ok(Some(Ok(ret))) => {
            set_errno(saved_errno);
            ret
        }
        Ok(Some(Err(e))) => {
            set_errno(e);
            -1
        }
        Ok(None) => {
            drop(busy);
            set_errno(saved_errno);
            real_tcsendbreak(fd, duration)
        }
        Err(_) => {
            set_errno(libc::EIO);
            -1
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Simulation.

/// A simulated call on one fd, with the control directory resolved.
struct Sim {
    dir: PathBuf,
}

type SimResult = Result<c_int, c_int>;

impl Sim {
    /// Returns `Some` when `fd` is simulated and `MODEMSIM_DIR` is set.
    fn for_fd(fd: c_int) -> Option<Sim> {
        let dir = std::env::var_os("MODEMSIM_DIR").filter(|d| !d.is_empty())?;
        let rdev = char_rdev_of_fd(fd)?;
        match std::env::var_os("MODEMSIM_PORT").filter(|p| !p.is_empty()) {
            Some(port) => {
                if char_rdev_of_path(&port)? != rdev {
                    return None;
                }
            }
            None => {
                if !PTY_SLAVE_MAJORS.contains(&libc::major(rdev)) {
                    return None;
                }
            }
        }
        Some(Sim {
            dir: PathBuf::from(dir),
        })
    }

    /// # Safety
    /// `arg` must be valid for `request` as `ioctl(2)` documents it.
    unsafe fn ioctl(&self, request: c_ulong, arg: *mut c_void) -> Option<SimResult> {
        // The kernel looks at the low 32 bits only.
        let req = request as u32 as c_ulong;
        let result = match req {
            libc::TIOCMGET => {
                let out = arg.cast::<c_int>();
                self.read_op("TIOCMGET", || {
                    if out.is_null() {
                        return Err(libc::EFAULT);
                    }
                    let word = self.read_inputs() | state().outputs;
                    self.log("TIOCMGET", &format!("{:#05x} {}", word, names(word)));
                    // SAFETY: non-null, and the caller passes an `int *` for TIOCMGET.
                    unsafe { out.write_unaligned(word as c_int) };
                    Ok(0)
                })
            }
            libc::TIOCMSET | libc::TIOCMBIS | libc::TIOCMBIC => {
                let name = match req {
                    libc::TIOCMSET => "TIOCMSET",
                    libc::TIOCMBIS => "TIOCMBIS",
                    _ => "TIOCMBIC",
                };
                let inp = arg.cast::<c_int>().cast_const();
                self.write_op(name, || {
                    if inp.is_null() {
                        return Err(libc::EFAULT);
                    }
                    // SAFETY: non-null, and the caller passes an `int *` for these requests.
                    let value = unsafe { inp.read_unaligned() } as u32;
                    self.set_outputs(req, name, value);
                    Ok(0)
                })
            }
            libc::TIOCSBRK => self.write_op("TIOCSBRK", || {
                self.log("TIOCSBRK", "");
                Ok(0)
            }),
            libc::TIOCCBRK => self.write_op("TIOCCBRK", || {
                self.log("TIOCCBRK", "");
                Ok(0)
            }),
            libc::TCSBRK => {
                // TCSBRK with a non-zero argument is tcdrain(): no break, let the pty do it.
                if arg as usize as c_int != 0 {
                    return None;
                }
                self.write_op("TCSBRK", || self.send_break("TCSBRK", "0", DEFAULT_BREAK))
            }
            libc::TCSBRKP => {
                let tenths = arg as usize as c_int;
                let length = if tenths <= 0 {
                    DEFAULT_BREAK
                } else {
                    Duration::from_millis(100 * u64::from(tenths.unsigned_abs()))
                };
                self.write_op("TCSBRKP", || {
                    self.send_break("TCSBRKP", &tenths.to_string(), length)
                })
            }
            libc::TIOCMIWAIT => {
                let mask = arg as usize as u32;
                self.read_op("TIOCMIWAIT", || self.wait_for_change(mask))
            }
            libc::TIOCGICOUNT => {
                let out = arg.cast::<SerialIcounter>();
                self.read_op("TIOCGICOUNT", || {
                    if out.is_null() {
                        return Err(libc::EFAULT);
                    }
                    self.read_inputs();
                    let counts = state().icount;
                    self.log(
                        "TIOCGICOUNT",
                        &format!(
                            "cts={} dsr={} rng={} dcd={}",
                            counts.cts, counts.dsr, counts.rng, counts.dcd
                        ),
                    );
                    // SAFETY: non-null, and the caller passes a
                    // `struct serial_icounter_struct *` for TIOCGICOUNT.
                    unsafe { out.write_unaligned(counts) };
                    Ok(0)
                })
            }
            _ => return None,
        };
        Some(result)
    }

    fn tcsendbreak(&self, duration: c_int) -> SimResult {
        // Same arithmetic as glibc: <= 0 is the default break, otherwise milliseconds rounded up
        // to TCSBRKP's tenths of a second.
        let length = if duration <= 0 {
            DEFAULT_BREAK
        } else {
            let tenths = (i64::from(duration) + 99) / 100;
            Duration::from_millis(100 * tenths.unsigned_abs())
        };
        self.write_op("tcsendbreak", || {
            self.send_break("tcsendbreak", &duration.to_string(), length)
        })
    }

    /// Runs a read-side request unless `fail-read` exists.
    fn read_op(&self, call: &str, f: impl FnOnce() -> SimResult) -> SimResult {
        if let Some(e) = self.injected_failure("fail-read") {
            self.log(call, &format!("error {}", errno_name(e)));
            return Err(e);
        }
        f()
    }

    /// Runs a write-side request unless `fail-write` exists.
    fn write_op(&self, call: &str, f: impl FnOnce() -> SimResult) -> SimResult {
        if let Some(e) = self.injected_failure("fail-write") {
            self.log(call, &format!("error {}", errno_name(e)));
            return Err(e);
        }
        f()
    }

    /// The errno named in `file`, if that file exists.
    fn injected_failure(&self, file: &str) -> Option<c_int> {
        match fs::read(self.dir.join(file)) {
            Ok(text) => Some(parse_errno(&String::from_utf8_lossy(&text))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            // Exists but unreadable (a directory, permissions): still a failure request.
            Err(_) => Some(libc::EIO),
        }
    }

    /// Reads `lines` and updates the transition counters.
    fn read_inputs(&self) -> u32 {
        let foreign = self.dir.join("foreign-open");
        if fs::remove_file(&foreign).is_ok() {
            let word = {
                let mut st = state();
                st.outputs |= TIOCM_DTR | TIOCM_RTS;
                st.outputs
            };
            self.log("FOREIGN-OPEN", &format!("{:#05x} {}", word, names(word)));
            self.write_outputs(word);
        }
        let word = match fs::read(self.dir.join("lines")) {
            Ok(text) => parse_lines(&String::from_utf8_lossy(&text)),
            Err(_) => 0,
        };
        let mut st = state();
        if let Some(prev) = st.last_inputs {
            let changed = prev ^ word;
            let c = &mut st.icount;
            if changed & TIOCM_CTS != 0 {
                c.cts = c.cts.wrapping_add(1);
            }
            if changed & TIOCM_DSR != 0 {
                c.dsr = c.dsr.wrapping_add(1);
            }
            if changed & TIOCM_CD != 0 {
                c.dcd = c.dcd.wrapping_add(1);
            }
            // Linux serial drivers count only the trailing (high-to-low) edge of RI.
            if prev & TIOCM_RNG != 0 && word & TIOCM_RNG == 0 {
                c.rng = c.rng.wrapping_add(1);
            }
        }
        st.last_inputs = Some(word);
        word
    }

    fn set_outputs(&self, req: c_ulong, name: &str, value: u32) {
        let changed = {
            let mut st = state();
            let before = st.outputs;
            st.outputs = match req {
                libc::TIOCMSET => value & OUTPUT_LINES,
                libc::TIOCMBIS => before | (value & OUTPUT_LINES),
                _ => before & !(value & OUTPUT_LINES),
            };
            (st.outputs != before).then_some(st.outputs)
        };
        self.log(name, &format!("{:#05x} {}", value, names(value)));
        if let Some(word) = changed {
            self.write_outputs(word);
        }
    }

    /// What the kernel does on every open of a tty.
    fn raise_on_open(&self) {
        let word = {
            let mut st = state();
            st.outputs |= TIOCM_DTR | TIOCM_RTS;
            st.outputs
        };
        self.log("OPEN", &format!("{:#05x} {}", word, names(word)));
        self.write_outputs(word);
    }

    /// Replaces `outputs` atomically (temporary file + rename).
    fn write_outputs(&self, word: u32) {
        let tmp = self
            .dir
            .join(format!(".outputs.{}.tmp", std::process::id()));
        let text = format!("{:#05x} {}\n", word, names(word));
        if fs::write(&tmp, text).is_ok() && fs::rename(&tmp, self.dir.join("outputs")).is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }

    /// Simulates a break of `length`: logs, sleeps (unless `MODEMSIM_FAST_BREAK=1`), logs the
    /// end. A signal ends the break early with `EINTR`, like the kernel's `send_break`.
    fn send_break(&self, call: &str, detail: &str, length: Duration) -> SimResult {
        self.log(call, detail);
        let fast = std::env::var_os("MODEMSIM_FAST_BREAK").is_some_and(|v| v == "1");
        let interrupted = !fast && !sleep_interruptible(length);
        if interrupted {
            self.log(
                "BREAK-END",
                &format!("{}ms interrupted", length.as_millis()),
            );
            Err(libc::EINTR)
        } else {
            self.log("BREAK-END", &format!("{}ms", length.as_millis()));
            Ok(0)
        }
    }

    /// `TIOCMIWAIT`: waits until a masked input line differs from its value at the start.
    fn wait_for_change(&self, mask: u32) -> SimResult {
        let mask = mask & INPUT_LINES;
        self.log("TIOCMIWAIT", &format!("{mask:#05x}"));
        let start = self.read_inputs() & mask;
        loop {
            if !sleep_interruptible(IWAIT_POLL) {
                self.log("TIOCMIWAIT", "error EINTR");
                return Err(libc::EINTR);
            }
            if let Some(e) = self.injected_failure("fail-read") {
                self.log("TIOCMIWAIT", &format!("error {}", errno_name(e)));
                return Err(e);
            }
            let now = self.read_inputs() & mask;
            if now != start {
                return Ok(0);
            }
        }
    }

    /// Appends one line to `log` with a single `write(2)`.
    fn log(&self, call: &str, detail: &str) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let sep = if detail.is_empty() { "" } else { " " };
        let line = format!(
            "{}.{:06} {} {}{}{}\n",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            call,
            sep,
            detail
        );
        let file = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(self.dir.join("log"));
        if let Ok(mut file) = file {
            let _ = file.write(line.as_bytes());
        }
    }
}

/// Sleeps for `length`; returns false if a signal handler interrupted the sleep.
fn sleep_interruptible(length: Duration) -> bool {
    let deadline = Instant::now() + length;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        let ts = libc::timespec {
            tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: libc::c_long::from(left.subsec_nanos()),
        };
        // SAFETY: `ts` is a valid timespec; the remainder pointer may be null.
        let r = unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
        if r != 0 && errno() == libc::EINTR {
            return false;
        }
    }
}

/// `st_rdev` of an open fd if it is a character device.
fn char_rdev_of_fd(fd: c_int) -> Option<libc::dev_t> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is valid for writes of a `struct stat`.
    let r = unsafe { libc::fstat(fd, st.as_mut_ptr()) };
    if r != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    (st.st_mode & libc::S_IFMT == libc::S_IFCHR).then_some(st.st_rdev)
}

/// `st_rdev` of the device at `path` if it is a character device.
fn char_rdev_of_path(path: &OsString) -> Option<libc::dev_t> {
    let mut bytes = path.clone().into_vec();
    if bytes.contains(&0) {
        return None;
    }
    bytes.push(0);
    let c_path = CStr::from_bytes_with_nul(&bytes).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `c_path` is NUL-terminated; `st` is valid for writes of a `struct stat`.
    let r = unsafe { libc::stat(c_path.as_ptr(), st.as_mut_ptr()) };
    if r != 0 {
        return None;
    }
    // SAFETY: stat succeeded, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    (st.st_mode & libc::S_IFMT == libc::S_IFCHR).then_some(st.st_rdev)
}

/// Parses the `lines` file: names (CTS DCD CD RNG RI DSR, any case) or numbers, separated by
/// blanks, `+` or `,`. Unknown words are ignored.
fn parse_lines(text: &str) -> u32 {
    text.split(|c: char| c.is_whitespace() || c == '+' || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| match w.to_ascii_uppercase().as_str() {
            "CTS" => TIOCM_CTS,
            "DCD" | "CD" => TIOCM_CD,
            "RNG" | "RI" => TIOCM_RNG,
            "DSR" => TIOCM_DSR,
            _ => parse_number(w).unwrap_or(0),
        })
        .fold(0, |acc, bit| acc | bit)
}

fn parse_number(word: &str) -> Option<u32> {
    match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => word.parse().ok(),
    }
}

const ERRNO_NAMES: [(c_int, &str); 10] = [
    (libc::EPERM, "EPERM"),
    (libc::EINTR, "EINTR"),
    (libc::EIO, "EIO"),
    (libc::ENXIO, "ENXIO"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::EBUSY, "EBUSY"),
    (libc::ENODEV, "ENODEV"),
    (libc::EINVAL, "EINVAL"),
    (libc::ENOTTY, "ENOTTY"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
];

/// Parses the contents of a `fail-*` file: empty means `EIO`; otherwise an errno name or number.
fn parse_errno(text: &str) -> c_int {
    let word = text.split_whitespace().next().unwrap_or("");
    if word.is_empty() {
        return libc::EIO;
    }
    let upper = word.to_ascii_uppercase();
    if let Some((e, _)) = ERRNO_NAMES.iter().find(|(_, n)| *n == upper) {
        return *e;
    }
    match parse_number(word).and_then(|n| c_int::try_from(n).ok()) {
        Some(n) if n > 0 => n,
        _ => libc::EIO,
    }
}

fn errno_name(e: c_int) -> String {
    match ERRNO_NAMES.iter().find(|(n, _)| *n == e) {
        Some((_, name)) => (*name).to_string(),
        None => e.to_string(),
    }
}

/// `DTR RTS` style names of the known bits in `word`, or `none`.
fn names(word: u32) -> String {
    let list: Vec<&str> = LINE_NAMES
        .iter()
        .filter(|(bit, _)| word & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_names_numbers_and_separators() {
        assert_eq!(parse_lines(""), 0);
        assert_eq!(parse_lines("cts"), TIOCM_CTS);
        assert_eq!(parse_lines("CTS+DCD"), TIOCM_CTS | TIOCM_CD);
        assert_eq!(parse_lines("ri, cd\nDSR"), TIOCM_RNG | TIOCM_CD | TIOCM_DSR);
        assert_eq!(parse_lines("0x160"), 0x160);
        assert_eq!(parse_lines("32"), TIOCM_CTS);
        assert_eq!(parse_lines("bogus CTS"), TIOCM_CTS);
    }

    #[test]
    fn parses_errno_names_and_numbers() {
        assert_eq!(parse_errno(""), libc::EIO);
        assert_eq!(parse_errno("\n"), libc::EIO);
        assert_eq!(parse_errno("ENXIO\n"), libc::ENXIO);
        assert_eq!(parse_errno("enodev"), libc::ENODEV);
        assert_eq!(parse_errno("ENOTTY"), libc::ENOTTY);
        assert_eq!(parse_errno("19"), libc::ENODEV);
        assert_eq!(parse_errno("nonsense"), libc::EIO);
        assert_eq!(errno_name(libc::EIO), "EIO");
        assert_eq!(errno_name(77), "77");
    }

    #[test]
    fn names_in_bit_order() {
        assert_eq!(names(0), "none");
        assert_eq!(names(0x006), "DTR RTS");
        assert_eq!(names(0x062), "DTR CTS DCD");
        assert_eq!(format!("{:#05x}", 0x6), "0x006");
        assert_eq!(format!("{:#05x}", 0x1e0), "0x1e0");
    }
}
