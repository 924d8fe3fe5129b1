//! Drift checks for the manual page `man/genericups.8`.
//!
//! The page is hand-written roff. These tests read its source, turn the parts that matter into
//! plain text (font changes dropped, `\-` read as `-`, and so on) and check that it documents
//! every command-line option, every driver variable and every row of
//! [`genericups::upstype::UPS_TYPES`], value for value. They also run groff's strictest
//! warnings over it. Each check is a function that returns the problems it found, so the
//! `*_notices_*` tests can feed it a damaged copy of the page and prove that it would fail.

use genericups::upstype::{Shutdown, UPS_TYPES, output_word};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every option letter NUT's driver core accepts (`+a:s:kDFBd:hx:Lqr:u:g:Vi:c:P:`) plus `-FF`.
const OPTIONS: [&str; 19] = [
    "-a", "-s", "-k", "-D", "-F", "-FF", "-B", "-d", "-h", "-x", "-L", "-q", "-r", "-u", "-g",
    "-V", "-i", "-c", "-P",
];

/// The arguments `-c` takes; matched exactly by the driver, so all four must be spelled out.
const C_COMMANDS: [&str; 4] = ["reload", "reload-or-error", "reload-or-exit", "exit"];

/// genericups' driver variables, in registration order (`-L`).
const VARIABLES: [&str; 11] = [
    "upstype", "mfr", "model", "serial", "CP", "OL", "LB", "RB", "BYPASS", "SD", "sdtime",
];

/// The section headings the page must have.
const SECTIONS: [&str; 18] = [
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "OPTIONS",
    "UPS.CONF KEYS",
    "DRIVER VARIABLES",
    "UPS TYPES",
    "OVERRIDES",
    "SIMULATED PORT",
    "FINDING YOUR UPS TYPE AND TESTING",
    "FILES",
    "ENVIRONMENT",
    "EXIT STATUS",
    "DIFFERENCES FROM NUT",
    "BUGS AND LIMITATIONS",
    "SEE ALSO",
    "AUTHORS",
    "COPYING",
];

fn page_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("man/genericups.8")
}

fn page() -> String {
    let path = page_path();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// A small reader for the roff subset the page uses.

/// The text a `\(xx` or `\[xx]` special character prints, as far as comparisons care.
fn special_char(name: &str) -> &'static str {
    match name {
        "aq" => "'",
        "dq" | "lq" | "rq" => "\"",
        "hy" | "mi" => "-",
        "em" => "\u{2014}",
        "en" => "\u{2013}",
        "bu" => "\u{2022}",
        _ => "\u{fffd}",
    }
}

/// Replaces the escapes in `s` by the text they print, drops font changes and comments, and
/// collapses runs of blanks into one space.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => {}
            // A comment runs to the end of the line.
            Some('"') => break,
            Some('-') => out.push('-'),
            Some('e' | '\\') => out.push('\\'),
            Some(' ' | '~' | '0') => out.push(' '),
            // Zero-width escapes: non-printing character, no-hyphenation mark, small spaces.
            Some('&' | '%' | '|' | '^' | ',' | '/' | ':' | 'c') => {}
            Some('f') => match chars.next() {
                Some('(') => {
                    chars.next();
                    chars.next();
                }
                Some('[') => {
                    for c in chars.by_ref() {
                        if c == ']' {
                            break;
                        }
                    }
                }
                _ => {}
            },
            Some('(') => {
                let name: String = chars.by_ref().take(2).collect();
                out.push_str(special_char(&name));
            }
            Some('[') => {
                let name: String = chars.by_ref().take_while(|&c| c != ']').collect();
                out.push_str(special_char(&name));
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits the arguments of a macro call as troff does: blanks separate them, a double-quoted
/// argument may contain blanks, and `""` inside quotes stands for one quote character.
/// Escapes are kept for [`unescape`].
fn macro_args(rest: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut arg = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        arg.push('"');
                    }
                    '"' => break,
                    '\\' => {
                        arg.push('\\');
                        if let Some(n) = chars.next() {
                            arg.push(n);
                        }
                    }
                    c => arg.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' || c == '\t' {
                    break;
                }
                chars.next();
                arg.push(c);
                if c == '\\'
                    && let Some(n) = chars.next()
                {
                    arg.push(n);
                }
            }
        }
        args.push(arg);
    }
    args
}

/// One source line, read.
#[derive(Debug, PartialEq)]
enum Line {
    /// Printable text (a text line, or the arguments of a font or tag macro).
    Text(String),
    /// A request or macro that prints nothing itself (`.TP`, `.br`, `.RS`, `.\"` …), by name.
    Control(String),
    /// A section heading (`.SH`).
    Heading(String),
}

