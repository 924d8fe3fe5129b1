//! From the command line and ups.conf to the driver's settings.
//!
//! Owns NUT's key dispatch (`main_arg`, `do_upsconf_args`, `do_global_args` in the C core):
//! which keys the core takes, which belong to upsd/upsdrvctl and are accepted silently, the
//! `override.`/`default.` prefixes, the driver's own variables (case-insensitive names,
//! published as `driver.parameter.<name as written>`), and the order rules (options are
//! applied in command-line order; `-a` reads ups.conf when it is seen, so a later `-x` wins).
//! Pure: the ups.conf loader is passed in, and messages meant for the log are returned.
#![forbid(unsafe_code)]

use crate::cli::{Args, Opt};
use crate::overrides::Overrides;
use std::fmt;

/// Where a setting came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    CommandLine,
    File { path: String, line: usize },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::CommandLine => f.write_str("command line"),
            Origin::File { path, line } => write!(f, "{path}:{line}"),
        }
    }
}

/// One `key [= value]` line of ups.conf, as the dispatcher needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfEntry {
    pub line: usize,
    pub key: String,
    pub value: Option<String>,
}

/// What the loader hands back for `-a <id>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfSource {
    pub path: String,
    pub global: Vec<ConfEntry>,
    /// The entries of every section named `<id>`, merged in file order; `None` when the
    /// file has no such section with at least one key.
    pub section: Option<Vec<ConfEntry>>,
    /// Grammar problems (line, message), logged as warnings.
    pub problems: Vec<(usize, String)>,
}

/// `synchronous`: how client sockets are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    Yes,
    No,
    #[default]
    Auto,
}

impl Synchronous {
    fn parse(v: &str) -> Synchronous {
        match v {
            "yes" => Synchronous::Yes,
            "auto" => Synchronous::Auto,
            _ => Synchronous::No,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Yes => "yes",
            Synchronous::No => "no",
            Synchronous::Auto => "auto",
        }
    }
}

/// A message for the log, produced while reading settings (the logger may not exist yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub level: log::Level,
    pub text: String,
}

/// The driver's own variables (NUT's `upsdrv_makevartable`), in registration order.
pub const DRIVER_VARS: [(&str, &str); 11] = [
    ("upstype", "Set UPS type (required)"),
    ("mfr", "Override manufacturer name"),
    ("model", "Override model name"),
    ("serial", "Specify the serial number"),
    ("CP", "Override cable power setting"),
    ("OL", "Override on line signal"),
    ("LB", "Override low battery signal"),
    ("RB", "Override replace battery signal"),
    ("BYPASS", "Override battery bypass signal"),
    ("SD", "Override shutdown setting"),
    ("sdtime", "Hold time for shutdown value (seconds)"),
];

/// Values of the driver variables (raw text; interpreted at start-up).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriverVars {
    pub upstype: Option<String>,
    pub mfr: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub overrides: Overrides,
    pub sdtime: Option<String>,
}

/// Everything the command line and ups.conf decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub upsname: Option<String>,
    /// True for `-a` (configuration from ups.conf), false for `-s` or the legacy form.
    pub autoconfig: bool,
    pub port: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub chroot: Option<String>,
    pub pollinterval: Option<u32>,
    pub synchronous: Synchronous,
    pub debug_flags: u32,
    pub debug_min: Option<u32>,
    pub foreground: u32,
    pub background: bool,
    pub dump: Option<u32>,
    pub kill: bool,
    pub quiet: u32,
    pub nolock: bool,
    pub ignorelb: bool,
    pub allow_killpower: bool,
    pub sdcommands: Option<String>,
    pub statepath: Option<String>,
    pub signal_command: Option<String>,
    pub signal_pid: Option<String>,
    pub vars: DriverVars,
    /// Where each driver variable (canonical name) was last set, for error messages about
    /// its value.
    pub var_origins: Vec<(&'static str, Origin)>,
    /// `driver.parameter.*` and `driver.flag.*` values, in the order they were set.
    pub published: Vec<(String, String)>,
    /// `override.<var>` (immutable) and `default.<var>` values, in order.
    pub override_vars: Vec<(String, String)>,
    pub default_vars: Vec<(String, String)>,
    pub notices: Vec<Notice>,
    user_from_cli: bool,
    group_from_cli: bool,
    global_debug_min: Option<u32>,
}

/// Options that end the run before anything else happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Early {
    Help,
    Version,
    ListVars,
}

