//! The command line, read the way NUT's getopt loop reads it.
//!
//! Owns argv → an ordered list of [`Opt`]s. NUT processes options strictly in command-line
//! order (`-a` reads ups.conf the moment it is seen, so a later `-x` wins), stops at the first
//! non-option argument, and reports errors in glibc getopt's words with exit code 1. clap does
//! the splitting (`-DDDDD`, `-xupstype=1`, `-d1`, `--`); we ask it for each occurrence's index
//! to rebuild the order, and translate its errors into NUT's. No system calls here.
#![forbid(unsafe_code)]

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command};
use std::ffi::OsString;

/// One option occurrence, in command-line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opt {
    /// `-a <id>`: ups name, configuration from that ups.conf section.
    Autoconfig(String),
    /// `-s <id>`: ups name, configuration from `-x` only.
    Direct(String),
    /// `-k`: kill power.
    Kill,
    /// `-D`: one more debug level.
    Debug,
    /// `-F`: stay in the foreground (twice: and still write the PID file).
    Foreground,
    /// `-B`: stay in the background even when debugging.
    Background,
    /// `-d <count>`: dump the tree after count updates and exit.
    Dump(String),
    /// `-h`.
    Help,
    /// `-x <var>[=<val>]`.
    Var(String),
    /// `-L`.
    ListVars,
    /// `-q`.
    Quiet,
    /// `-r <dir>`.
    Chroot(String),
    /// `-u <user>`.
    User(String),
    /// `-g <group>`.
    Group(String),
    /// `-V`.
    Version,
    /// `-i <seconds>`.
    Interval(String),
    /// `-c <command>`.
    Signal(String),
    /// `-P <pid>`.
    Pid(String),
}

/// What getopt would complain about. Printed as glibc prints it, followed by NUT's
/// `Error: unknown option -?. Try -h for help.`; exit code 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    InvalidOption(char),
    MissingArgument(char),
}

impl CliError {
    /// The line glibc's getopt writes to stderr, with argv[0] as given.
    pub fn getopt_line(&self, argv0: &str) -> String {
        match self {
            CliError::InvalidOption(c) => format!("{argv0}: invalid option -- '{c}'"),
            CliError::MissingArgument(c) => {
                format!("{argv0}: option requires an argument -- '{c}'")
            }
        }
    }
}

/// The parsed command line: options in order, and whatever followed the first non-option.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub opts: Vec<Opt>,
    pub operands: Vec<String>,
}

/// Every option letter, whether it takes an argument, and its help text. The help output,
/// the man-page drift test and the parser all read this one table.
pub const OPTIONS: [(char, Option<&str>, &str); 18] = [
    (
        'a',
        Some("<id>"),
        "read the settings of ups.conf section <id>",
    ),
    (
        's',
        Some("<id>"),
        "name the UPS <id> and take every setting from -x",
    ),
    (
        'k',
        None,
        "kill power: send the shutdown signal to the UPS and exit",
    ),
    (
        'D',
        None,
        "one more debug level (and stay in the foreground)",
    ),
    (
        'F',
        None,
        "stay in the foreground (-FF: and still write the PID file)",
    ),
    ('B', None, "stay in the background even when debugging"),
    (
        'd',
        Some("<count>"),
        "print all variables after <count> updates, then exit",
    ),
    ('h', None, "show this help and exit"),
    (
        'x',
        Some("<var>=<val>"),
        "set driver variable <var> to <val>",
    ),
    (
        'L',
        None,
        "list the driver variables in a machine-readable form",
    ),
    ('q', None, "raise the log level threshold"),
    (
        'r',
        Some("<dir>"),
        "chroot to <dir> before opening anything",
    ),
    ('u', Some("<user>"), "run as <user> (when started as root)"),
    (
        'g',
        Some("<group>"),
        "give group <group> access to the socket (as root)",
    ),
    ('V', None, "print the version and exit"),
    ('i', Some("<secs>"), "poll the UPS every <secs> seconds"),
    (
        'c',
        Some("<command>"),
        "ask the running driver to reload, reload-or-error, reload-or-exit or exit",
    ),
    (
        'P',
        Some("<pid>"),
        "with -c: signal process <pid> instead of the PID file's",
    ),
];

const OPERANDS: &str = "operands";

/// clap wants `'static` ids; every option letter is its own id.
fn id(letter: char) -> &'static str {
    const LETTERS: &str = "askDFBdhxLqrugVicP";
    match LETTERS.find(letter) {
        Some(i) => &LETTERS[i..i + 1],
        None => "?",
    }
}