fn read_line(line: &str) -> Line {
    let Some(rest) = line.strip_prefix('.').or_else(|| line.strip_prefix('\'')) else {
        return Line::Text(unescape(line));
    };
    let rest = rest.trim_start();
    let (name, args) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
    if name.starts_with("\\\"") {
        return Line::Control("\\\"".to_string());
    }
    let args = macro_args(args);
    match name {
        "SH" => Line::Heading(unescape(&args.join(" "))),
        "B" | "I" | "SM" | "SB" => Line::Text(unescape(&args.join(" "))),
        // The alternating-font macros print their arguments without blanks in between.
        "BR" | "BI" | "IB" | "IR" | "RB" | "RI" => Line::Text(unescape(&args.concat())),
        // `.IP tag`: the tag is printed; an `.IP` without one just continues the text.
        "IP" if args.first().is_some_and(|a| !a.is_empty()) => Line::Text(unescape(&args[0])),
        _ => Line::Control(name.to_string()),
    }
}

/// The source lines of each `.SH` section, by heading.
fn sections(page: &str) -> BTreeMap<String, Vec<&str>> {
    let mut out: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in page.lines() {
        match read_line(line) {
            Line::Heading(title) => {
                out.entry(title.clone()).or_default();
                current = Some(title);
            }
            _ => {
                if let Some(title) = &current {
                    out.entry(title.clone()).or_default().push(line);
                }
            }
        }
    }
    out
}

fn section<'a>(page: &'a str, title: &str) -> Result<Vec<&'a str>, String> {
    sections(page)
        .remove(title)
        .ok_or_else(|| format!("no section .SH \"{title}\""))
}

/// One `.TP` entry: its tag and its body, as plain text.
#[derive(Debug)]
struct Entry {
    tag: String,
    body: String,
}

impl Entry {
    /// The body's words, with punctuation that may follow a word in prose trimmed.
    fn words(&self) -> Vec<&str> {
        self.body
            .split_whitespace()
            .map(|w| w.trim_end_matches([',', ';', '.', ':']))
            .collect()
    }
}

/// The `.TP` entries at the outer level of a section. An entry's tag is the first text after
/// its `.TP`; its body runs to the next outer `.TP`, a new paragraph (`.PP`, `.P`, `.LP`) or
/// a subsection. Entries nested inside `.RS` … `.RE` are part of their parent's body.
fn tp_entries(lines: &[&str]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<Entry> = None;
    let mut want_tag = false;
    for line in lines {
        match read_line(line) {
            Line::Control(name) => match name.as_str() {
                "RS" => depth += 1,
                "RE" => depth = depth.saturating_sub(1),
                "TP" if depth == 0 => {
                    entries.extend(current.take());
                    current = Some(Entry {
                        tag: String::new(),
                        body: String::new(),
                    });
                    want_tag = true;
                }
                "PP" | "P" | "LP" | "SS" if depth == 0 => {
                    entries.extend(current.take());
                    want_tag = false;
                }
                _ => {}
            },
            Line::Text(text) => {
                if let Some(entry) = current.as_mut() {
                    if want_tag {
                        entry.tag = text;
                        want_tag = false;
                    } else {
                        if !entry.body.is_empty() {
                            entry.body.push(' ');
                        }
                        entry.body.push_str(&text);
                    }
                }
            }
            Line::Heading(_) => {}
        }
    }
    entries.extend(current);
    entries
}

// ---------------------------------------------------------------------------------------------
// The checks. Each returns a list of problems; empty means the page is fine.

fn section_problems(page: &str) -> Vec<String> {
    let found = sections(page);
    let mut problems: Vec<String> = SECTIONS
        .iter()
        .filter(|s| !found.contains_key(**s))
        .map(|s| format!("no section .SH \"{s}\""))
        .collect();
    if let Ok(lines) = section(page, "SYNOPSIS") {
        let text = lines
            .iter()
            .map(|l| read_text(l))
            .collect::<Vec<_>>()
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for form in ["genericups -a id", "genericups -s id -x port=", "DEVICE"] {
            if !text.contains(form) {
                problems.push(format!("SYNOPSIS lacks {form:?}: {text}"));
            }
        }
    }
    problems
}

/// The printable text of one source line (empty for control lines).
fn read_text(line: &str) -> String {
    match read_line(line) {
        Line::Text(t) => t,
        _ => String::new(),
    }
}

