//! One run of the program, from argv to an exit code.
//!
//! Owns the sequence NUT's `main()` follows: banner, options in order (with ups.conf read
//! for `-a`), the early exits (`-h`, `-V`, `-L`), the post-parse checks and their messages,
//! the debug level, then the chosen mode (dump, or the foreground driver). Every failure is
//! returned as an exit code; nothing below calls `process::exit`.

use crate::cli::{self, Args};
use crate::driver::{Driver, Fatal};
use crate::paths::{Paths, basename};
use crate::settings::{ConfEntry, ConfSource, ConfigError, Early, Settings, var_help, var_list};
use crate::upstype::type_list;
use crate::{logging, upsconf, upsdebug, version};
use std::ffi::OsString;
use std::io::Write;

/// The process environment, read once at the edge.
pub struct Env {
    pub get: Box<EnvLookup>,
}

/// Looks up one environment variable.
pub type EnvLookup = dyn Fn(&str) -> Option<String>;

impl Env {
    pub fn process() -> Env {
        Env {
            get: Box::new(|k| std::env::var(k).ok()),
        }
    }
}

/// `NUT_QUIET_INIT_BANNER`: set to empty, `1`, `true` or `yes` (any case) means quiet. (NUT
/// itself does not treat `1` as quiet; we do.)
pub fn banner_is_quiet(value: Option<&str>) -> bool {
    match value {
        None => false,
        Some(v) => {
            let v = v.trim().to_ascii_lowercase();
            v.is_empty() || v == "1" || v == "true" || v == "yes"
        }
    }
}

fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn help(progname: &str) -> String {
    format!(
        "\n{}\n{}\n{}\nSee genericups(8) for cabling, overrides and how to find your UPS type.\n",
        cli::usage(progname),
        var_help(),
        type_list()
    )
}

/// Reads ups.conf for `-a <id>` and hands the dispatcher what it needs.
fn load_conf(path: &std::path::Path, id: &str) -> Result<ConfSource, ConfigError> {
    let conf = upsconf::load(path).map_err(|e| ConfigError::Invalid {
        message: format!(
            "Can't open {}: {}",
            path.display(),
            crate::port::strerror(&e)
        ),
        origin: None,
        key: None,
        hint: Some(
            "expected a readable ups.conf (set NUT_CONFPATH to use another directory)".into(),
        ),
    })?;
    let entry = |e: &upsconf::Entry| ConfEntry {
        line: e.line,
        key: e.key.clone(),
        value: e.value.clone(),
    };
    Ok(ConfSource {
        path: path.display().to_string(),
        global: conf.global.iter().map(entry).collect(),
        section: conf
            .section_entries(id)
            .map(|entries| entries.into_iter().map(entry).collect()),
        problems: conf
            .problems
            .iter()
            .map(|p| (p.line, p.message.clone()))
            .collect(),
    })
}

fn fatal(f: &Fatal) -> i32 {
    if let Some(text) = &f.stdout {
        out(text);
    }
    log::error!("{}", f.message);
    1
}

/// Runs the program; returns the exit code.
pub fn run(argv: Vec<OsString>, env: &Env) -> i32 {
    let argv0 = argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "genericups".into());
    let progname = basename(&argv0).to_string();
    // Errors before the debug level is known are still shown.
    logging::init(0);

    if !banner_is_quiet((env.get)("NUT_QUIET_INIT_BANNER").as_deref()) {
        out(&format!("{}\n", version::banner()));
    }

    let args: Args = match cli::parse(argv.into_iter().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{}", e.getopt_line(&argv0));
            log::error!("Error: unknown option -?. Try -h for help.");
            return 1;
        }
    };

    // ups.conf's location depends only on the environment; the state directory may also come
    // from ups.conf's global STATEPATH, so it is resolved again once that has been read.
    let conf_path = Paths::resolve(&*env.get, None).ups_conf();
    let mut load = |id: &str| load_conf(&conf_path, id);
    let settings = match Settings::from_args(&args, &progname, &mut load) {
        Ok(Ok(s)) => s,
        Ok(Err(Early::Help)) => {
            out(&help(&progname));
            return 0;
        }
        Ok(Err(Early::Version)) => return 0,
        Ok(Err(Early::ListVars)) => {
            out(&var_list());
            return 0;
        }
        Err(e) => {
            if let Some(text) = e.stdout_text() {
                out(&text);
            }
            log::error!("{e}");
            return 1;
        }
    };

    if settings.upsname.is_none() {
        log::error!("Error: specifying '-a id' or '-s id' is now mandatory. Try -h for help.");
        return 1;
    }
    if settings.port.is_none() && settings.signal_command.is_none() {
        log::error!(
            "Error: you must specify a port name in ups.conf or in '-x port=...' argument.\nTry -h for help."
        );
        return 1;
    }

    let debug = settings.debug_level((env.get)("NUT_DEBUG_LEVEL").as_deref());
    logging::set_debug_level(debug);
    for n in &settings.notices {
        log::log!(n.level, "{}", n.text);
    }
    upsdebug!(1, "debug level is '{debug}'");

    if settings.signal_command.is_some() {
        log::error!("Error: -c is not supported by this version yet");
        return 1;
    }
    if settings.kill {
        log::error!(
            "Error: -k (kill power) is not supported by this version yet; nothing was sent to the UPS"
        );
        return 1;
    }
    if settings.chroot.is_some() || settings.user.is_some() {
        log::warn!(
            "WARNING: chroot and user settings are not applied by this version yet; the driver keeps running as the user that started it"
        );
    }

    let paths = Paths::resolve(&*env.get, settings.statepath.as_deref());
    let dump = settings.dump;
    let stays_foreground = settings.debug_flags > 0 || settings.foreground > 0 || dump.is_some();
    let wants_background = settings.background || !stays_foreground;
    if debug == 0 && dump.is_none() {
        crate::syslog::open();
        logging::enable_syslog(true);
    }

    // A running driver for this UPS answers on its socket. Refuse before touching the port:
    // opening it would raise DTR and RTS under the running driver's feet.
    let upsname = settings.upsname.clone().unwrap_or_default();
    let socket = paths.socket(&progname, &upsname);
    if !(dump.is_some() && settings.nolock)
        && std::os::unix::net::UnixStream::connect(&socket).is_ok()
    {
        log::error!(
            "Duplicate driver instance detected: {} answers, so a driver for [{upsname}] is \
             already running; stop it first (SIGTERM its process)",
            socket.display()
        );
        return 1;
    }
    if nix::unistd::geteuid().is_root() && settings.user.is_none() {
        log::info!("Running as root: this version does not switch to the 'nut' user yet");
    }

    let driver = match Driver::init(settings, debug) {
        Ok(d) => d,
        Err(f) => return fatal(&f),
    };
    if let Some(count) = dump {
        out(&driver.dump(count));
        return 0;
    }
    if wants_background {
        log::warn!(
            "Running in the foreground: this version cannot move to the background yet, so do \
             not start it with upsdrvctl or the nut-driver service; run it with -F (or -D) \
             under a service of its own"
        );
    }
    match driver.run(&paths, &progname) {
        Ok(code) => code,
        Err(f) => fatal(&f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_banner_values() {
        let cases = [
            (None, false),
            (Some(""), true),
            (Some("1"), true),
            (Some("true"), true),
            (Some("TRUE"), true),
            (Some("yes"), true),
            (Some("0"), false),
            (Some("no"), false),
        ];
        for (v, want) in cases {
            assert_eq!(banner_is_quiet(v), want, "{v:?}");
        }
    }
}
