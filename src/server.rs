//! The driver socket `<statepath>/genericups-<upsname>` that upsd (and `upsc`-like tools via
//! upsd, and `-c`/`-k` of a second instance) talk to.
//!
//! Owns the listener and the client connections: accepting, reading bytes into each client's
//! parseconf tokenizer, queueing replies and broadcasts in bounded per-client buffers, and
//! closing clients that leave, misbehave or stop reading. Clients are untrusted: every read
//! is bounded, every write is non-blocking, a client whose output backlog passes
//! [`MAX_BACKLOG`] is dropped, and EOF closes the connection (the C driver keeps polling a
//! closed connection and spins). What a request *means* is decided by the caller.

use crate::parseconf::{Event, Tokenizer};
use crate::protocol::{Request, parse_request};
use nix::poll::PollFlags;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Output a client may leave unread before it is dropped. A full DUMPALL is a few KiB.
pub const MAX_BACKLOG: usize = 64 * 1024;
/// Connections served at once; more are accepted and closed at once, so a flood of
/// connections can neither exhaust descriptors nor make the listener spin. Lowered to fit
/// the descriptor limit (see [`client_cap`]).
pub const MAX_CLIENTS: usize = 512;
/// Descriptors kept free for everything that is not a client: the port and its reopening,
/// ups.conf on reload, logging.
pub const RESERVED_FDS: u64 = 32;

/// How many clients fit under a soft descriptor limit of `soft`, leaving [`RESERVED_FDS`].
pub fn client_cap(soft: u64) -> usize {
    let room = soft.saturating_sub(RESERVED_FDS).max(1);
    usize::try_from(room).unwrap_or(usize::MAX).min(MAX_CLIENTS)
}
/// Bytes read from one client per wake-up, so one busy client cannot starve the others.
const READ_CHUNK: usize = 4096;
/// Complaints about clients (bad commands, refused connections) logged per poll interval,
/// over all clients: reconnecting must not buy a client a fresh log budget.
const LOG_BUDGET: u32 = 20;

pub type ClientId = u64;

/// Why the socket could not be created.
#[derive(Debug)]
pub enum SocketError {
    TooLong {
        path: PathBuf,
        len: usize,
    },
    NotASocket {
        path: PathBuf,
    },
    Io {
        path: PathBuf,
        call: &'static str,
        err: io::Error,
    },
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketError::TooLong { path, len } => write!(
                f,
                "Can't create a unix domain socket: pathname '{}' is too long ({len}) for \
                 'struct sockaddr_un->sun_path' on this system ({})",
                path.display(),
                crate::paths::SUN_PATH_MAX
            ),
            SocketError::NotASocket { path } => write!(
                f,
                "Refusing to replace {}: it exists and is not a socket (check NUT_STATEPATH / the state directory)",
                path.display()
            ),
            SocketError::Io { path, call, err } => {
                write!(
                    f,
                    "Can't create the driver socket {}: {call}: {err}",
                    path.display()
                )?;
                match err.kind() {
                    io::ErrorKind::PermissionDenied => write!(
                        f,
                        "\n  The state directory must be writable by the user the driver runs as."
                    ),
                    io::ErrorKind::NotFound => write!(
                        f,
                        "\n  The state directory does not exist; create it, or set NUT_STATEPATH."
                    ),
                    _ => Ok(()),
                }
            }
        }
    }
}

struct Client {
    id: ClientId,
    stream: UnixStream,
    tokenizer: Tokenizer,
    out: Vec<u8>,
    /// Bytes of `out` already written.
    sent: usize,
    broadcast: bool,
    /// Close once `out` is written (after LOGOUT).
    closing: bool,
    dead: bool,
    /// Dropped because it did not read its replies.
    unread_backlog: bool,
}

impl Client {
    fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    fn queue(&mut self, lines: &[String]) {
        if self.dead {
            return;
        }
        let size: usize = lines.iter().map(|l| l.len() + 1).sum();
        if self.pending() + size > MAX_BACKLOG {
            // Reported (within the log budget) when the server forgets the client.
            self.unread_backlog = true;
            self.dead = true;
            return;
        }
        for line in lines {
            crate::upsdebug!(5, "send to client {}: {line}", self.id);
            self.out.extend_from_slice(line.as_bytes());
            self.out.push(b'\n');
        }
        self.flush();
    }