/// A configuration mistake: NUT's wording plus where it was and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Printed to stdout in NUT's layout ("Fatal error: '<name>' is not a valid variable
    /// name for this driver."), with the location added.
    UnknownVariable {
        name: String,
        flag: bool,
        origin: Origin,
    },
    /// Any other mistake: `message` is NUT's text (or ours where NUT has none), `hint` says
    /// what was expected.
    Invalid {
        message: String,
        origin: Option<Origin>,
        key: Option<String>,
        hint: Option<String>,
    },
}

impl ConfigError {
    fn invalid(message: impl Into<String>, origin: &Origin, key: &str, hint: &str) -> ConfigError {
        ConfigError::Invalid {
            message: message.into(),
            origin: Some(origin.clone()),
            key: Some(key.to_string()),
            hint: (!hint.is_empty()).then(|| hint.to_string()),
        }
    }

    fn plain(message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            message: message.into(),
            origin: None,
            key: None,
            hint: None,
        }
    }

    /// The part NUT prints on stdout before exiting (only the unknown-variable error).
    pub fn stdout_text(&self) -> Option<String> {
        match self {
            ConfigError::UnknownVariable { name, flag, origin } => Some(format!(
                "\nFatal error: '{name}' is not a valid {} for this driver.\n\
                 ({origin})\n\n\
                 Look in the man page or call this driver with -h for a list of\n\
                 valid variable names and flags.\n",
                if *flag { "flag" } else { "variable name" }
            )),
            ConfigError::Invalid { .. } => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::UnknownVariable { name, flag, origin } => write!(
                f,
                "{origin}: '{name}' is not a valid {} for this driver",
                if *flag { "flag" } else { "variable name" }
            ),
            ConfigError::Invalid {
                message,
                origin,
                key,
                hint,
            } => {
                f.write_str(message)?;
                let mut detail = Vec::new();
                if let Some(o) = origin {
                    detail.push(o.to_string());
                }
                if let Some(k) = key {
                    detail.push(format!("key '{k}'"));
                }
                if let Some(h) = hint {
                    detail.push(h.clone());
                }
                if !detail.is_empty() {
                    write!(f, " ({})", detail.join(": "))?;
                }
                Ok(())
            }
        }
    }
}

use crate::cnum::atoi;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// `-x`: NUT's `main_arg` keys, then the driver table.
    CommandLine,
    /// A line of the driver's ups.conf section: also `driver`, `desc`, `sdorder` etc.
    Section,
}

impl Settings {
    /// Applies the options in order. `load` reads ups.conf for `-a <id>`.
    pub fn from_args(
        args: &Args,
        progname: &str,
        load: &mut dyn FnMut(&str) -> Result<ConfSource, ConfigError>,
    ) -> Result<Result<Settings, Early>, ConfigError> {
        let mut s = Settings::default();
        for opt in &args.opts {
            match opt {
                Opt::Autoconfig(id) => {
                    s.upsname = Some(id.clone());
                    s.autoconfig = true;
                    let conf = load(id)?;
                    s.apply_conf(&conf, id, progname)?;
                }
                Opt::Direct(id) => {
                    s.upsname = Some(id.clone());
                    s.autoconfig = false;
                }
                Opt::Kill => s.kill = true,
                Opt::Debug => s.debug_flags += 1,
                Opt::Foreground => s.foreground += 1,
                Opt::Background => s.background = true,
                Opt::Dump(n) => {
                    // atoi: junk reads as 0, which means "no dump".
                    let n = atoi(n).unwrap_or(0);
                    s.dump = (n > 0).then(|| u32::try_from(n).unwrap_or(u32::MAX));
                }
                Opt::Help => return Ok(Err(Early::Help)),
                Opt::Version => return Ok(Err(Early::Version)),
                Opt::ListVars => return Ok(Err(Early::ListVars)),
                Opt::Var(text) => {
                    let (key, value) = match text.split_once('=') {
                        Some((k, v)) => (k, Some(v)),
                        None => (text.as_str(), None),
                    };
                    s.apply_key(
                        Scope::CommandLine,
                        &Origin::CommandLine,
                        key,
                        value,
                        progname,
                    )?;
                }
                Opt::Quiet => s.quiet += 1,
                Opt::Chroot(d) => s.chroot = Some(d.clone()),
                Opt::User(u) => {
                    s.user = Some(u.clone());
                    s.user_from_cli = true;
                }
                Opt::Group(g) => {
                    s.group = Some(g.clone());
                    s.group_from_cli = true;
                }
                Opt::Interval(v) => match atoi(v) {
                    Some(n) if n > 0 => s.pollinterval = Some(clamp_u32(n)),
                    _ => {
                        return Err(ConfigError::Invalid {
                            message: format!("Error: command-line: invalid pollinterval: {v}"),
                            origin: Some(Origin::CommandLine),
                            key: Some("-i".into()),
                            hint: Some("expected a whole number of seconds above 0".into()),
                        });
                    }
                },
                Opt::Signal(c) => {
                    if s.signal_command.is_some() {
                        return Err(ConfigError::plain(
                            "Error: only one command per run can be sent with option -c. Try -h for help.",
                        ));
                    }
                    s.signal_command = Some(c.clone());
                }
                Opt::Pid(p) => s.signal_pid = Some(p.clone()),
            }
        }
        s.apply_legacy_operands(&args.operands)?;
        if s.debug_min.is_none() {
            s.debug_min = s.global_debug_min;
        }
        Ok(Ok(s))
    }

