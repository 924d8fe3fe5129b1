//! Where things live: ups.conf, the driver socket, the PID file.
//!
//! Owns the compiled-in defaults (Debian layout, changeable at build time through the
//! `GENERICUPS_CONFPATH`, `GENERICUPS_STATEPATH`, `GENERICUPS_ALTPIDPATH`, `GENERICUPS_USER`
//! and `GENERICUPS_GROUP` environment variables of the build) and their run-time overrides
//! `NUT_CONFPATH`, `NUT_STATEPATH`, `NUT_ALTPIDPATH`. The environment is passed in as a
//! lookup function so the rules can be tested without touching the process environment.
#![forbid(unsafe_code)]

use std::path::PathBuf;

pub const DEFAULT_CONFPATH: &str = match option_env!("GENERICUPS_CONFPATH") {
    Some(p) => p,
    None => "/etc/nut",
};
pub const DEFAULT_STATEPATH: &str = match option_env!("GENERICUPS_STATEPATH") {
    Some(p) => p,
    None => "/run/nut",
};
pub const DEFAULT_ALTPIDPATH: &str = match option_env!("GENERICUPS_ALTPIDPATH") {
    Some(p) => p,
    None => DEFAULT_STATEPATH,
};
pub const DEFAULT_USER: &str = match option_env!("GENERICUPS_USER") {
    Some(u) => u,
    None => "nut",
};
pub const DEFAULT_GROUP: &str = match option_env!("GENERICUPS_GROUP") {
    Some(g) => g,
    None => "nut",
};

/// `sockaddr_un.sun_path` on Linux; the path plus its NUL must fit.
pub const SUN_PATH_MAX: usize = 108;

/// Resolved directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub confpath: PathBuf,
    pub statepath: PathBuf,
    pub altpidpath: PathBuf,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

impl Paths {
    /// Applies NUT's rules: each `NUT_*` variable wins when set and non-empty; the PID-file
    /// directory falls back to the state directory's variable before the compiled default;
    /// a `STATEPATH` from ups.conf's global section is used when `NUT_STATEPATH` is not set.
    pub fn resolve(env: impl Fn(&str) -> Option<String>, conf_statepath: Option<&str>) -> Paths {
        let confpath = non_empty(env("NUT_CONFPATH")).unwrap_or_else(|| DEFAULT_CONFPATH.into());
        let statepath = non_empty(env("NUT_STATEPATH"))
            .or_else(|| conf_statepath.filter(|s| !s.is_empty()).map(str::to_string))
            .unwrap_or_else(|| DEFAULT_STATEPATH.into());
        let altpidpath = non_empty(env("NUT_ALTPIDPATH"))
            .or_else(|| non_empty(env("NUT_STATEPATH")))
            .or_else(|| conf_statepath.filter(|s| !s.is_empty()).map(str::to_string))
            .unwrap_or_else(|| DEFAULT_ALTPIDPATH.into());
        Paths {
            confpath: confpath.into(),
            statepath: statepath.into(),
            altpidpath: altpidpath.into(),
        }
    }

    pub fn ups_conf(&self) -> PathBuf {
        self.confpath.join("ups.conf")
    }

    /// `<statepath>/<progname>-<upsname>`: upsd builds the same name from ups.conf.
    pub fn socket(&self, progname: &str, upsname: &str) -> PathBuf {
        self.statepath.join(format!("{progname}-{upsname}"))
    }

    pub fn pidfile(&self, progname: &str, upsname: &str) -> PathBuf {
        self.altpidpath.join(format!("{progname}-{upsname}.pid"))
    }
}

/// The last path component, as NUT derives the program name from argv[0].
pub fn basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn environment_overrides_defaults() {
        type Case<'a> = (
            &'a [(&'a str, &'a str)],
            Option<&'a str>,
            (&'a str, &'a str, &'a str),
        );
        let cases: &[Case] = &[
            (
                &[],
                None,
                (DEFAULT_CONFPATH, DEFAULT_STATEPATH, DEFAULT_ALTPIDPATH),
            ),
            (
                &[("NUT_CONFPATH", "/c"), ("NUT_STATEPATH", "/s")],
                None,
                ("/c", "/s", "/s"),
            ),
            (
                &[("NUT_STATEPATH", "/s"), ("NUT_ALTPIDPATH", "/p")],
                None,
                (DEFAULT_CONFPATH, "/s", "/p"),
            ),
            (
                &[("NUT_STATEPATH", "")],
                None,
                (DEFAULT_CONFPATH, DEFAULT_STATEPATH, DEFAULT_ALTPIDPATH),
            ),
            (&[], Some("/conf"), (DEFAULT_CONFPATH, "/conf", "/conf")),
            (
                &[("NUT_STATEPATH", "/s")],
                Some("/conf"),
                (DEFAULT_CONFPATH, "/s", "/s"),
            ),
        ];
        for (vars, conf, (c, s, p)) in cases {
            let got = Paths::resolve(env(vars), *conf);
            assert_eq!(got.confpath, PathBuf::from(c), "{vars:?}");
            assert_eq!(got.statepath, PathBuf::from(s), "{vars:?}");
            assert_eq!(got.altpidpath, PathBuf::from(p), "{vars:?}");
        }
    }

    #[test]
    fn names() {
        let p = Paths::resolve(env(&[("NUT_STATEPATH", "/run/nut")]), None);
        assert_eq!(
            p.socket("genericups", "myups"),
            PathBuf::from("/run/nut/genericups-myups")
        );
        assert_eq!(
            p.pidfile("genericups", "myups"),
            PathBuf::from("/run/nut/genericups-myups.pid")
        );
        assert_eq!(basename("/lib/nut/genericups"), "genericups");
        assert_eq!(basename("genericups"), "genericups");
        assert_eq!(basename("/dev/ttyUSB0"), "ttyUSB0");
        assert_eq!(basename("sim:/tmp/lines"), "lines");
    }
}
