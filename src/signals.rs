//! Signals, turned into flags the poll loop reads.
//!
//! Owns the handlers for TERM/INT/QUIT (exit), HUP/USR1/USR2 (reload requests) and the wake-up
//! pipe. Handlers only store into atomics and write a byte to a socket pair, which is all that
//! is safe in a signal handler; the loop polls the read end, so a signal ends `poll(2)` at once
//! even when it was restarted. No thread is started (so a later fork stays safe).
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

pub struct Signals {
    exit: Arc<AtomicI32>,
    reload: Arc<AtomicBool>,
    wake: UnixStream,
}

impl Signals {
    pub fn install() -> io::Result<Signals> {
        let (wake, notify) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        notify.set_nonblocking(true)?;
        let exit = Arc::new(AtomicI32::new(0));
        let reload = Arc::new(AtomicBool::new(false));
        for sig in [SIGTERM, SIGINT, SIGQUIT] {
            let which = Arc::clone(&exit);
            // SAFETY: the action only stores into an atomic, which is async-signal-safe, and
            // captures nothing else.
            unsafe {
                signal_hook::low_level::register(sig, move || which.store(sig, Ordering::SeqCst))
            }?;
        }
        for sig in [SIGHUP, SIGUSR1, SIGUSR2] {
            signal_hook::flag::register(sig, Arc::clone(&reload))?;
        }
        for sig in [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2] {
            signal_hook::low_level::pipe::register(sig, notify.try_clone()?)?;
        }
        Ok(Signals { exit, reload, wake })
    }

    /// Readable after any handled signal.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// Empties the wake-up pipe so the next `poll` sleeps again.
    pub fn drain(&mut self) {
        let mut buf = [0u8; 64];
        while matches!(self.wake.read(&mut buf), Ok(n) if n > 0) {}
    }

    /// The signal that asked us to exit, if any.
    pub fn exit_signal(&self) -> Option<i32> {
        match self.exit.load(Ordering::SeqCst) {
            0 => None,
            sig => Some(sig),
        }
    }

    /// True once per batch of reload signals.
    pub fn take_reload(&self) -> bool {
        self.reload.swap(false, Ordering::SeqCst)
    }
}
