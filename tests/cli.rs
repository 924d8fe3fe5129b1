//! The command line and ups.conf as a user meets them: output, messages and exit codes of the
//! real binary, compared with NUT's C driver (`/lib/nut/genericups`) wherever we keep its
//! behaviour on purpose.

mod support;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use support::{TempDir, dump_vars, nut_genericups, run_with_timeout, text};

const OURS: &str = env!("CARGO_BIN_EXE_genericups");

/// Runs a driver with a clean environment pointing at `dir`.
fn run_in(bin: &Path, dir: &Path, args: &[impl AsRef<OsStr>], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("NUT_CONFPATH", dir)
        .env("NUT_STATEPATH", dir)
        .env("NUT_ALTPIDPATH", dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_with_timeout(&mut cmd, Duration::from_secs(20))
}

fn ours(dir: &Path, args: &[impl AsRef<OsStr>]) -> Output {
    run_in(Path::new(OURS), dir, args, &[])
}

/// The argv of a run on a simulated port: `-s u -x port=<port> -x upstype=<upstype>`, then
/// `-x <var>` for each of `vars`, then `-d 1` if `dump` is set.
fn sim_argv(port: &str, upstype: &str, vars: &[&str], dump: bool) -> Vec<String> {
    let mut argv = ["-s", "u", "-x", &format!("port={port}")]
        .map(String::from)
        .to_vec();
    argv.extend(["-x".to_string(), format!("upstype={upstype}")]);
    for var in vars {
        argv.extend(["-x".to_string(), var.to_string()]);
    }
    if dump {
        argv.extend(["-d", "1"].map(String::from));
    }
    argv
}

/// The value of `name` in the variables a dump-mode run printed.
fn var(o: &Output, name: &str) -> Option<String> {
    dump_vars(&body(o)).remove(name)
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// stdout without the banner line.
fn body(o: &Output) -> String {
    let out = text(&o.stdout);
    match out.split_once('\n') {
        Some((first, rest)) if first.starts_with("Network UPS Tools") => rest.to_string(),
        _ => out,
    }
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

#[test]
fn help_lists_usage_variables_and_all_24_types() {
    let dir = TempDir::new("cli-help");
    let o = ours(dir.path(), &["-h"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = text(&o.stdout);
    assert!(out.starts_with("Network UPS Tools "), "{out}");
    assert!(
        out.contains("usage: genericups (-a <id>|-s <id>) [OPTIONS]"),
        "{out}"
    );
    for (n, t) in genericups::upstype::UPS_TYPES.iter().enumerate() {
        assert!(
            out.contains(&format!("\n{n}: {}\n", t.desc)),
            "type {n} missing:\n{out}"
        );
    }
    for var in [
        "upstype", "mfr", "model", "serial", "CP", "OL", "LB", "RB", "BYPASS", "SD", "sdtime",
    ] {
        assert!(
            out.contains(&format!("{var}=<value>")),
            "{var} missing:\n{out}"
        );
    }
}

#[test]
fn help_type_list_is_the_c_drivers() {
    let Some(c) = nut_genericups() else { return };
    let dir = TempDir::new("cli-help-c");
    let theirs = text(&run_in(&c, dir.path(), &["-h"], &[]).stdout);
    let ours = text(&ours(dir.path(), &["-h"]).stdout);
    let list = |s: &str| {
        s.split_once("Valid UPS types:")
            .map(|(_, rest)| {
                rest.lines()
                    .filter(|l| !l.is_empty())
                    .take(24)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    assert!(!list(&theirs).is_empty());
    assert_eq!(list(&ours), list(&theirs));
}

#[test]
fn list_vars_matches_the_c_driver() {
    let dir = TempDir::new("cli-l");
    let o = ours(dir.path(), &["-L"]);
    assert_eq!(code(&o), 0);
    assert_eq!(body(&o).lines().count(), 11, "{}", show(&o));
    assert!(body(&o).starts_with("VALUE upstype \"Set UPS type (required)\"\n"));
    if let Some(c) = nut_genericups() {
        let theirs = run_in(&c, dir.path(), &["-L"], &[]);
        assert_eq!(body(&o), body(&theirs));
        assert_eq!(code(&theirs), 0);
    }
}

#[test]
fn version_prints_the_banner_in_nuts_shape() {
    let dir = TempDir::new("cli-v");
    let o = ours(dir.path(), &["-V"]);
    assert_eq!(code(&o), 0);
    let out = text(&o.stdout);
    let shape = |line: &str| {
        line.starts_with("Network UPS Tools ")
            && line.contains(" - Generic contact-closure UPS driver ")
    };
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(shape(out.trim_end()), "{out}");
    assert!(out.contains(genericups::version::DRIVER_VERSION));
    if let Some(c) = nut_genericups() {
        let theirs = text(&run_in(&c, dir.path(), &["-V"], &[]).stdout);
        assert!(
            shape(theirs.trim_end()),
            "the C banner changed shape: {theirs}"
        );
    }
}

#[test]
fn quiet_banner() {
    let dir = TempDir::new("cli-quiet");
    for (value, quiet) in [("1", true), ("true", true), ("", true), ("0", false)] {
        let o = run_in(
            Path::new(OURS),
            dir.path(),
            &["-L"],
            &[("NUT_QUIET_INIT_BANNER", value)],
        );
        assert_eq!(
            !text(&o.stdout).starts_with("Network UPS Tools"),
            quiet,
            "{value:?}"
        );
    }
}

/// Errors where we keep NUT's wording and exit code 1: stderr must be the C driver's
/// (with argv[0] swapped).
#[test]
fn usage_errors_match_the_c_driver() {
    let dir = TempDir::new("cli-err");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--help"],
            "invalid option -- '-'\nError: unknown option -?. Try -h for help.\n",
        ),
        (
            &["-Z"],
            "invalid option -- 'Z'\nError: unknown option -?. Try -h for help.\n",
        ),
        (
            &["-a"],
            "option requires an argument -- 'a'\nError: unknown option -?. Try -h for help.\n",
        ),
        (
            &[],
            "Error: specifying '-a id' or '-s id' is now mandatory. Try -h for help.\n",
        ),
        (
            &["-s", "x"],
            "Error: you must specify a port name in ups.conf or in '-x port=...' argument.\nTry -h for help.\n",
        ),
        (
            &["-s", "x", "/dev/a", "/dev/b"],
            "Error: too many non-option arguments. Try -h for help.\n",
        ),
    ];
    let c = nut_genericups();
    for (args, want) in cases {
        let o = ours(dir.path(), args);
        assert_eq!(code(&o), 1, "{args:?}\n{}", show(&o));
        let err = text(&o.stderr).replace(OURS, "");
        let err = err.strip_prefix(": ").unwrap_or(&err);
        assert_eq!(err, *want, "{args:?}");
        if let Some(c) = &c {
            let t = run_in(c, dir.path(), args, &[]);
            assert_eq!(code(&t), 1, "C driver, {args:?}");
            let terr = text(&t.stderr).replace(c.to_str().unwrap_or_default(), "");
            let terr = terr.strip_prefix(": ").unwrap_or(&terr);
            assert_eq!(err, terr, "{args:?}: ours vs C");
        }
    }
}

#[test]
fn unknown_variable_exits_1_where_c_exits_0() {
    let dir = TempDir::new("cli-unknown");
    let args = ["-s", "x", "-x", "upstype=4", "-x", "foo=1"];
    let o = ours(dir.path(), &args);
    assert_eq!(code(&o), 1, "{}", show(&o));
    let out = body(&o);
    assert!(
        out.contains("Fatal error: 'foo' is not a valid variable name for this driver."),
        "{out}"
    );
    assert!(out.contains("Look in the man page or call this driver with -h for a list of"));
    if let Some(c) = nut_genericups() {
        let t = run_in(&c, dir.path(), &args, &[]);
        assert_eq!(code(&t), 0, "the C bug we fix is still there");
        assert!(
            body(&t).contains("Fatal error: 'foo' is not a valid variable name for this driver.")
        );
    }
}

fn write_conf(dir: &Path, text: &[u8]) {
    std::fs::write(dir.join("ups.conf"), text).expect("write ups.conf");
}

fn sim_lines(dir: &Path, lines: &str) -> String {
    let path = dir.join("lines");
    std::fs::write(&path, lines).expect("write lines");
    format!("sim:{}", path.display())
}

#[test]
fn ups_conf_grammar_through_the_binary() {
    let dir = TempDir::new("cli-conf");
    let port = sim_lines(dir.path(), "CTS DCD");
    let conf = format!(
        "# global part\r\n\
         maxretry = 3\r\n\
         pollinterval=7   # comment after a value\r\n\
         \r\n\
         [other]\r\n\
         \tdriver = usbhid-ups\r\n\
         \tport = auto\r\n\
         [ups]\r\n\
         \tdriver = genericups\r\n\
         \tport = \"{port}\"\r\n\
         \tdesc = \"Main \\\"rack\\\" UPS # not a comment\"\r\n\
         \tupstype = 1\r\n\
         \tmfr = \"Acme \\#1\"\r\n\
         \tmodel = Mo\\ del\r\n\
         \tsdorder = 1\r\n\
         \tmaxstartdelay = 60\r\n\
         \tnolock\r\n\
         \tUpsType = \\\r\n\
         4\r\n\
         [ups]\r\n\
         \tserial = SN123\r\n"
    );
    write_conf(dir.path(), conf.as_bytes());
    let o = ours(dir.path(), &["-a", "ups", "-d", "1"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let vars = dump_vars(&body(&o));
    let get = |k: &str| vars.get(k).map(String::as_str);
    assert_eq!(
        get("ups.mfr"),
        Some("Acme \\#1"),
        "escaped in the dump like upsc"
    );
    assert_eq!(get("ups.model"), Some("Mo del"));
    assert_eq!(get("ups.serial"), Some("SN123"), "repeated section merged");
    assert_eq!(
        get("driver.parameter.pollinterval"),
        Some("7"),
        "global pollinterval"
    );
    assert_eq!(get("driver.flag.nolock"), Some("enabled"));
    // `UpsType` names the same (case-insensitive) node as the earlier `upstype`, which keeps
    // its first spelling, as in NUT's tree.
    assert_eq!(
        get("driver.parameter.upstype"),
        Some("4"),
        "continuation line"
    );
    assert_eq!(get("driver.parameter.UpsType"), None);
    assert_eq!(
        get("ups.status"),
        Some("OL"),
        "type 4 (the later UpsType wins)"
    );
    assert_eq!(get("driver.parameter.port"), Some(port.as_str()));
    assert_eq!(
        get("driver.parameter.sdorder"),
        None,
        "keys for other programs are not published"
    );
}

#[test]
fn ups_conf_errors_name_file_line_and_key() {
    let dir = TempDir::new("cli-conf-err");
    let port = sim_lines(dir.path(), "CTS DCD");
    let conf_path = dir.path().join("ups.conf");
    let cases: Vec<(String, &[&str], Vec<String>)> = vec![
        (
            format!(
                "[ups]\n driver = genericups\n port = {port}\n upstype = 4\n pollinterval = 0\n"
            ),
            &["-a", "ups"],
            vec![format!(
                "Error: UPS [ups]: invalid pollinterval: 0 ({}:5: key 'pollinterval': expected a whole number of seconds above 0)",
                conf_path.display()
            )],
        ),
        (
            format!("[ups]\n driver = usbhid-ups\n port = {port}\n"),
            &["-a", "ups"],
            vec![format!(
                "Error: UPS [ups] is for driver usbhid-ups, but I'm genericups! ({}:2: key 'driver': expected driver = genericups)",
                conf_path.display()
            )],
        ),
        (
            format!("[ups]\n port = {port}\n upstype = 99\n"),
            &["-a", "ups"],
            vec![format!(
                "Fatal error: unknown UPS type number ({}:3: key 'upstype')",
                conf_path.display()
            )],
        ),
        (
            format!("[ups]\n port = {port}\n upstype = 4\n OL = CST\n"),
            &["-a", "ups"],
            vec![
                "Error: invalid override OL=CST: 'CST' is not a signal name".to_string(),
                format!("({}:4: key 'OL')", conf_path.display()),
            ],
        ),
        (
            format!("[ups]\n port = {port}\n upstype = 4\n SD = CTS\n"),
            &["-a", "ups"],
            vec!["SD=CTS: can't override output with CTS (not an output)".to_string()],
        ),
        (
            format!("[ups]\n port = {port}\n upstype = 4\n LB = DTR\n"),
            &["-a", "ups"],
            vec!["LB=DTR: can't override input with DTR (not an input)".to_string()],
        ),
        (
            format!("[ups]\n port = {port}\n"),
            &["-a", "ups"],
            vec!["No upstype set - see help text / man page!".to_string()],
        ),
        (
            "[other]\n port = /dev/x\n".to_string(),
            &["-a", "ups"],
            vec!["Error: Section ups not found in ups.conf".to_string()],
        ),
    ];
    for (conf, args, wants) in cases {
        write_conf(dir.path(), conf.as_bytes());
        let o = ours(dir.path(), args);
        assert_eq!(code(&o), 1, "{conf}\n{}", show(&o));
        let err = text(&o.stderr);
        for want in wants {
            assert!(err.contains(&want), "{conf}\nwanted: {want}\n{}", show(&o));
        }
    }
    let o = ours(&dir.path().join("nope"), &["-a", "ups"]);
    assert_eq!(code(&o), 1);
    assert!(text(&o.stderr).contains("Can't open "), "{}", show(&o));
}

#[test]
fn unknown_key_in_ups_conf_names_the_line() {
    let dir = TempDir::new("cli-conf-unknown");
    let port = sim_lines(dir.path(), "CTS DCD");
    write_conf(
        dir.path(),
        format!("[ups]\n port = {port}\n upstype = 4\n bogus = 1\n").as_bytes(),
    );
    let o = ours(dir.path(), &["-a", "ups"]);
    assert_eq!(code(&o), 1, "{}", show(&o));
    assert!(
        body(&o).contains("Fatal error: 'bogus' is not a valid variable name for this driver.")
    );
    assert!(
        body(&o).contains(&format!("({}:4)", dir.path().join("ups.conf").display())),
        "{}",
        show(&o)
    );
}

#[test]
fn upstype_errors_print_the_type_list() {
    let dir = TempDir::new("cli-upstype");
    let port = sim_lines(dir.path(), "CTS DCD");
    for (value, wanted) in [
        ("24", "unknown UPS type number"),
        ("abc", "upstype 'abc' is not a number"),
    ] {
        let o = ours(dir.path(), &sim_argv(&port, value, &[], false));
        assert_eq!(code(&o), 1, "{}", show(&o));
        assert!(
            body(&o).starts_with("Valid UPS types:\n\n0: UPSONIC LAN Saver 600\n"),
            "{}",
            show(&o)
        );
        assert!(text(&o.stderr).contains(wanted), "{}", show(&o));
    }
    // atoi leniency: leading digits count.
    let o = ours(dir.path(), &sim_argv(&port, "4x", &[], true));
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(var(&o, "ups.model").as_deref(), Some("Generic RUPS model"));
}

#[test]
fn command_line_order_decides_between_ups_conf_and_x() {
    let dir = TempDir::new("cli-order");
    let port = sim_lines(dir.path(), "CTS DCD");
    write_conf(
        dir.path(),
        format!("[ups]\n port = {port}\n upstype = 4\n mfr = FromConf\n").as_bytes(),
    );
    let after = ours(dir.path(), &["-a", "ups", "-x", "mfr=FromCli", "-d", "1"]);
    let before = ours(dir.path(), &["-x", "mfr=FromCli", "-a", "ups", "-d", "1"]);
    assert_eq!(
        var(&after, "ups.mfr").as_deref(),
        Some("FromCli"),
        "{}",
        show(&after)
    );
    assert_eq!(
        var(&before, "ups.mfr").as_deref(),
        Some("FromConf"),
        "{}",
        show(&before)
    );
}

#[test]
fn legacy_debugging_form_is_accepted() {
    let dir = TempDir::new("cli-legacy");
    let port = sim_lines(dir.path(), "DCD");
    let o = ours(dir.path(), &["-d", "1", "-x", "upstype=4", &port]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let vars = dump_vars(&body(&o));
    assert_eq!(vars.get("ups.status").map(String::as_str), Some("OB"));
    assert_eq!(vars.get("driver.parameter.port"), Some(&port));
    assert!(
        text(&o.stderr).contains("taken as -x port="),
        "{}",
        show(&o)
    );
    if let Some(c) = nut_genericups() {
        let t = run_in(&c, dir.path(), &["-d", "1", "-x", "upstype=4", &port], &[]);
        assert_eq!(code(&t), 1, "NUT rejects the legacy form");
        assert!(text(&t.stderr).contains("too many non-option arguments"));
    }
}

#[test]
fn overrides_change_the_decoding() {
    let dir = TempDir::new("cli-ovr");
    // Type 4 reads OL from CTS; with OL=-DSR it reads OB while DSR is high.
    let port = sim_lines(dir.path(), "CTS DCD DSR");
    let args = sim_argv(&port, "4", &[], true);
    let plain = ours(dir.path(), &args);
    assert_eq!(var(&plain, "ups.status").as_deref(), Some("OL"));
    let mut with = args.clone();
    with.extend(["-x", "OL=-DSR", "-x", "RB=DSR"].map(String::from));
    let o = ours(dir.path(), &with);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(var(&o, "ups.status").as_deref(), Some("OB RB"));
}

/// `ignorelb`: LB comes from the battery values (given here with `default.`), not the lines,
/// and is appended last, as NUT does.
#[test]
fn ignorelb_judges_the_battery_by_its_values() {
    let dir = TempDir::new("cli-ignorelb");
    // Type 4: DCD low means LB on the lines.
    let cases = [
        ("CTS", "100", "OL"),
        ("CTS DCD", "5", "OL LB"),
        ("DCD", "5", "OB LB"),
        ("", "50", "OB"),
    ];
    for (lines, charge, want) in cases {
        let port = sim_lines(dir.path(), lines);
        let charge_var = format!("default.battery.charge={charge}");
        let xs = ["ignorelb", &charge_var, "default.battery.charge.low=10"];
        let o = ours(dir.path(), &sim_argv(&port, "4", &xs, true));
        assert_eq!(code(&o), 0, "{}", show(&o));
        let vars = dump_vars(&body(&o));
        assert_eq!(
            vars.get("ups.status").map(String::as_str),
            Some(want),
            "{lines:?} {charge}"
        );
        assert_eq!(
            vars.get("driver.flag.ignorelb").map(String::as_str),
            Some("enabled")
        );
    }
    // Without the battery values the flag cannot work, and start-up fails as in NUT.
    let port = sim_lines(dir.path(), "CTS");
    let o = ours(dir.path(), &sim_argv(&port, "4", &["ignorelb"], true));
    assert_eq!(code(&o), 1, "{}", show(&o));
    assert!(
        text(&o.stderr).contains("The 'ignorelb' flag is set"),
        "{}",
        show(&o)
    );
}

#[test]
fn override_typos_and_look_alikes_are_refused() {
    let dir = TempDir::new("cli-ovr-typo");
    let port = sim_lines(dir.path(), "CTS DCD");
    for (value, wanted) in [
        ("OL=!CTS", "write '-' for an active-low signal"),
        ("OL=", "no signal given; write NULL or none"),
        ("LB=dcd", "'dcd' is not a signal name"),
        ("SD=-ST", "'-ST' is ambiguous"),
    ] {
        let o = ours(dir.path(), &sim_argv(&port, "4", &[value], true));
        assert_eq!(code(&o), 1, "{value}: {}", show(&o));
        assert!(text(&o.stderr).contains(wanted), "{value}: {}", show(&o));
        assert!(
            text(&o.stderr).contains("(command line: key '"),
            "{value}: {}",
            show(&o)
        );
    }
}

/// A port the driver's user may not open: the message says which user the driver runs as and
/// who owns the port.
#[test]
fn permission_denied_names_the_user() {
    if !nix::unistd::geteuid().is_root() {
        support::missing_prerequisite("root (to run the driver as user nobody)");
        return;
    }
    let dir = TempDir::new("cli-perm");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let port = dir.path().join("port");
    std::fs::write(&port, "").expect("create the port file");
    std::fs::set_permissions(&port, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", OURS])
        .args([
            "-s",
            "t",
            "-x",
            &format!("port={}", port.display()),
            "-x",
            "upstype=4",
            "-d",
            "1",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("NUT_STATEPATH", dir.path());
    let o = run_with_timeout(&mut cmd, Duration::from_secs(20));
    assert_eq!(code(&o), 1, "{}", show(&o));
    let err = text(&o.stderr);
    for want in [
        format!("Unable to open {}: Permission denied", port.display()),
        "The driver runs as user nobody (uid 65534)".to_string(),
        "belongs to root:root with mode 0600".to_string(),
        "Fatal error: unusable configuration".to_string(),
    ] {
        assert!(err.contains(&want), "wanted {want:?}\n{}", show(&o));
    }
}