    fn flush(&mut self) {
        while self.pending() > 0 && !self.dead {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => self.dead = true,
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    crate::upsdebug!(2, "client {}: write failed: {e}", self.id);
                    self.dead = true;
                }
            }
        }
        if self.pending() == 0 {
            self.out.clear();
            self.sent = 0;
            if self.closing {
                self.dead = true;
            }
        }
    }

    /// Reads what is there (one bounded chunk) and returns the complete commands; complaints
    /// about bad ones go to `complaints`.
    fn read(&mut self, complaints: &mut Vec<String>) -> Vec<Request> {
        let mut buf = [0u8; READ_CHUNK];
        let n = match self.stream.read(&mut buf) {
            Ok(0) => {
                crate::upsdebug!(2, "client {} closed the connection", self.id);
                self.dead = true;
                return Vec::new();
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return Vec::new();
            }
            Err(e) => {
                crate::upsdebug!(2, "client {}: read failed: {e}", self.id);
                self.dead = true;
                return Vec::new();
            }
        };
        let mut requests = Vec::new();
        for event in self.tokenizer.feed_slice(&buf[..n]) {
            match event {
                Event::Line(line) => {
                    let request = parse_request(&line.words);
                    match &request {
                        Request::Unknown(words) => {
                            let mut text = String::from("Unknown command on socket: ");
                            for (i, w) in words.iter().enumerate() {
                                text.push_str(&format!("\narg {i}: {w}"));
                            }
                            complaints.push(text);
                        }
                        Request::Malformed(why) => complaints.push(why.clone()),
                        _ => {}
                    }
                    requests.push(request);
                }
                Event::Error(e) => complaints.push(format!("Parse error on sock: {e}")),
            }
        }
        requests
    }
}

/// The listening socket and its clients.
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    inode: u64,
    clients: Vec<Client>,
    next_id: ClientId,
    max_clients: usize,
    /// Accepting is paused (the listener is not polled) after running out of descriptors,
    /// until a client leaves or the next poll tick: the pending connection would otherwise
    /// keep the listener readable and the loop spinning.
    accept_paused: bool,
    log_budget: u32,
    muted: u32,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("path", &self.path)
            .field("clients", &self.clients.len())
            .finish()
    }
}

impl Server {
    /// Creates the socket, replacing a stale one (only if it really is a socket), mode 0660.
    pub fn bind(path: &Path) -> Result<Server, SocketError> {
        let len = path.as_os_str().len();
        if len >= crate::paths::SUN_PATH_MAX {
            return Err(SocketError::TooLong {
                path: path.to_path_buf(),
                len,
            });
        }
        let io_err = |call, err| SocketError::Io {
            path: path.to_path_buf(),
            call,
            err,
        };
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                crate::upsdebug!(2, "Removing stale socket {}", path.display());
                std::fs::remove_file(path).map_err(|e| io_err("unlink", e))?;
            }
            Ok(_) => {
                return Err(SocketError::NotASocket {
                    path: path.to_path_buf(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("stat", e)),
        }
        let listener = UnixListener::bind(path).map_err(|e| io_err("bind", e))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
            .map_err(|e| io_err("chmod", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| io_err("fcntl", e))?;
        let inode = std::fs::symlink_metadata(path)
            .map(|m| m.ino())
            .map_err(|e| io_err("stat", e))?;
        crate::upsdebug!(2, "Listening on socket {}", path.display());
        Ok(Server {
            listener,
            path: path.to_path_buf(),
            inode,
            clients: Vec::new(),
            next_id: 1,
            max_clients: nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                .map(|(soft, _)| client_cap(soft))
                .unwrap_or(MAX_CLIENTS),
            accept_paused: false,
            log_budget: LOG_BUDGET,
            muted: 0,
        })
    }

    /// Gives the socket to `group` (keeping mode 0660) so that upsd, which runs as that
    /// group's user, can connect while the driver itself runs as root.
    pub fn give_to_group(&self, group: &str) -> Result<(), String> {
        let gid = match nix::unistd::Group::from_name(group) {
            Ok(Some(g)) => g.gid,
            Ok(None) => return Err(format!("group {group} not found")),
            Err(e) => return Err(format!("getgrnam({group}): {e}")),
        };
        nix::unistd::chown(&self.path, None, Some(gid))
            .map_err(|e| format!("chown {}: {e}", self.path.display()))
    }

    /// The descriptors to poll: the listener first, then each client (POLLOUT only while it
    /// has output waiting).
    pub fn poll_fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        let mut fds = Vec::with_capacity(self.clients.len() + 1);
        let listen = if self.accept_paused {
            PollFlags::empty()
        } else {
            PollFlags::POLLIN
        };
        fds.push((self.listener.as_fd(), listen));
        for c in &self.clients {
            let mut flags = PollFlags::POLLIN;
            if c.pending() > 0 {
                flags |= PollFlags::POLLOUT;
            }
            fds.push((c.stream.as_fd(), flags));
        }
        fds
    }

    /// Acts on what `poll` reported (`revents` in the order of [`Server::poll_fds`]) and
    /// returns the commands that arrived, in order.
    pub fn service(&mut self, revents: &[PollFlags]) -> Vec<(ClientId, Request)> {
        let mut requests = Vec::new();
        let mut complaints = Vec::new();
        for (i, ev) in revents.iter().enumerate().skip(1) {
            let Some(client) = self.clients.get_mut(i - 1) else {
                break;
            };
            if ev.intersects(PollFlags::POLLOUT) {
                client.flush();
            }
            if ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                if ev.intersects(PollFlags::POLLNVAL) {
                    client.dead = true;
                    continue;
                }
                let id = client.id;
                requests.extend(client.read(&mut complaints).into_iter().map(|r| (id, r)));
                if ev.intersects(PollFlags::POLLERR) && !ev.intersects(PollFlags::POLLIN) {
                    client.dead = true;
                }
            }
        }
        for text in complaints {
            self.complain(&text);
        }
        if revents
            .first()
            .is_some_and(|ev| ev.intersects(PollFlags::POLLIN))
        {
            self.accept();
        }
        requests
    }