fn command() -> Command {
    let mut cmd = Command::new("genericups")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .dont_delimit_trailing_values(true)
        .args_override_self(false);
    for (letter, value, _) in OPTIONS {
        let arg = Arg::new(id(letter)).short(letter);
        let arg = match value {
            // getopt takes the next word as the argument whatever it looks like (`-a -k`
            // names the UPS "-k"), hence allow_hyphen_values.
            Some(_) => arg
                .num_args(1)
                .action(ArgAction::Append)
                .allow_hyphen_values(true),
            // Append (not Count) so that every occurrence in `-DDDDD` gets its own index.
            None => arg
                .num_args(0)
                .default_missing_value("")
                .action(ArgAction::Append),
        };
        cmd = cmd.arg(arg);
    }
    // NUT's optstring starts with '+': the first non-option ends option processing.
    cmd.arg(
        Arg::new(OPERANDS)
            .num_args(0..)
            .action(ArgAction::Append)
            .trailing_var_arg(true)
            .value_parser(clap::value_parser!(OsString)),
    )
}

fn offending_char(err: &clap::Error) -> char {
    let text = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.first().cloned().unwrap_or_default(),
        _ => String::new(),
    };
    // "--help" and any other long option: getopt without long options trips on the '-'.
    if text.starts_with("--") {
        return '-';
    }
    text.trim_start_matches('-').chars().next().unwrap_or('?')
}

/// Parses argv (without argv[0]).
pub fn parse<I, T>(argv: I) -> Result<Args, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = command().try_get_matches_from(argv).map_err(|e| {
        let c = offending_char(&e);
        match e.kind() {
            ErrorKind::InvalidValue | ErrorKind::NoEquals | ErrorKind::WrongNumberOfValues => {
                CliError::MissingArgument(c)
            }
            _ => CliError::InvalidOption(c),
        }
    })?;

    let mut indexed: Vec<(usize, Opt)> = Vec::new();
    for (letter, value, _) in OPTIONS {
        let id = id(letter);
        let Some(indices) = matches.indices_of(id) else {
            continue;
        };
        let values = matches.get_many::<String>(id).into_iter().flatten();
        for (index, v) in indices.zip(values) {
            let v = value.map(|_| v.clone());
            indexed.push((index, make(letter, v)));
        }
    }
    indexed.sort_by_key(|(i, _)| *i);
    let operands = matches
        .get_many::<OsString>(OPERANDS)
        .into_iter()
        .flatten()
        .map(|o| o.to_string_lossy().into_owned())
        .collect();
    Ok(Args {
        opts: indexed.into_iter().map(|(_, o)| o).collect(),
        operands,
    })
}

fn make(letter: char, value: Option<String>) -> Opt {
    let v = value.unwrap_or_default();
    match letter {
        'a' => Opt::Autoconfig(v),
        's' => Opt::Direct(v),
        'k' => Opt::Kill,
        'D' => Opt::Debug,
        'F' => Opt::Foreground,
        'B' => Opt::Background,
        'd' => Opt::Dump(v),
        'h' => Opt::Help,
        'x' => Opt::Var(v),
        'L' => Opt::ListVars,
        'q' => Opt::Quiet,
        'r' => Opt::Chroot(v),
        'u' => Opt::User(v),
        'g' => Opt::Group(v),
        'V' => Opt::Version,
        'i' => Opt::Interval(v),
        'c' => Opt::Signal(v),
        _ => Opt::Pid(v),
    }
}

