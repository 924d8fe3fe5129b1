//! The running driver: start-up, the poll loop, and what each socket request does.
//!
//! Owns the order of start-up (type, overrides, port, cable power, state tree, first reading,
//! socket), the fixed-cadence poll loop, the handling of failed readings (log with NUT's rate
//! limit, mark the data stale, close the port and reopen it on later polls without ever
//! exiting), and the answers to client requests. The loop sleeps only in `poll(2)`, on the
//! listener, the clients, a signal pipe and (later) the port's own wake-up descriptor.

use crate::dstate::{Dstate, Flags};
use crate::lines::Lines;
use crate::paths::Paths;
use crate::port::{ModemPort, OpenError, PortSpec, apply_cable_power};
use crate::protocol::{Outcome, Request, tracking};
use crate::server::{ClientId, Server, SocketError};
use crate::settings::{Origin, Settings};
use crate::signals::Signals;
use crate::status::{BatteryLevels, decode, ignorelb_status};
use crate::upsdebug;
use crate::upstype::{UPS_TYPES, UpsType, UpstypeError, parse_upstype, type_list};
use crate::version;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::fmt;
use std::time::{Duration, Instant};

/// A start-up failure: what to print on stdout (NUT prints some diagnostics there) and the
/// message for the log. Always exit code 1.
#[derive(Debug)]
pub struct Fatal {
    pub stdout: Option<String>,
    pub message: String,
}

