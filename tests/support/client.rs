//! A raw client of the driver's Unix socket: connects with retries and a deadline, sends
//! command lines, and reads reply lines with deadlines.
//!
//! Every line read is also kept in a transcript, so that a failure can show what the
//! connection carried.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};

use super::Proc;

/// Default bound for one expected reply (generous: the test machine is small and noisy).
pub const REPLY: Duration = Duration::from_secs(10);

/// What the connection yields next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Line(String),
    Eof,
    Timeout,
}

/// A raw protocol client: sends lines, reads lines with deadlines.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    buf: Vec<u8>,
    /// Every line read so far, for failure messages.
    seen: Vec<String>,
    /// Bound for [`line`](Self::line), [`dump`](Self::dump) and the `wait_*` methods.
    reply: Duration,
}

/// One non-blocking connect attempt (a blocking one would hang on a full backlog of a driver
/// that stopped accepting); the connected stream is made blocking again.
pub fn try_connect(path: &Path) -> io::Result<UnixStream> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let addr = UnixAddr::new(path)?;
    connect(fd.as_raw_fd(), &addr)?;
    let stream = UnixStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// One connection to `socket` that sends `PING` and reads until `PONG` (the driver may
/// broadcast updates before the answer; at most 100 lines), each read bounded by `timeout`.
/// `Err` says what went wrong instead, for a caller that retries.
pub fn ping(socket: &Path, timeout: Duration) -> Result<(), String> {
    let mut client = Client::new(try_connect(socket).map_err(|e| e.to_string())?);
    client.send_raw(b"PING\n").map_err(|e| e.to_string())?;
    let mut last = Next::Timeout;
    for _ in 0..100 {
        last = client.next(timeout);
        match &last {
            Next::Line(l) if l == "PONG" => return Ok(()),
            Next::Line(_) => continue,
            Next::Eof => return Err("connection closed before PONG".into()),
            Next::Timeout => return Err(format!("no PONG within {timeout:?}")),
        }
    }
    Err(format!("no PONG; last line {last:?}"))
}

impl Client {
    /// Wraps a connected stream (writes time out after 30 s).
    pub fn new(stream: UnixStream) -> Client {
        stream
            .set_write_timeout(Some(Duration::from_secs(30)))
            .expect("set_write_timeout");
        Client {
            stream,
            buf: Vec::new(),
            seen: Vec::new(),
            reply: REPLY,
        }
    }

    /// Connects to `path`, retrying every 10 ms while the socket is missing, refuses, or its
    /// backlog is full, for at most `timeout`. Panics (showing `server`'s stderr) when
    /// `server` exits first, on the deadline, or on any other error.
    #[track_caller]
    pub fn connect(path: &Path, timeout: Duration, server: &mut Proc) -> Client {
        let deadline = Instant::now() + timeout;
        loop {
            match try_connect(path) {
                Ok(stream) => return Client::new(stream),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound
                            | io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::WouldBlock
                    ) || e.raw_os_error() == Some(Errno::EINPROGRESS as i32) =>
                {
                    server.assert_running("before its socket accepted a connection");
                    assert!(
                        Instant::now() < deadline,
                        "no connection to {} within {timeout:?} (last error: {e})\n--- stderr:\n{}",
                        path.display(),
                        server.stderr()
                    );
                    thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("connect to {}: {e}", path.display()),
            }
        }
    }

    /// Sets the bound for one expected reply (default [`REPLY`]).
    pub fn reply_timeout(mut self, reply: Duration) -> Client {
        self.reply = reply;
        self
    }