/// The usage and option part of `-h` (the banner, the variable list and the type list are
/// added by the caller).
pub fn usage(progname: &str) -> String {
    let mut out = format!(
        "usage: {progname} (-a <id>|-s <id>) [OPTIONS]\n       \
         {progname} [OPTIONS] <port>   (legacy form: -x port=<port> -s <port name>)\n\n"
    );
    for (letter, value, text) in OPTIONS {
        let left = match value {
            Some(v) => format!("-{letter} {v}"),
            None => format!("-{letter}"),
        };
        out.push_str(&format!("  {left:<15}- {text}\n"));
        if letter == 'a' {
            out.push_str("                 - note: a -x given after -a overrides ups.conf\n");
        }
        if letter == 'F' {
            out.push_str("  -FF            - stay in the foreground and write the PID file\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Opt::*;

    fn p(args: &[&str]) -> Result<Args, CliError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    fn opts(args: &[&str]) -> Vec<Opt> {
        match p(args) {
            Ok(a) => {
                assert!(
                    a.operands.is_empty(),
                    "{args:?} left operands {:?}",
                    a.operands
                );
                a.opts
            }
            Err(e) => panic!("{args:?}: {e:?}"),
        }
    }

    #[test]
    fn getopt_spellings() {
        let cases: Vec<(&[&str], Vec<Opt>)> = vec![
            (&["-a", "ups"], vec![Autoconfig("ups".into())]),
            (&["-aups"], vec![Autoconfig("ups".into())]),
            (&["-s", "ups"], vec![Direct("ups".into())]),
            (&["-DDDDD"], vec![Debug; 5]),
            (&["-D", "-D"], vec![Debug, Debug]),
            (&["-FF"], vec![Foreground, Foreground]),
            (&["-F", "-F"], vec![Foreground, Foreground]),
            (&["-d1"], vec![Dump("1".into())]),
            (&["-d", "1"], vec![Dump("1".into())]),
            (&["-x", "upstype=1"], vec![Var("upstype=1".into())]),
            (&["-xupstype=1"], vec![Var("upstype=1".into())]),
            (&["-x", "nolock"], vec![Var("nolock".into())]),
            (
                &["-DDx", "upstype=1"],
                vec![Debug, Debug, Var("upstype=1".into())],
            ),
            (
                &["-kDa", "ups"],
                vec![Kill, Debug, Autoconfig("ups".into())],
            ),
            (&["-a", "-k"], vec![Autoconfig("-k".into())]),
            (&["-i", "-5"], vec![Interval("-5".into())]),
            (&["-i5"], vec![Interval("5".into())]),
            (
                &["-r", "/j", "-u", "nut", "-g", "dialout"],
                vec![
                    Chroot("/j".into()),
                    User("nut".into()),
                    Group("dialout".into()),
                ],
            ),
            (&["-B", "-q", "-L"], vec![Background, Quiet, ListVars]),
            (&["-h"], vec![Help]),
            (&["-V"], vec![Version]),
            (
                &["-c", "reload", "-P", "123"],
                vec![Signal("reload".into()), Pid("123".into())],
            ),
            (&[], vec![]),
        ];
        for (args, want) in cases {
            assert_eq!(opts(args), want, "{args:?}");
        }
    }

    #[test]
    fn options_keep_command_line_order() {
        assert_eq!(
            opts(&["-x", "mfr=A", "-a", "ups", "-x", "mfr=B", "-D"]),
            vec![
                Var("mfr=A".into()),
                Autoconfig("ups".into()),
                Var("mfr=B".into()),
                Debug
            ]
        );
        assert_eq!(
            opts(&["-D", "-a", "u", "-D", "-x", "a=1", "-D"]),
            vec![
                Debug,
                Autoconfig("u".into()),
                Debug,
                Var("a=1".into()),
                Debug
            ]
        );
    }

    #[test]
    fn the_first_non_option_ends_options() {
        let a = p(&["-DDDDD", "-x", "upstype=4", "/dev/ttyUSB0"]).expect("parses");
        assert_eq!(
            a.opts,
            vec![Debug, Debug, Debug, Debug, Debug, Var("upstype=4".into())]
        );
        assert_eq!(a.operands, vec!["/dev/ttyUSB0"]);

        let a = p(&["-D", "/dev/x", "-k", "more"]).expect("parses");
        assert_eq!(a.opts, vec![Debug]);
        assert_eq!(a.operands, vec!["/dev/x", "-k", "more"]);

        let a = p(&["-D", "--", "-k"]).expect("parses");
        assert_eq!(a.opts, vec![Debug]);
        assert_eq!(a.operands, vec!["-k"]);
    }

    #[test]
    fn errors_name_the_letter_like_getopt() {
        let cases: &[(&[&str], CliError)] = &[
            (&["-Z"], CliError::InvalidOption('Z')),
            (&["-DZ"], CliError::InvalidOption('Z')),
            (&["--help"], CliError::InvalidOption('-')),
            (&["--version"], CliError::InvalidOption('-')),
            (&["-a"], CliError::MissingArgument('a')),
            (&["-D", "-x"], CliError::MissingArgument('x')),
            (&["-d"], CliError::MissingArgument('d')),
        ];
        for (args, want) in cases {
            assert_eq!(&p(args).expect_err("must fail"), want, "{args:?}");
        }
        assert_eq!(
            CliError::InvalidOption('-').getopt_line("/lib/nut/genericups"),
            "/lib/nut/genericups: invalid option -- '-'"
        );
        assert_eq!(
            CliError::MissingArgument('a').getopt_line("genericups"),
            "genericups: option requires an argument -- 'a'"
        );
    }

    #[test]
    fn usage_lists_every_option() {
        let text = usage("genericups");
        for (letter, _, _) in OPTIONS {
            assert!(
                text.contains(&format!("\n  -{letter}")),
                "-{letter} missing:\n{text}"
            );
        }
        assert!(text.contains("-FF"));
    }
}