    /// `genericups [options] /dev/ttyUSB0`: the port, and `-s <port name>` unless -a/-s came.
    fn apply_legacy_operands(&mut self, operands: &[String]) -> Result<(), ConfigError> {
        match operands {
            [] => Ok(()),
            [port] => {
                self.port = Some(port.clone());
                self.published
                    .push(("driver.parameter.port".into(), port.clone()));
                if self.upsname.is_none() {
                    self.upsname = Some(crate::paths::basename(port).to_string());
                }
                self.notices.push(Notice {
                    level: log::Level::Info,
                    text: format!(
                        "Legacy command line: '{port}' taken as -x port={port}{}",
                        if self.autoconfig {
                            String::new()
                        } else {
                            format!(" -s {}", self.upsname.as_deref().unwrap_or(""))
                        }
                    ),
                });
                Ok(())
            }
            _ => Err(ConfigError::plain(
                "Error: too many non-option arguments. Try -h for help.",
            )),
        }
    }

    fn apply_conf(
        &mut self,
        conf: &ConfSource,
        id: &str,
        progname: &str,
    ) -> Result<(), ConfigError> {
        for (line, msg) in &conf.problems {
            self.notices.push(Notice {
                level: log::Level::Warn,
                text: format!("Parse error: {}:{line}: {msg}", conf.path),
            });
        }
        for e in &conf.global {
            let origin = Origin::File {
                path: conf.path.clone(),
                line: e.line,
            };
            self.apply_global(&origin, &e.key, e.value.as_deref())?;
        }
        let Some(section) = &conf.section else {
            return Err(ConfigError::Invalid {
                message: format!("Error: Section {id} not found in ups.conf"),
                origin: None,
                key: None,
                hint: Some(format!(
                    "{}: expected a section [{id}] with at least one key",
                    conf.path
                )),
            });
        };
        for e in section {
            let origin = Origin::File {
                path: conf.path.clone(),
                line: e.line,
            };
            self.apply_key(
                Scope::Section,
                &origin,
                &e.key,
                e.value.as_deref(),
                progname,
            )?;
        }
        Ok(())
    }

    fn apply_global(
        &mut self,
        origin: &Origin,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), ConfigError> {
        let Some(v) = value else {
            self.notices.push(Notice {
                level: log::Level::Warn,
                text: format!("{origin}: global key '{key}' has no value; ignored"),
            });
            return Ok(());
        };
        match key {
            "pollinterval" => self.pollinterval = Some(positive(v, origin, key, "Error: invalid pollinterval")?),
            "chroot" => self.chroot = Some(v.to_string()),
            "user" => self.set_user(v, origin, "global section"),
            "group" => self.set_group(v),
            "synchronous" => self.synchronous = Synchronous::parse(v),
            "debug_min" => match atoi(v) {
                Some(n) if n >= 0 => self.global_debug_min = Some(clamp_u32(n)),
                _ => self.notices.push(Notice {
                    level: log::Level::Info,
                    text: format!("WARNING : Invalid debug_min value found in ups.conf global settings ({origin})"),
                }),
            },
            k if k.eq_ignore_ascii_case("STATEPATH") => self.statepath = Some(v.to_string()),
            // Read by upsdrvctl, upsd or libusb drivers, not by us.
            _ => {}
        }
        Ok(())
    }