    /// Sends one command line (the newline is added).
    #[track_caller]
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes())
            .unwrap_or_else(|e| panic!("send {line:?}: {e}"));
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Shuts down one or both directions of the connection.
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.stream.shutdown(how)
    }

    /// The next line, or EOF, or nothing within `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Next {
        let deadline = Instant::now() + timeout;
        let mut chunk = [0u8; 65536];
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line[..pos]).into_owned();
                self.seen.push(line.clone());
                return Next::Line(line);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Next::Timeout;
            }
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("set_read_timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return Next::Eof,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The driver closed the connection while our output was still unread.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Next::Eof,
                Err(e) => panic!("read from the driver: {e}"),
            }
        }
    }

    /// The next line; panics on EOF or after the reply bound.
    #[track_caller]
    pub fn line(&mut self) -> String {
        match self.next(self.reply) {
            Next::Line(l) => l,
            other => panic!("expected a line, got {other:?}"),
        }
    }

    /// Sends a command and returns the first line of the reply.
    #[track_caller]
    pub fn request(&mut self, line: &str) -> String {
        self.send(line);
        self.line()
    }

    /// Reads lines until each of `wants` has been seen (in any order), for at most `timeout`;
    /// returns the lines read, or those and what came instead of the rest.
    fn collect(&mut self, wants: &[&str], timeout: Duration) -> Result<Vec<String>, Failure> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        let mut missing: Vec<String> = wants.iter().map(|w| w.to_string()).collect();
        while !missing.is_empty() {
            match self.next(deadline.saturating_duration_since(Instant::now())) {
                Next::Line(line) => {
                    missing.retain(|w| *w != line);
                    got.push(line);
                }
                instead => {
                    return Err(Failure {
                        got,
                        missing,
                        instead,
                    });
                }
            }
        }
        Ok(got)
    }

    /// Lines up to and including `last`; panics (showing them) on EOF or after `timeout`.
    #[track_caller]
    pub fn read_until(&mut self, last: &str, timeout: Duration) -> Vec<String> {
        match self.collect(&[last], timeout) {
            Ok(lines) => lines,
            Err(f) => panic!(
                "expected lines up to {last:?}, got {:?} then {:?}",
                f.got, f.instead
            ),
        }
    }

    /// Sends DUMPALL (or another dumping command) and reads the reply up to DUMPDONE.
    #[track_caller]
    pub fn dump(&mut self, command: &str) -> Vec<String> {
        self.send(command);
        self.read_until("DUMPDONE", self.reply)
    }

    /// Proves that nothing arrived on this connection: PING's PONG must be the very next line.
    #[track_caller]
    pub fn expect_silence_until_pong(&mut self) {
        self.send("PING");
        assert_eq!(self.next(self.reply), Next::Line("PONG".into()));
    }

    #[track_caller]
    pub fn expect_eof(&mut self, timeout: Duration) {
        assert_eq!(self.next(timeout), Next::Eof);
    }

    /// Reads lines until each of `wants` has been seen (in any order); returns the lines read.
    /// Panics after the reply bound, showing every line this client received and `server`'s
    /// stderr.
    #[track_caller]
    pub fn wait_all(&mut self, wants: &[&str], server: &Proc) -> Vec<String> {
        match self.collect(wants, self.reply) {
            Ok(lines) => lines,
            Err(f) => panic!(
                "socket never sent {:?} within {:?} ({:?} instead); received so far:\n{}\n--- stderr:\n{}",
                f.missing,
                self.reply,
                f.instead,
                self.seen.join("\n"),
                server.stderr()
            ),
        }
    }

    /// Reads lines until one equals `want`; returns the lines read (the last is `want`).
    #[track_caller]
    pub fn wait_line(&mut self, want: &str, server: &Proc) -> Vec<String> {
        self.wait_all(&[want], server)
    }

    /// Sends DUMPALL and returns the reply up to and including DUMPDONE (as [`wait_line`]).
    ///
    /// [`wait_line`]: Self::wait_line
    #[track_caller]
    pub fn dumpall(&mut self, server: &Proc) -> Vec<String> {
        self.send("DUMPALL");
        self.wait_line("DUMPDONE", server)
    }
}

/// Why [`Client::collect`] stopped early.
struct Failure {
    got: Vec<String>,
    missing: Vec<String>,
    instead: Next,
}