impl Fatal {
    pub fn msg(message: impl Into<String>) -> Fatal {
        Fatal {
            stdout: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<SocketError> for Fatal {
    fn from(e: SocketError) -> Fatal {
        Fatal::msg(e.to_string())
    }
}

fn at(origin: Option<&Origin>, key: &str) -> String {
    match origin {
        Some(o @ Origin::File { .. }) => format!("{o}: key '{key}'"),
        _ => format!("command line: key '{key}'"),
    }
}

/// The selected table entry with every override applied.
pub fn select_type(settings: &Settings) -> Result<UpsType, Fatal> {
    let Some(raw) = settings.vars.upstype.as_deref() else {
        return Err(Fatal::msg(
            "No upstype set - see help text / man page! (expected upstype = <0..23> in the \
             ups.conf section, or -x upstype=<n>)",
        ));
    };
    let where_ = at(settings.origin_of("upstype"), "upstype");
    let n = parse_upstype(raw).map_err(|e| {
        let message = match &e {
            UpstypeError::OutOfRange(_) => {
                format!("\nFatal error: unknown UPS type number ({where_}): {e}")
            }
            UpstypeError::NotANumber(_) => {
                format!("\nFatal error: {e} ({where_}); expected a type number")
            }
        };
        Fatal {
            stdout: Some(type_list()),
            message,
        }
    })?;
    let (t, applied) = settings.vars.overrides.apply(&UPS_TYPES[n]).map_err(|e| {
        Fatal::msg(format!(
            "Error: invalid override {e} ({})",
            at(settings.origin_of(e.var), e.var)
        ))
    })?;
    for a in applied {
        if a.changed {
            upsdebug!(2, "{} overridden with {}", a.var, a.value);
        } else {
            log::info!(
                "{}={}: override specified, but no effective difference - check for typos?",
                a.var,
                a.value
            );
        }
    }
    Ok(t)
}

/// NUT's comm-failure reporting: every failure up to the 10th, then every 10th, with a
/// reminder at the 10th and every 100th.
#[derive(Debug, Default)]
struct CommFailures {
    count: u64,
}

impl CommFailures {
    /// Counts one failure and reports it (with `detail` first, if any) when the limit says so.
    fn fail(&mut self, what: &str, detail: Option<&str>) {
        self.count += 1;
        let n = self.count;
        if n == 10 || (n > 10 && n.is_multiple_of(100)) {
            log::warn!("Warning: excessive comm failures, limiting error reporting");
        }
        if n <= 10 || n.is_multiple_of(10) {
            if let Some(detail) = detail {
                log::info!("{detail}");
            }
            log::warn!("Communications with UPS lost: {what}");
        }
    }

    fn good(&mut self) {
        if self.count > 0 {
            log::info!("Communications with UPS re-established");
        }
        self.count = 0;
    }
}

/// Longest wait, in polls, between reopen attempts of a port that opens but cannot be read.
const MAX_REOPEN_BACKOFF: u64 = 32;
/// Re-drives of cable power logged in full; later ones (interference that keeps coming back)
/// are logged every 100th time.
const LOGGED_REDRIVES: u64 = 10;
/// Read errors in a row that keep the port open (a USB control transfer timing out, say);
/// device-gone errors close it at once. Every reopen raises DTR and RTS, so it is not the
/// first thing to try.
const SOFT_FAILURES_BEFORE_REOPEN: u32 = 2;
/// At start-up, readings taken this far apart until two agree (at most four): the first
/// answers of some USB adapters come from a cache that is not filled yet.
const SETTLE_GAP: Duration = Duration::from_millis(250);
const SETTLE_READS: usize = 4;

/// Everything the loop needs.
pub struct Driver {
    settings: Settings,
    upsname: String,
    ups: UpsType,
    spec: PortSpec,
    port: Option<Box<dyn ModemPort>>,
    dstate: Dstate,
    failures: CommFailures,
    /// Polls done so far (the clock of the reopen back-off).
    polls: u64,
    /// No reopen before this poll.
    next_reopen: u64,
    /// Polls to wait after a reopened port fails again (doubles up to MAX_REOPEN_BACKOFF).
    reopen_backoff: u64,
    /// The port was just reopened: its first reading is not trusted (some USB adapters answer
    /// from a cache that is not filled yet, and all lines low reads as "LB OB" on several
    /// types, which makes upsmon shut down at once).
    settling: bool,
    /// Cable power had to be re-driven this many times since the port was opened.
    redrives: u64,
    /// The adapter does not report its output lines (a re-drive did not read back), so
    /// cable power is not checked until the port is reopened.
    outputs_unreported: bool,
    /// Read errors in a row that did not close the port.
    soft_failures: u32,
    exit_requested: bool,
    configured_debug: u32,
}

impl Driver {
    /// Start-up up to (not including) the socket: fatal errors here exit 1.
    pub fn init(settings: Settings, configured_debug: u32) -> Result<Driver, Fatal> {
        let upsname = settings.upsname.clone().unwrap_or_default();
        let ups = select_type(&settings)?;
        log::info!("UPS type: {}", ups.desc);
        let port_name = settings.port.clone().unwrap_or_default();
        let spec = PortSpec::parse(&port_name);
        let port = spec.open(!settings.nolock, ups.cp).map_err(|e| match e {
            OpenError::Locked { .. } => Fatal::msg(e.to_string()),
            OpenError::Failed {
                call: crate::port::CABLE_POWER_CALL,
                errno,
                ..
            } => Fatal::msg(format!(
                "Can't set cable power ({}) on {port_name}: {}",
                crate::upstype::output_word(ups.cp),
                crate::port::strerror(&std::io::Error::from_raw_os_error(errno as i32))
            )),
            _ => Fatal {
                stdout: None,
                message: format!("{e}\nFatal error: unusable configuration"),
            },
        })?;
        upsdebug!(
            2,
            "Cable power set: {} up, the other output lines down",
            crate::upstype::output_word(ups.cp)
        );

        let mut dstate = Dstate::new();
        for (var, value) in &settings.override_vars {
            dstate.set_override(var, value);
        }
        for (var, value) in &settings.default_vars {
            dstate.set_info(var, value);
        }
        for (name, value) in &settings.published {
            dstate.set_info(name, value);
        }
        dstate.set_info("device.type", "ups");
        dstate.set_info("driver.version", version::NUT_VERSION);
        dstate.set_info("driver.version.internal", version::DRIVER_VERSION);
        dstate.set_info("driver.name", "genericups");
        dstate.set_info("driver.state", "init.info");
        let mfr = settings.vars.mfr.as_deref().unwrap_or(ups.mfr);
        let model = settings.vars.model.as_deref().unwrap_or(ups.model);
        dstate.set_info("ups.mfr", mfr);
        dstate.set_info("ups.model", model);
        if let Some(serial) = &settings.vars.serial {
            dstate.set_info("ups.serial", serial);
        }
        let mut driver = Driver {
            settings,
            upsname,
            ups,
            spec,
            port: Some(port),
            dstate,
            failures: CommFailures::default(),
            polls: 0,
            next_reopen: 0,
            reopen_backoff: 1,
            settling: false,
            redrives: 0,
            outputs_unreported: false,
            soft_failures: 0,
            exit_requested: false,
            configured_debug,
        };
        driver.initial_update();
        if driver.settings.ignorelb && !driver.can_judge_charge() {
            return Err(Fatal::msg(
                "The 'ignorelb' flag is set, but there is no way to determine the battery state of charge.\n\n\
                 Only set it if the UPS reports battery.charge and battery.charge.low, or\n\
                 battery.runtime and battery.runtime.low (for this driver: give them with\n\
                 default.* or override.* in ups.conf).",
            ));
        }
        let s = &driver.settings;
        let (interval, sync) = (s.pollinterval().to_string(), s.synchronous.as_str());
        driver
            .dstate
            .set_info("driver.parameter.pollinterval", &interval);
        driver.dstate.set_info("driver.parameter.synchronous", sync);
        // Copies of the raw values: the C driver copies the escaped ones and escapes twice.
        for what in ["mfr", "model", "serial"] {
            if let Some(v) = driver
                .dstate
                .get(&format!("ups.{what}"))
                .map(str::to_string)
            {
                driver.dstate.set_info(&format!("device.{what}"), &v);
            }
        }
        let allow = if driver.settings.allow_killpower {
            "1"
        } else {
            "0"
        };
        driver.dstate.set_info("driver.flag.allow_killpower", allow);
        driver
            .dstate
            .set_flags("driver.flag.allow_killpower", Flags::RW_NUMBER);
        driver
            .dstate
            .set_info("driver.debug", &configured_debug.to_string());
        driver.dstate.set_flags("driver.debug", Flags::RW_NUMBER);
        driver.dstate.set_info("driver.state", "quiet");
        Ok(driver)
    }

    fn can_judge_charge(&self) -> bool {
        let has = |a: &str, b: &str| self.dstate.get(a).is_some() && self.dstate.get(b).is_some();
        has("battery.charge", "battery.charge.low") || has("battery.runtime", "battery.runtime.low")
    }

    pub fn dstate(&self) -> &Dstate {
        &self.dstate
    }

    /// The first poll, at start-up: readings a moment apart until two agree, so that a USB
    /// adapter's unfilled cache (all lines low, `LB OB` on several types, which makes upsmon
    /// shut down at once) is never published. This happens before the socket exists.
    fn initial_update(&mut self) {
        self.polls += 1;
        let mut previous: Option<Lines> = None;
        let mut latest = None;
        for attempt in 0..SETTLE_READS {
            if attempt > 0 {
                std::thread::sleep(SETTLE_GAP);
            }
            let Some(read) = self.read() else {
                return;
            };
            latest = Some(read);
            let inputs = read.intersection(Lines::INPUTS);
            if previous == Some(inputs) {
                break;
            }
            if previous.is_some() {
                upsdebug!(2, "Start-up readings differ ({read}); reading again");
            }
            previous = Some(inputs);
        }
        if let Some(read) = latest {
            self.check_cable_power(read);
            self.publish(read);
        }
    }

    /// One poll: read the lines (reopening the port first if a failure closed it), publish
    /// the status, and keep the stale flag honest.
    pub fn update(&mut self) {
        self.polls += 1;
        if self.port.is_none() && !self.reopen() {
            return;
        }
        let Some(read) = self.read() else {
            return;
        };
        self.check_cable_power(read);
        if std::mem::take(&mut self.settling) {
            upsdebug!(
                2,
                "First reading after reopening the port ({read}) not trusted yet"
            );
            return;
        }
        self.publish(read);
    }

    /// Reads the lines once; on failure marks the data stale and decides whether to close
    /// the port.
    fn read(&mut self) -> Option<Lines> {
        let port = self.port.as_mut()?;
        let e = match port.read_lines() {
            Ok(read) => {
                self.soft_failures = 0;
                return Some(read);
            }
            Err(e) => e,
        };
        let detail = format!("ioctl failed: {}", crate::port::strerror(&e));
        // EIO, ENODEV, ENXIO: the device is gone or hung up; only a fresh open reaches a
        // replugged adapter. Anything else may pass; retry on the same descriptor first.
        let gone = matches!(
            e.raw_os_error(),
            Some(nix::libc::EIO | nix::libc::ENODEV | nix::libc::ENXIO | nix::libc::EBADF)
        );
        self.soft_failures += 1;
        if gone || self.soft_failures > SOFT_FAILURES_BEFORE_REOPEN {
            if self.settling {
                // It opens but cannot be read: every reopen raises DTR and RTS for a moment,
                // so try less and less often.
                self.grow_backoff();
            }
            self.next_reopen = self.polls + self.reopen_backoff;
            self.port = None;
            self.soft_failures = 0;
        }
        self.failed("Status read failed", Some(&detail));
        None
    }

    fn grow_backoff(&mut self) {
        self.reopen_backoff = (self.reopen_backoff * 2).min(MAX_REOPEN_BACKOFF);
    }

    /// Reopens a closed port when the back-off allows; false while it stays closed.
    fn reopen(&mut self) -> bool {
        if self.polls < self.next_reopen {
            self.failed("Status read failed (port closed; will reopen)", None);
            return false;
        }
        match self.spec.open(!self.settings.nolock, self.ups.cp) {
            Ok(port) => {
                upsdebug!(1, "Port {} reopened", self.port_name());
                self.port = Some(port);
                self.settling = true;
                self.redrives = 0;
                self.outputs_unreported = false;
                true
            }
            Err(e) => {
                if e.after_open() {
                    // The open itself worked (and raised DTR and RTS): back off as for a
                    // port that cannot be read.
                    self.grow_backoff();
                    self.next_reopen = self.polls + self.reopen_backoff;
                }
                self.failed(&format!("reopening the port failed: {}", e.summary()), None);
                false
            }
        }
    }

    /// Puts cable power back if something else changed the output lines: any other process
    /// that opens the port (a refused second instance, a terminal program, ModemManager) makes
    /// Linux raise DTR and RTS, which on many cables is the shutdown signal. A re-drive that
    /// does not read back means the adapter does not report its outputs; then checking stops
    /// until the port is reopened. One that does read back means interference, which is
    /// undone every time it comes back.
    fn check_cable_power(&mut self, read: Lines) {
        let want = self.ups.cp.intersection(Lines::OUTPUTS);
        let got = read.intersection(Lines::OUTPUTS);
        if got == want || self.outputs_unreported {
            return;
        }
        let Some(port) = self.port.as_mut() else {
            return;
        };
        self.redrives += 1;
        if self.redrives <= LOGGED_REDRIVES || self.redrives.is_multiple_of(100) {
            log::warn!(
                "Output lines read {} but cable power is {}: another program may have opened {}; driving them again (time {})",
                crate::upstype::output_word(got),
                crate::upstype::output_word(want),
                self.settings.port.as_deref().unwrap_or_default(),
                self.redrives
            );
        }
        if let Err(e) = apply_cable_power(port.as_mut(), self.ups.cp) {
            log::warn!("Can't set cable power: {}", crate::port::strerror(&e));
            return;
        }
        let after = port.read_lines().map(|r| r.intersection(Lines::OUTPUTS));
        if after.as_ref().is_ok_and(|a| *a != want) {
            self.outputs_unreported = true;
            log::warn!(
                "The port does not report its output lines; cable power is not checked again until it is reopened"
            );
        }
    }

    /// Publishes one trusted reading.
    fn publish(&mut self, read: Lines) {
        let status = decode(read, &self.ups);
        let text = if self.settings.ignorelb {
            let levels = BatteryLevels {
                charge: self.dstate.get("battery.charge"),
                charge_low: self.dstate.get("battery.charge.low"),
                runtime: self.dstate.get("battery.runtime"),
                runtime_low: self.dstate.get("battery.runtime.low"),
            };
            ignorelb_status(status, &levels)
        } else {
            status.to_string()
        };
        upsdebug!(
            5,
            "lines: CTS={} DCD={} RNG={} DSR={} -> ups.status: {text}",
            u8::from(read.contains(Lines::CTS)),
            u8::from(read.contains(Lines::DCD)),
            u8::from(read.contains(Lines::RNG)),
            u8::from(read.contains(Lines::DSR)),
        );
        self.dstate.set_info("ups.status", &text);
        self.reopen_backoff = 1;
        self.failures.good();
        self.dstate.data_ok();
    }

    fn failed(&mut self, what: &str, detail: Option<&str>) {
        self.failures.fail(what, detail);
        self.dstate.data_stale();
    }

    fn port_name(&self) -> String {
        self.settings.port.clone().unwrap_or_default()
    }

    /// Answers one client request.
    fn handle(&mut self, server: &mut Server, id: ClientId, request: Request) {
        let reply: Vec<String> = match request {
            Request::DumpAll => self.dstate.dumpall(),
            Request::Ping => vec!["PONG".into()],
            Request::GetPid => vec![format!("PID {}", std::process::id())],
            Request::DumpStatus => self.dstate.dump_value("ups.status"),
            Request::DumpValue(name) => {
                if self.dstate.get(&name).is_none() {
                    upsdebug!(
                        1,
                        "DUMPVALUE was requested but currently no {name} is known"
                    );
                }
                self.dstate.dump_value(&name)
            }
            Request::Logout => {
                server.reply(id, &["OK Goodbye".to_string()]);
                server.close_after_reply(id);
                return;
            }
            Request::NoBroadcast => {
                server.set_broadcast(id, false);
                return;
            }
            Request::Broadcast(on) => {
                server.set_broadcast(id, on);
                return;
            }
            Request::InstCmd {
                cmd,
                param,
                tracking: t,
            } => {
                let outcome = self.instcmd(&cmd, param.as_deref());
                t.map(|t| vec![tracking(&t, outcome)]).unwrap_or_default()
            }
            Request::Set {
                var,
                value,
                tracking: t,
            } => {
                let outcome = self.set(&var, &value);
                t.map(|t| vec![tracking(&t, outcome)]).unwrap_or_default()
            }
            Request::Malformed(_) | Request::Unknown(_) => return,
        };
        // Changes a request made go out before its reply, as in NUT (a client waiting for
        // TRACKING has then already seen the new value).
        server.broadcast(&self.dstate.take_updates());
        if !reply.is_empty() {
            server.reply(id, &reply);
        }
    }

    fn instcmd(&mut self, cmd: &str, param: Option<&str>) -> Outcome {
        upsdebug!(2, "INSTCMD {cmd} {}", param.unwrap_or(""));
        match cmd.to_ascii_lowercase().as_str() {
            "driver.exit" => {
                log::info!("Exiting on request of a socket client (driver.exit)");
                self.exit_requested = true;
                Outcome::Handled
            }
            "driver.killpower" => {
                if self.dstate.get("driver.flag.allow_killpower") != Some("1") {
                    log::error!(
                        "Got socket protocol request for UPS [{}] to power off, but driver.flag.allow_killpower does not permit this - request was ignored",
                        self.upsname
                    );
                    Outcome::Invalid
                } else {
                    log::error!(
                        "Socket request for UPS [{}] to power off: not supported by this version over the socket; use 'genericups -a {} -k'",
                        self.upsname,
                        self.upsname
                    );
                    Outcome::Failed
                }
            }
            _ => {
                log::info!("Got INSTCMD '{cmd}', but driver lacks a handler");
                Outcome::Unknown
            }
        }
    }

    fn set(&mut self, var: &str, value: &str) -> Outcome {
        upsdebug!(2, "SET {var} {value}");
        match var.to_ascii_lowercase().as_str() {
            "driver.debug" => match crate::cnum::atoi(value) {
                Some(n) => {
                    let level = if n < 0 {
                        self.configured_debug
                    } else {
                        log::info!(
                            "Applying debug level {n} received during run-time via socket protocol, ignoring other settings"
                        );
                        u32::try_from(n).unwrap_or(u32::MAX)
                    };
                    crate::logging::set_debug_level(level);
                    self.dstate.set_info("driver.debug", &level.to_string());
                    Outcome::Handled
                }
                None => Outcome::Invalid,
            },
            "driver.flag.allow_killpower" => {
                let v = value.to_ascii_lowercase();
                let on = match crate::cnum::atoi(&v) {
                    Some(n) => n > 0,
                    None => v.starts_with("enable") || matches!(v.as_str(), "true" | "yes" | "on"),
                };
                self.dstate
                    .set_info("driver.flag.allow_killpower", if on { "1" } else { "0" });
                Outcome::Handled
            }
            _ => {
                log::info!("Got SET, but driver lacks a handler");
                Outcome::Unknown
            }
        }
    }

    /// `-d n`: n+1 more polls back to back (as NUT: its loop counter reaches n after n+1
    /// updates), then the tree as `name: value` lines.
    pub fn dump(mut self, count: u32) -> String {
        for _ in 0..=count {
            self.update();
        }
        self.dstate.set_info("driver.state", "dumping");
        self.dstate.dump_text()
    }

    /// The foreground loop: serves the socket and polls the UPS until a signal or
    /// `driver.exit` ends it. Returns the exit code.
    pub fn run(mut self, paths: &Paths, progname: &str) -> Result<i32, Fatal> {
        let mut signals = Signals::install()
            .map_err(|e| Fatal::msg(format!("Can't install signal handlers: {e}")))?;
        let socket = paths.socket(progname, &self.upsname);
        let mut server = Server::bind(&socket)?;
        if nix::unistd::geteuid().is_root() {
            let group = self
                .settings
                .group
                .as_deref()
                .unwrap_or(crate::paths::DEFAULT_GROUP);
            match server.give_to_group(group) {
                Ok(()) => upsdebug!(1, "Group access for this driver successfully fixed"),
                Err(e) => log::warn!(
                    "WARNING: Needed to fix group access to filesystem socket of this driver, but failed: {e}"
                ),
            }
        }
        // Anything queued before the socket existed is in the first DUMPALL instead.
        self.dstate.take_updates();
        upsdebug!(
            1,
            "Driver initialization completed, beginning regular infinite loop"
        );
        let interval = Duration::from_secs(u64::from(self.settings.pollinterval()));
        let mut next_poll = Instant::now() + interval;
        loop {
            let now = Instant::now();
            if now >= next_poll {
                server.tick();
                self.update();
                // Fixed cadence; after a long stall (suspend) start again from now.
                next_poll += interval;
                if next_poll <= now {
                    next_poll = now + interval;
                }
            }
            server.broadcast(&self.dstate.take_updates());
            server.reap();
            if self.exit_requested {
                log::info!("Signal -2: exiting");
                return Ok(0);
            }
            let timeout = next_poll.saturating_duration_since(Instant::now());
            let revents = {
                let socket_fds = server.poll_fds();
                let mut fds = Vec::with_capacity(socket_fds.len() + 2);
                fds.push(PollFd::new(signals.wake_fd(), PollFlags::POLLIN));
                // A port that can report line changes wakes us at once; the slot is kept
                // (with no events) when it cannot, so the indices below stay fixed.
                let port_fd = self.port.as_ref().and_then(|p| p.wake_fd());
                fds.push(match port_fd {
                    Some(fd) => PollFd::new(fd, PollFlags::POLLIN),
                    None => PollFd::new(signals.wake_fd(), PollFlags::empty()),
                });
                fds.extend(
                    socket_fds
                        .iter()
                        .map(|(fd, flags)| PollFd::new(*fd, *flags)),
                );
                let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
                // Round up so a wake-up never comes a millisecond early and spins.
                let ms = if !timeout.subsec_nanos().is_multiple_of(1_000_000) {
                    ms.saturating_add(1)
                } else {
                    ms
                };
                match poll(
                    &mut fds,
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                ) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(Fatal::msg(format!("poll failed: {e}"))),
                }
                fds.iter()
                    .map(|f| f.revents().unwrap_or(PollFlags::empty()))
                    .collect::<Vec<_>>()
            };
            if revents.first().is_some_and(|r| !r.is_empty()) {
                signals.drain();
            }
            if let Some(sig) = signals.exit_signal() {
                log::info!("Signal {sig}: exiting");
                return Ok(0);
            }
            if revents
                .get(1)
                .is_some_and(|r| r.intersects(PollFlags::POLLIN))
            {
                // The port reported a line change: read it now rather than at the next tick.
                self.update();
            }
            if signals.take_reload() {
                log::info!(
                    "Reload signal received: live reload is not supported by this version yet; nothing changed"
                );
            }
            for (id, request) in server.service(revents.get(2..).unwrap_or_default()) {
                self.handle(&mut server, id, request);
            }
        }
    }
}