    fn set_user(&mut self, v: &str, origin: &Origin, place: &str) {
        if self.user_from_cli {
            self.notices.push(Notice {
                level: log::Level::Info,
                text: format!(
                    "User specified in {place} '{v}' was ignored due to '{}' specified on command line ({origin})",
                    self.user.as_deref().unwrap_or("")
                ),
            });
        } else {
            self.user = Some(v.to_string());
        }
    }

    fn set_group(&mut self, v: &str) {
        if !self.group_from_cli {
            self.group = Some(v.to_string());
        }
    }

    fn apply_key(
        &mut self,
        scope: Scope,
        origin: &Origin,
        key: &str,
        value: Option<&str>,
        progname: &str,
    ) -> Result<(), ConfigError> {
        // Flags of the core: accepted with or without a value, as in NUT.
        match key {
            "nolock" => {
                self.nolock = true;
                self.published
                    .push(("driver.flag.nolock".into(), "enabled".into()));
                return Ok(());
            }
            "ignorelb" => {
                self.ignorelb = true;
                self.published
                    .push(("driver.flag.ignorelb".into(), "enabled".into()));
                return Ok(());
            }
            "allow_killpower" => {
                self.allow_killpower = true;
                return Ok(());
            }
            _ => {}
        }
        let Some(v) = value else {
            if let Some(canon) = driver_var(key) {
                return Err(ConfigError::invalid(
                    format!("Error: '{key}' needs a value"),
                    origin,
                    key,
                    &format!("expected {canon} = <value>"),
                ));
            }
            if is_core_value_key(key, scope) {
                return Err(ConfigError::invalid(
                    format!("Error: '{key}' needs a value"),
                    origin,
                    key,
                    &format!("expected {key} = <value>"),
                ));
            }
            return Err(ConfigError::UnknownVariable {
                name: key.to_string(),
                flag: true,
                origin: origin.clone(),
            });
        };
        let lower = key.to_ascii_lowercase();
        for prefix in ["override.", "default."] {
            if let Some(var) = lower.strip_prefix(prefix)
                && !crate::protocol::is_valid_name(var)
            {
                // The name goes on the socket unquoted; a space or quote would break upsd's
                // reading of every later line.
                return Err(ConfigError::invalid(
                    format!("Error: '{key}' does not name a valid variable"),
                    origin,
                    key,
                    &format!("expected {prefix}<name> with letters, digits, '.', '_' or '-'"),
                ));
            }
        }
        if let Some(var) = lower.strip_prefix("override.") {
            let var = &key[key.len() - var.len()..];
            self.override_vars.push((var.to_string(), v.to_string()));
            self.published
                .push((format!("driver.parameter.{key}"), v.to_string()));
            return Ok(());
        }
        if let Some(var) = lower.strip_prefix("default.") {
            let var = &key[key.len() - var.len()..];
            self.default_vars.push((var.to_string(), v.to_string()));
            self.published
                .push((format!("driver.parameter.{key}"), v.to_string()));
            return Ok(());
        }
        match key {
            "port" => {
                self.port = Some(v.to_string());
                self.published
                    .push(("driver.parameter.port".into(), v.to_string()));
                return Ok(());
            }
            "user" => {
                self.set_user(v, origin, "driver section");
                return Ok(());
            }
            "group" => {
                self.set_group(v);
                return Ok(());
            }
            "synchronous" => {
                self.synchronous = Synchronous::parse(v);
                return Ok(());
            }
            "debug_min" => {
                match atoi(v) {
                    Some(n) if n >= 0 => self.debug_min = Some(clamp_u32(n)),
                    _ => self.notices.push(Notice {
                        level: log::Level::Info,
                        text: format!(
                            "WARNING : Invalid debug_min value found in ups.conf for the driver ({origin})"
                        ),
                    }),
                }
                return Ok(());
            }
            "pollinterval" => {
                let prefix = match (scope, &self.upsname) {
                    (Scope::Section, Some(u)) => format!("Error: UPS [{u}]: invalid pollinterval"),
                    _ => "Error: invalid pollinterval".to_string(),
                };
                self.pollinterval = Some(positive(v, origin, key, &prefix)?);
                return Ok(());
            }
            "sdcommands" => {
                self.sdcommands = Some(v.to_string());
                self.published
                    .push(("driver.parameter.sdcommands".into(), v.to_string()));
                return Ok(());
            }
            _ => {}
        }
        if scope == Scope::Section {
            match key {
                "driver" => {
                    let name = v.strip_prefix("lt-").unwrap_or(v);
                    if name != progname {
                        return Err(ConfigError::invalid(
                            format!(
                                "Error: UPS [{}] is for driver {v}, but I'm {progname}!",
                                self.upsname.as_deref().unwrap_or("")
                            ),
                            origin,
                            key,
                            &format!("expected driver = {progname}"),
                        ));
                    }
                    return Ok(());
                }
                // For upsd, upsdrvctl or other drivers; never an error here.
                "desc" | "sdorder" | "maxstartdelay" | "maxretry" | "retrydelay" | "nowait"
                | "driverpath" | "LIBUSB_DEBUG" => return Ok(()),
                "sddelay" => {
                    self.notices.push(Notice {
                        level: log::Level::Info,
                        text: format!("Obsolete value sddelay found in ups.conf ({origin})"),
                    });
                    return Ok(());
                }
                _ => {}
            }
        }
        let Some(canon) = driver_var(key) else {
            return Err(ConfigError::UnknownVariable {
                name: key.to_string(),
                flag: false,
                origin: origin.clone(),
            });
        };
        let value = Some(v.to_string());
        self.var_origins.retain(|(name, _)| *name != canon);
        self.var_origins.push((canon, origin.clone()));
        let vars = &mut self.vars;
        match canon {
            "upstype" => vars.upstype = value,
            "mfr" => vars.mfr = value,
            "model" => vars.model = value,
            "serial" => vars.serial = value,
            "CP" => vars.overrides.cp = value,
            "OL" => vars.overrides.ol = value,
            "LB" => vars.overrides.lb = value,
            "RB" => vars.overrides.rb = value,
            "BYPASS" => vars.overrides.bypass = value,
            "SD" => vars.overrides.sd = value,
            _ => vars.sdtime = value,
        }
        self.published
            .push((format!("driver.parameter.{key}"), v.to_string()));
        Ok(())
    }