fn option_problems(page: &str) -> Vec<String> {
    let lines = match section(page, "OPTIONS") {
        Ok(l) => l,
        Err(e) => return vec![e],
    };
    // A tag may name several spellings: `-F, -FF`. The first word of each is the option.
    let mut documented: BTreeMap<String, String> = BTreeMap::new();
    for entry in tp_entries(&lines) {
        for alternative in entry.tag.split(", ") {
            if let Some(option) = alternative.split_whitespace().next() {
                documented.insert(option.to_string(), entry.body.clone());
            }
        }
    }
    let mut problems = Vec::new();
    for option in OPTIONS {
        match documented.get(option) {
            None => problems.push(format!("option {option} has no .TP entry in OPTIONS")),
            Some(body) if body.split_whitespace().count() < 5 => {
                problems.push(format!("option {option} is hardly explained: {body:?}"));
            }
            Some(_) => {}
        }
    }
    let known: BTreeSet<&str> = OPTIONS.into_iter().collect();
    for option in documented.keys() {
        if !known.contains(option.as_str()) {
            problems.push(format!(
                "OPTIONS documents {option:?}, which the driver does not have"
            ));
        }
    }
    if let Some(body) = documented.get("-c") {
        let words: BTreeSet<&str> = body
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !(c.is_alphanumeric() || c == '-')))
            .collect();
        for command in C_COMMANDS {
            if !words.contains(command) {
                problems.push(format!("-c does not describe the command {command:?}"));
            }
        }
    }
    problems
}

fn variable_problems(page: &str) -> Vec<String> {
    let lines = match section(page, "DRIVER VARIABLES") {
        Ok(l) => l,
        Err(e) => return vec![e],
    };
    let documented: BTreeMap<String, String> = tp_entries(&lines)
        .into_iter()
        .map(|e| {
            let name = e.tag.split(['=', ' ']).next().unwrap_or("").to_string();
            (name, e.body)
        })
        .collect();
    let mut problems = Vec::new();
    for var in VARIABLES {
        match documented.get(var) {
            None => problems.push(format!("variable {var} has no .TP entry")),
            Some(body) if body.split_whitespace().count() < 3 => {
                problems.push(format!("variable {var} is hardly explained: {body:?}"));
            }
            Some(_) => {}
        }
    }
    problems
}

/// What a row's entry must contain, as (words that must appear exactly, phrases that must
/// appear somewhere).
fn expected_row(n: usize) -> (Vec<String>, Vec<String>) {
    let t = &UPS_TYPES[n];
    let words = vec![
        format!("CP={}", output_word(t.cp)),
        format!("OL={}", t.ol),
        format!("LB={}", t.lb),
        format!("RB={}", t.rb),
        format!("BYPASS={}", t.bypass),
        format!("SD={}", t.sd),
    ];
    let mut phrases = vec![
        t.desc.to_string(),
        format!("ups.mfr \"{}\"", t.mfr),
        format!("ups.model \"{}\"", t.model),
    ];
    match t.sd {
        Shutdown::Unknown => phrases.push("-k refuses".to_string()),
        sd if sd.is_break() => phrases.push("BREAK".to_string()),
        _ => {}
    }
    (words, phrases)
}