    /// Logs a complaint about a client within the shared budget.
    fn complain(&mut self, text: &str) {
        if self.log_budget > 0 {
            self.log_budget -= 1;
            log::info!("{text}");
        } else {
            self.muted += 1;
        }
    }

    /// Called once per poll interval: renews the log budget and retries accepting.
    pub fn tick(&mut self) {
        if self.muted > 0 {
            log::info!(
                "{} more complaints about socket clients were not logged",
                self.muted
            );
        }
        self.muted = 0;
        self.log_budget = LOG_BUDGET;
        self.accept_paused = false;
    }

    fn accept(&mut self) {
        // Bounded so that a connection storm cannot keep us here.
        for _ in 0..64 {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.clients.len() >= self.max_clients {
                        self.complain(&format!(
                            "Too many clients ({}); refusing a new connection",
                            self.max_clients
                        ));
                        continue;
                    }
                    if let Err(e) = stream.set_nonblocking(true) {
                        log::warn!("Can't make a client connection non-blocking: {e}");
                        continue;
                    }
                    let id = self.next_id;
                    self.next_id += 1;
                    crate::upsdebug!(3, "new connection: client {id}");
                    self.clients.push(Client {
                        id,
                        stream,
                        tokenizer: Tokenizer::new(),
                        out: Vec::new(),
                        sent: 0,
                        broadcast: true,
                        closing: false,
                        dead: false,
                        unread_backlog: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and friends: the connection stays queued and the listener
                    // readable; stop polling it until a client leaves or the next tick.
                    let text = format!(
                        "accept on {} failed: {}",
                        self.path.display(),
                        crate::port::strerror(&e)
                    );
                    self.complain(&text);
                    self.accept_paused = true;
                    break;
                }
            }
        }
    }

    fn client(&mut self, id: ClientId) -> Option<&mut Client> {
        self.clients.iter_mut().find(|c| c.id == id)
    }

    pub fn reply(&mut self, id: ClientId, lines: &[String]) {
        if let Some(c) = self.client(id) {
            c.queue(lines);
        }
    }

    /// Closes the connection once everything queued for it has been written.
    pub fn close_after_reply(&mut self, id: ClientId) {
        if let Some(c) = self.client(id) {
            c.closing = true;
            c.flush();
        }
    }

    pub fn set_broadcast(&mut self, id: ClientId, on: bool) {
        if let Some(c) = self.client(id) {
            c.broadcast = on;
        }
    }

    /// Sends lines to every client that has not asked for NOBROADCAST.
    pub fn broadcast(&mut self, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        for line in lines {
            crate::upsdebug!(5, "broadcast: {line}");
        }
        for c in self.clients.iter_mut().filter(|c| c.broadcast) {
            c.queue(lines);
        }
    }

    /// Forgets clients that left or were dropped.
    pub fn reap(&mut self) {
        let slow: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|c| c.unread_backlog)
            .map(|c| c.id)
            .collect();
        for id in slow {
            self.complain(&format!(
                "Client {id} does not read its replies (over {MAX_BACKLOG} bytes waiting); disconnecting it"
            ));
        }
        let before = self.clients.len();
        self.clients.retain(|c| !c.dead);
        if self.clients.len() < before {
            self.accept_paused = false;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only remove the socket if it is still ours: a newer instance may have replaced it.
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_cap_leaves_room_for_the_port() {
        let cases = [
            (1024, 512),
            (256, 224),
            (40, 8),
            (32, 1),
            (0, 1),
            (u64::MAX, 512),
        ];
        for (soft, want) in cases {
            assert_eq!(client_cap(soft), want, "soft limit {soft}");
        }
    }
}