    /// Where a driver variable (canonical name) got its value.
    pub fn origin_of(&self, canon: &str) -> Option<&Origin> {
        self.var_origins
            .iter()
            .find(|(name, _)| *name == canon)
            .map(|(_, o)| o)
    }

    /// The effective debug level: the larger of the `-D` count and `debug_min`; with no `-D`,
    /// `NUT_DEBUG_LEVEL` (passed in) stands for the command line.
    pub fn debug_level(&self, nut_debug_level: Option<&str>) -> u32 {
        let cli = if self.debug_flags > 0 {
            self.debug_flags
        } else {
            nut_debug_level
                .and_then(atoi)
                .filter(|n| *n > 0)
                .map(clamp_u32)
                .unwrap_or(0)
        };
        cli.max(self.debug_min.unwrap_or(0))
    }

    /// The poll interval in seconds (NUT's default is 2).
    pub fn pollinterval(&self) -> u32 {
        self.pollinterval.unwrap_or(2)
    }
}

fn clamp_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

fn positive(v: &str, origin: &Origin, key: &str, prefix: &str) -> Result<u32, ConfigError> {
    match atoi(v) {
        Some(n) if n > 0 => Ok(clamp_u32(n)),
        _ => Err(ConfigError::invalid(
            format!("{prefix}: {v}"),
            origin,
            key,
            "expected a whole number of seconds above 0",
        )),
    }
}

fn is_core_value_key(key: &str, scope: Scope) -> bool {
    matches!(
        key,
        "port" | "user" | "group" | "synchronous" | "debug_min" | "pollinterval" | "sdcommands"
    ) || (scope == Scope::Section && key == "driver")
}

/// The canonical name of a driver variable, matched case-insensitively as NUT does.
pub fn driver_var(key: &str) -> Option<&'static str> {
    DRIVER_VARS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(name, _)| *name)
}

/// `-L`: one `VALUE <name> "<description>"` line per driver variable.
pub fn var_list() -> String {
    DRIVER_VARS
        .iter()
        .map(|(name, desc)| format!("VALUE {name} \"{desc}\"\n"))
        .collect()
}