fn type_problems(page: &str) -> Vec<String> {
    let lines = match section(page, "UPS TYPES") {
        Ok(l) => l,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let mut rows: BTreeMap<usize, Entry> = BTreeMap::new();
    for entry in tp_entries(&lines) {
        match entry.tag.parse::<usize>() {
            Ok(n) if n < UPS_TYPES.len() => {
                if rows.insert(n, entry).is_some() {
                    problems.push(format!("type {n} is listed twice"));
                }
            }
            _ => problems.push(format!(
                "UPS TYPES entry {:?} is not a type number 0..{}",
                entry.tag,
                UPS_TYPES.len() - 1
            )),
        }
    }
    for (n, t) in UPS_TYPES.iter().enumerate() {
        let Some(entry) = rows.get(&n) else {
            problems.push(format!("type {n} ({}) is missing", t.desc));
            continue;
        };
        let (words, phrases) = expected_row(n);
        let have = entry.words();
        for word in &words {
            if !have.contains(&word.as_str()) {
                problems.push(format!("type {n}: expected {word} in {:?}", entry.body));
            }
        }
        for phrase in &phrases {
            if !entry.body.contains(phrase.as_str()) {
                problems.push(format!("type {n}: expected {phrase:?} in {:?}", entry.body));
            }
        }
    }
    problems
}

/// Runs `groff -man -ww -z` (and again for the terminal device `man` uses) over `path`.
/// Returns None when groff is not installed.
fn groff_warnings(path: &Path) -> Option<Vec<String>> {
    let mut warnings = Vec::new();
    for device in [None, Some("-Tutf8")] {
        let mut cmd = Command::new("groff");
        cmd.args(["-man", "-ww", "-z"]);
        cmd.args(device);
        cmd.arg(path);
        let out = match cmd.output() {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("running groff: {e}"),
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        warnings.extend(stderr.lines().map(|l| format!("{cmd:?}: {l}")));
        if !out.status.success() {
            warnings.push(format!("{cmd:?} exited with {}", out.status));
        }
    }
    Some(warnings)
}

fn assert_none(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn has_every_section_and_synopsis_form() {
    assert_none("man/genericups.8 sections", section_problems(&page()));
}

#[test]
fn documents_every_option() {
    assert_none("man/genericups.8 OPTIONS", option_problems(&page()));
}

#[test]
fn documents_every_driver_variable() {
    assert_none(
        "man/genericups.8 DRIVER VARIABLES",
        variable_problems(&page()),
    );
}

#[test]
fn lists_every_ups_type_as_in_the_table() {
    assert_none("man/genericups.8 UPS TYPES", type_problems(&page()));
}

#[test]
fn lints_clean_with_groff() {
    match groff_warnings(&page_path()) {
        Some(warnings) => assert_none("groff warnings for man/genericups.8", warnings),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "groff is not installed; CI must lint the manual page (apt-get install groff-base)"
            )
        }
        None => eprintln!("note: groff is not installed, the manual page was not linted"),
    }
}

// ---------------------------------------------------------------------------------------------
// The checks must be able to fail: damaged copies of the page.

/// The page with `from` replaced by `to` once; panics if `from` is not there, so these tests
/// notice when the page changes under them.
fn damaged(from: &str, to: &str) -> String {
    let page = page();
    assert!(
        page.contains(from),
        "test fixture {from:?} not found in the page"
    );
    page.replacen(from, to, 1)
}

/// The page without the `.TP` entry of upstype `n`.
fn without_type(n: usize) -> String {
    let page = page();
    let start = page
        .find(&format!("\n.TP\n.B {n}\n"))
        .unwrap_or_else(|| panic!("entry of type {n} not found"));
    let end = page[start + 1..]
        .find("\n.TP\n")
        .map_or(page.len(), |i| start + 1 + i);
    format!("{}{}", &page[..start], &page[end..])
}

#[test]
fn type_check_notices_a_missing_or_wrong_row() {
    let missing = type_problems(&without_type(7));
    assert!(missing.iter().any(|p| p.contains("type 7")), "{missing:?}");
    let wrong_desc = type_problems(&damaged(
        "UPSONIC LAN Saver 600\n",
        "UPSONIC LAN Saver 660\n",
    ));
    assert!(!wrong_desc.is_empty());
    let wrong_line = type_problems(&damaged("BYPASS=\\-DSR", "BYPASS=DSR"));
    assert!(
        wrong_line.iter().any(|p| p.contains("BYPASS=-DSR")),
        "{wrong_line:?}"
    );
    let prefix_only = type_problems(&damaged("SD=DTR+RTS\n", "SD=DTR\n"));
    assert!(!prefix_only.is_empty());
}

#[test]
fn option_check_notices_a_missing_or_unknown_option() {
    let problems = option_problems(&damaged(".BI \\-P \" pid\"", ".BI \\-p \" pid\""));
    assert!(problems.iter().any(|p| p.contains("-P ")), "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("\"-p\"")),
        "{problems:?}"
    );
    let no_ff = option_problems(&damaged(".BR \\-F \", \" \\-FF", ".B \\-F"));
    assert!(no_ff.iter().any(|p| p.contains("-FF")), "{no_ff:?}");
}

#[test]
fn variable_check_notices_a_missing_variable() {
    let problems = variable_problems(&damaged(".BI sdtime ", ".BI sdtim "));
    assert!(
        problems.iter().any(|p| p.contains("sdtime")),
        "{problems:?}"
    );
}

#[test]
fn groff_check_notices_a_bad_request() {
    let path = std::env::temp_dir().join(format!("genericups-manpage-{}.8", std::process::id()));
    std::fs::write(&path, format!("{}.XYZZY undefined\n", page())).expect("writing temp page");
    let warnings = groff_warnings(&path);
    let _ = std::fs::remove_file(&path);
    if let Some(warnings) = warnings {
        assert!(!warnings.is_empty(), "groff accepted an undefined macro");
    }
}

#[test]
fn reader_understands_the_escapes_the_page_uses() {
    assert_eq!(
        unescape(r#"Repoteck RPT\-800A, Martin\(aqs \fBcable\fP\&. \e  x \" comment"#),
        r"Repoteck RPT-800A, Martin's cable. \ x"
    );
    assert_eq!(
        read_line(r#".BI \-x " var" = value"#),
        Line::Text("-x var=value".to_string())
    );
    assert_eq!(
        read_line(r#".BR \-F ", " \-FF"#),
        Line::Text("-F, -FF".to_string())
    );
    assert_eq!(
        read_line(r#".SH "UPS TYPES""#),
        Line::Heading("UPS TYPES".to_string())
    );
    assert_eq!(
        macro_args(r#"a "b ""c"" d" \ e"#),
        ["a", r#"b "c" d"#, r"\ e"]
    );
}