/// The variable part of `-h`: names right-aligned, as NUT 2.8.3+ prints it.
pub fn var_help() -> String {
    let width = DRIVER_VARS.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut out = String::from("Acceptable values for -x or ups.conf in this driver:\n\n");
    for (name, desc) in DRIVER_VARS {
        out.push_str(&format!("  {name:>width$}=<value>\t{desc}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli;

    fn entry(line: usize, key: &str, value: Option<&str>) -> ConfEntry {
        ConfEntry {
            line,
            key: key.into(),
            value: value.map(str::to_string),
        }
    }

    fn conf(global: Vec<ConfEntry>, section: Option<Vec<ConfEntry>>) -> ConfSource {
        ConfSource {
            path: "/etc/nut/ups.conf".into(),
            global,
            section,
            problems: vec![],
        }
    }

    fn run(argv: &[&str], src: Option<ConfSource>) -> Result<Result<Settings, Early>, ConfigError> {
        let args = cli::parse(argv.iter().map(|s| s.to_string())).expect("argv parses");
        let mut load = |_: &str| {
            src.clone().ok_or_else(|| {
                ConfigError::plain("Can't open /etc/nut/ups.conf: No such file or directory")
            })
        };
        Settings::from_args(&args, "genericups", &mut load)
    }

    fn ok(argv: &[&str], src: Option<ConfSource>) -> Settings {
        match run(argv, src) {
            Ok(Ok(s)) => s,
            other => panic!("{argv:?}: {other:?}"),
        }
    }

    fn err(argv: &[&str], src: Option<ConfSource>) -> String {
        match run(argv, src) {
            Err(e) => e.to_string(),
            other => panic!("{argv:?} should fail: {other:?}"),
        }
    }

    fn section(entries: &[(usize, &str, Option<&str>)]) -> ConfSource {
        conf(
            vec![],
            Some(entries.iter().map(|(l, k, v)| entry(*l, k, *v)).collect()),
        )
    }

    #[test]
    fn later_definitions_win_in_command_line_order() {
        let src = section(&[(2, "port", Some("/dev/ttyUSB0")), (3, "mfr", Some("Conf"))]);
        let s = ok(
            &["-x", "mfr=First", "-a", "ups", "-x", "mfr=Last"],
            Some(src.clone()),
        );
        assert_eq!(s.vars.mfr.as_deref(), Some("Last"));
        let s = ok(&["-a", "ups", "-x", "mfr=Cli"], Some(src.clone()));
        assert_eq!(s.vars.mfr.as_deref(), Some("Cli"));
        let s = ok(&["-x", "mfr=Cli", "-a", "ups"], Some(src));
        assert_eq!(s.vars.mfr.as_deref(), Some("Conf"));
    }

    #[test]
    fn driver_variables_are_case_insensitive_and_published_as_written() {
        let s = ok(
            &[
                "-s",
                "u",
                "-x",
                "Mfr=bar",
                "-x",
                "upsType=4",
                "-x",
                "cp=DTR",
            ],
            None,
        );
        assert_eq!(s.vars.mfr.as_deref(), Some("bar"));
        assert_eq!(s.vars.upstype.as_deref(), Some("4"));
        assert_eq!(s.vars.overrides.cp.as_deref(), Some("DTR"));
        assert_eq!(
            s.published,
            vec![
                ("driver.parameter.Mfr".to_string(), "bar".to_string()),
                ("driver.parameter.upsType".to_string(), "4".to_string()),
                ("driver.parameter.cp".to_string(), "DTR".to_string()),
            ]
        );
    }

    #[test]
    fn section_keys_for_other_programs_are_accepted() {
        let src = section(&[
            (1, "driver", Some("genericups")),
            (2, "port", Some("/dev/x")),
            (3, "desc", Some("Main UPS")),
            (4, "sdorder", Some("1")),
            (5, "maxstartdelay", Some("60")),
            (6, "maxretry", Some("3")),
            (7, "retrydelay", Some("5")),
            (8, "sddelay", Some("5")),
            (9, "nolock", None),
            (10, "upstype", Some("4")),
            (11, "override.ups.mfr", Some("Foo")),
            (12, "Default.battery.charge", Some("100")),
            (13, "pollinterval", Some("5")),
            (14, "synchronous", Some("yes")),
            (15, "debug_min", Some("2")),
            (16, "allow_killpower", None),
            (17, "sdcommands", Some("shutdown.default")),
        ]);
        let s = ok(&["-a", "ups"], Some(src));
        assert_eq!(s.port.as_deref(), Some("/dev/x"));
        assert!(s.nolock && s.allow_killpower && !s.ignorelb);
        assert_eq!(s.pollinterval(), 5);
        assert_eq!(s.synchronous, Synchronous::Yes);
        assert_eq!(s.debug_min, Some(2));
        assert_eq!(s.override_vars, vec![("ups.mfr".into(), "Foo".into())]);
        assert_eq!(
            s.default_vars,
            vec![("battery.charge".into(), "100".into())]
        );
        assert!(
            s.published
                .contains(&("driver.flag.nolock".into(), "enabled".into()))
        );
        assert!(
            s.published
                .contains(&("driver.parameter.override.ups.mfr".into(), "Foo".into()))
        );
        assert!(
            s.notices
                .iter()
                .any(|n| n.text.starts_with("Obsolete value sddelay"))
        );
    }

    #[test]
    fn global_section() {
        let src = conf(
            vec![
                entry(1, "maxretry", Some("3")),
                entry(2, "pollinterval", Some("7")),
                entry(3, "user", Some("root")),
                entry(4, "debug_min", Some("3")),
                entry(5, "statepath", Some("/tmp/st")),
                entry(6, "chroot", Some("/jail")),
                entry(7, "whatever", Some("1")),
                entry(8, "user", None),
            ],
            Some(vec![entry(10, "port", Some("/dev/x"))]),
        );
        let s = ok(&["-a", "ups"], Some(src.clone()));
        assert_eq!(s.pollinterval(), 7);
        assert_eq!(s.user.as_deref(), Some("root"));
        assert_eq!(s.debug_min, Some(3));
        assert_eq!(s.statepath.as_deref(), Some("/tmp/st"));
        assert_eq!(s.chroot.as_deref(), Some("/jail"));
        assert!(
            s.notices
                .iter()
                .any(|n| n.text.contains("global key 'user' has no value"))
        );

        let s = ok(&["-u", "nut", "-a", "ups"], Some(src));
        assert_eq!(s.user.as_deref(), Some("nut"));
        assert!(
            s.notices
                .iter()
                .any(|n| n.text.contains("was ignored due to 'nut'"))
        );
    }

    #[test]
    fn section_debug_min_beats_global_and_level_is_the_maximum() {
        let src = conf(
            vec![entry(1, "debug_min", Some("4"))],
            Some(vec![entry(3, "debug_min", Some("1"))]),
        );
        let s = ok(&["-a", "ups"], Some(src));
        assert_eq!(s.debug_min, Some(1));
        assert_eq!(s.debug_level(None), 1);
        let s = ok(&["-DDD", "-s", "u"], None);
        assert_eq!(s.debug_level(Some("5")), 3);
        let s = ok(&["-s", "u"], None);
        assert_eq!(s.debug_level(Some("5")), 5);
        assert_eq!(s.debug_level(Some("junk")), 0);
    }

    #[test]
    fn errors_name_place_key_and_expectation() {
        let cases: Vec<(Vec<&str>, Option<ConfSource>, &str)> = vec![
            (
                vec!["-a", "ups"],
                Some(section(&[(4, "pollinterval", Some("0"))])),
                "Error: UPS [ups]: invalid pollinterval: 0 (/etc/nut/ups.conf:4: key 'pollinterval': expected a whole number of seconds above 0)",
            ),
            (
                vec!["-a", "ups"],
                Some(section(&[(2, "driver", Some("usbhid-ups"))])),
                "Error: UPS [ups] is for driver usbhid-ups, but I'm genericups! (/etc/nut/ups.conf:2: key 'driver': expected driver = genericups)",
            ),
            (
                vec!["-a", "ups"],
                Some(section(&[(9, "foo", Some("1"))])),
                "/etc/nut/ups.conf:9: 'foo' is not a valid variable name for this driver",
            ),
            (
                vec!["-a", "ups"],
                Some(section(&[(9, "bar", None)])),
                "/etc/nut/ups.conf:9: 'bar' is not a valid flag for this driver",
            ),
            (
                vec!["-a", "ups"],
                Some(section(&[(5, "chroot", Some("/j"))])),
                "/etc/nut/ups.conf:5: 'chroot' is not a valid variable name for this driver",
            ),
            (
                vec!["-a", "ups"],
                Some(section(&[(6, "serial", None)])),
                "Error: 'serial' needs a value (/etc/nut/ups.conf:6: key 'serial': expected serial = <value>)",
            ),
            (
                vec!["-a", "ups"],
                Some(conf(vec![], None)),
                "Error: Section ups not found in ups.conf (/etc/nut/ups.conf: expected a section [ups] with at least one key)",
            ),
            (
                vec!["-a", "ups"],
                None,
                "Can't open /etc/nut/ups.conf: No such file or directory",
            ),
            (
                vec!["-s", "u", "-x", "driver=genericups"],
                None,
                "command line: 'driver' is not a valid variable name for this driver",
            ),
            (
                vec!["-s", "u", "-x", "desc=x"],
                None,
                "command line: 'desc' is not a valid variable name for this driver",
            ),
            (
                vec!["-s", "u", "-i", "0"],
                None,
                "Error: command-line: invalid pollinterval: 0 (command line: key '-i': expected a whole number of seconds above 0)",
            ),
            (
                vec!["-s", "u", "-i", "abc"],
                None,
                "Error: command-line: invalid pollinterval: abc (command line: key '-i': expected a whole number of seconds above 0)",
            ),
            (
                vec!["-s", "u", "-x", "port"],
                None,
                "Error: 'port' needs a value (command line: key 'port': expected port = <value>)",
            ),
            (
                vec!["-s", "u", "-x", "override.a b=1"],
                None,
                "Error: 'override.a b' does not name a valid variable (command line: key 'override.a b': expected override.<name> with letters, digits, '.', '_' or '-')",
            ),
            (
                vec!["-s", "u", "-x", "default.=1"],
                None,
                "Error: 'default.' does not name a valid variable (command line: key 'default.': expected default.<name> with letters, digits, '.', '_' or '-')",
            ),
            (
                vec!["-s", "u", "/dev/a", "/dev/b"],
                None,
                "Error: too many non-option arguments. Try -h for help.",
            ),
            (
                vec!["-c", "exit", "-c", "reload"],
                None,
                "Error: only one command per run can be sent with option -c. Try -h for help.",
            ),
        ];
        for (argv, src, want) in cases {
            assert_eq!(err(&argv, src), want, "{argv:?}");
        }
    }

    #[test]
    fn unknown_variable_prints_nut_text_with_location() {
        let e = run(&["-a", "ups"], Some(section(&[(9, "foo", Some("1"))]))).expect_err("fails");
        assert_eq!(
            e.stdout_text().as_deref(),
            Some(
                "\nFatal error: 'foo' is not a valid variable name for this driver.\n\
                 (/etc/nut/ups.conf:9)\n\n\
                 Look in the man page or call this driver with -h for a list of\n\
                 valid variable names and flags.\n"
            )
        );
    }

    #[test]
    fn early_exits_happen_in_order() {
        assert_eq!(run(&["-h", "-a", "ups"], None), Ok(Err(Early::Help)));
        assert_eq!(run(&["-s", "u", "-L"], None), Ok(Err(Early::ListVars)));
        assert_eq!(run(&["-V"], None), Ok(Err(Early::Version)));
        // -a with a broken config fails before a later -h is seen, as in NUT.
        assert!(run(&["-a", "ups", "-h"], None).is_err());
    }

    #[test]
    fn legacy_form_means_port_and_implicit_name() {
        let s = ok(&["-DDDDD", "-x", "upstype=4", "/dev/ttyUSB0"], None);
        assert_eq!(s.port.as_deref(), Some("/dev/ttyUSB0"));
        assert_eq!(s.upsname.as_deref(), Some("ttyUSB0"));
        assert!(!s.autoconfig);
        assert_eq!(s.debug_flags, 5);
        let s = ok(&["-s", "mine", "/dev/ttyUSB0"], None);
        assert_eq!(s.upsname.as_deref(), Some("mine"));
    }

    #[test]
    fn other_options() {
        let s = ok(
            &[
                "-s", "u", "-k", "-FF", "-B", "-d", "3", "-q", "-r", "/j", "-g", "dialout", "-i",
                "5x",
            ],
            None,
        );
        assert!(s.kill && s.background);
        assert_eq!(s.foreground, 2);
        assert_eq!(s.dump, Some(3));
        assert_eq!(s.quiet, 1);
        assert_eq!(s.chroot.as_deref(), Some("/j"));
        assert_eq!(s.group.as_deref(), Some("dialout"));
        assert_eq!(s.pollinterval(), 5);
        assert_eq!(ok(&["-s", "u", "-d", "0"], None).dump, None);
        assert_eq!(ok(&["-s", "u", "-d", "x"], None).dump, None);
    }

    #[test]
    fn var_list_matches_nut_layout() {
        let list = var_list();
        assert!(list.starts_with("VALUE upstype \"Set UPS type (required)\"\nVALUE mfr "));
        assert!(list.ends_with("VALUE sdtime \"Hold time for shutdown value (seconds)\"\n"));
        assert_eq!(list.lines().count(), 11);
        assert!(var_help().contains("  upstype=<value>\tSet UPS type (required)\n"));
        assert!(var_help().contains("      mfr=<value>\tOverride manufacturer name\n"));
    }
}
