//! The driver side of NUT's driver–upsd socket protocol, as text.
//!
//! Owns the escaping of values (`pconf_encode`: a backslash before `\`, `"` and `#`), the
//! formatting of every line the driver sends, and the reading of client commands from the
//! words the parseconf tokenizer produced. No I/O: the socket server feeds words in and sends
//! lines out.
#![forbid(unsafe_code)]

/// Escapes a value for a quoted protocol word. Control characters are dropped: upsd's
/// tokenizer would drop them too, and a raw newline would split the line.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' | '"' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Variable and command names go on the wire unquoted, so they must be single words that
/// upsd's tokenizer reads back unchanged.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub fn setinfo(name: &str, value: &str) -> String {
    format!("SETINFO {name} \"{}\"", encode(value))
}

/// A client request, read from one line's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    DumpAll,
    Ping,
    Logout,
    GetPid,
    DumpStatus,
    DumpValue(String),
    NoBroadcast,
    /// `BROADCAST [n]`: on, unless `n` is an integer below 1.
    Broadcast(bool),
    InstCmd {
        cmd: String,
        param: Option<String>,
        tracking: Option<String>,
    },
    Set {
        var: String,
        value: String,
        tracking: Option<String>,
    },
    /// A known command with the wrong shape; the text says why (logged at notice level).
    Malformed(String),
    /// Anything else, including an empty line (logged with its words).
    Unknown(Vec<String>),
}

fn is_tracking(word: &str) -> bool {
    word.eq_ignore_ascii_case("TRACKING")
}

/// Reads one command. Command words are case-insensitive; extra words after commands that
/// take none are ignored, as NUT does.
pub fn parse_request(words: &[String]) -> Request {
    let Some(first) = words.first() else {
        return Request::Unknown(Vec::new());
    };
    let cmd = first.to_ascii_uppercase();
    let arg = |i: usize| words[i].clone();
    match (cmd.as_str(), words.len()) {
        ("DUMPALL", _) => Request::DumpAll,
        ("PING", _) => Request::Ping,
        ("LOGOUT", _) => Request::Logout,
        ("GETPID", _) => Request::GetPid,
        ("DUMPSTATUS", _) => Request::DumpStatus,
        ("DUMPVALUE", n) if n >= 2 => Request::DumpValue(arg(1)),
        ("NOBROADCAST", _) => Request::NoBroadcast,
        ("BROADCAST", 1) => Request::Broadcast(true),
        ("BROADCAST", _) => {
            let on = match crate::cnum::atoi(&words[1]) {
                Some(n) => n >= 1,
                None => true,
            };
            Request::Broadcast(on)
        }
        ("INSTCMD", 2) => Request::InstCmd {
            cmd: arg(1),
            param: None,
            tracking: None,
        },
        ("INSTCMD", 3) => Request::InstCmd {
            cmd: arg(1),
            param: Some(arg(2)),
            tracking: None,
        },
        ("INSTCMD", 4) if is_tracking(&words[2]) => Request::InstCmd {
            cmd: arg(1),
            param: None,
            tracking: Some(arg(3)),
        },
        ("INSTCMD", 5) if is_tracking(&words[3]) => Request::InstCmd {
            cmd: arg(1),
            param: Some(arg(2)),
            tracking: Some(arg(4)),
        },
        ("INSTCMD", _) => Request::Malformed("Malformed INSTCMD request".into()),
        ("SET", 3) | ("SET", 4) => Request::Set {
            var: arg(1),
            value: arg(2),
            tracking: None,
        },
        ("SET", 5) if is_tracking(&words[3]) => Request::Set {
            var: arg(1),
            value: arg(2),
            tracking: Some(arg(4)),
        },
        ("SET", 5) => Request::Malformed(format!(
            "Got SET {} with unsupported parameters ({}/{})",
            words[1], words[3], words[4]
        )),
        ("SET", _) => Request::Malformed("Malformed SET request".into()),
        _ => Request::Unknown(words.to_vec()),
    }
}

/// Result codes of INSTCMD and SET, sent as `TRACKING <id> <code>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Handled = 0,
    Unknown = 1,
    Invalid = 2,
    Failed = 3,
    ConversionFailed = 4,
}

pub fn tracking(id: &str, outcome: Outcome) -> String {
    format!("TRACKING {id} {}", outcome as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn encoding_escapes_quote_backslash_and_hash() {
        let cases = [
            ("plain", "plain"),
            ("My \"quoted\" \\mfr#x", "My \\\"quoted\\\" \\\\mfr\\#x"),
            ("line\nbreak\r\t", "linebreak"),
            ("", ""),
            ("Ünïcode", "Ünïcode"),
        ];
        for (raw, want) in cases {
            assert_eq!(encode(raw), want, "{raw:?}");
        }
        assert_eq!(setinfo("ups.mfr", "a\"b"), "SETINFO ups.mfr \"a\\\"b\"");
    }

    #[test]
    fn names() {
        for ok in [
            "ups.status",
            "driver.parameter.Mfr",
            "battery.charge.low",
            "x_y-z",
        ] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "a b", "a\"b", "a#b", "ü", "a\nb"] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn requests() {
        use Request::*;
        let cases: Vec<(Vec<String>, Request)> = vec![
            (w(&["DUMPALL"]), DumpAll),
            (w(&["dumpall"]), DumpAll),
            (w(&["PING"]), Ping),
            (w(&["Ping", "extra"]), Ping),
            (w(&["LOGOUT"]), Logout),
            (w(&["GETPID"]), GetPid),
            (w(&["DUMPSTATUS"]), DumpStatus),
            (
                w(&["DUMPVALUE", "ups.status"]),
                DumpValue("ups.status".into()),
            ),
            (w(&["DUMPVALUE"]), Unknown(w(&["DUMPVALUE"]))),
            (w(&["NOBROADCAST"]), NoBroadcast),
            (w(&["BROADCAST"]), Broadcast(true)),
            (w(&["BROADCAST", "1"]), Broadcast(true)),
            (w(&["BROADCAST", "0"]), Broadcast(false)),
            (w(&["BROADCAST", "-3"]), Broadcast(false)),
            (w(&["BROADCAST", "x"]), Broadcast(true)),
            (
                w(&["INSTCMD", "driver.exit"]),
                InstCmd {
                    cmd: "driver.exit".into(),
                    param: None,
                    tracking: None,
                },
            ),
            (
                w(&["INSTCMD", "a", "p"]),
                InstCmd {
                    cmd: "a".into(),
                    param: Some("p".into()),
                    tracking: None,
                },
            ),
            (
                w(&["INSTCMD", "a", "tracking", "id1"]),
                InstCmd {
                    cmd: "a".into(),
                    param: None,
                    tracking: Some("id1".into()),
                },
            ),
            (
                w(&["INSTCMD", "a", "p", "TRACKING", "id1"]),
                InstCmd {
                    cmd: "a".into(),
                    param: Some("p".into()),
                    tracking: Some("id1".into()),
                },
            ),
            (
                w(&["INSTCMD", "a", "b", "c"]),
                Malformed("Malformed INSTCMD request".into()),
            ),
            (
                w(&["INSTCMD"]),
                Malformed("Malformed INSTCMD request".into()),
            ),
            (
                w(&["SET", "v", "1"]),
                Set {
                    var: "v".into(),
                    value: "1".into(),
                    tracking: None,
                },
            ),
            (
                w(&["SET", "v", "1", "junk"]),
                Set {
                    var: "v".into(),
                    value: "1".into(),
                    tracking: None,
                },
            ),
            (
                w(&["SET", "v", "1", "TRACKING", "t"]),
                Set {
                    var: "v".into(),
                    value: "1".into(),
                    tracking: Some("t".into()),
                },
            ),
            (
                w(&["SET", "v", "1", "X", "t"]),
                Malformed("Got SET v with unsupported parameters (X/t)".into()),
            ),
            (w(&["SET", "v"]), Malformed("Malformed SET request".into())),
            (w(&[]), Unknown(vec![])),
            (w(&["HELLO", "x"]), Unknown(w(&["HELLO", "x"]))),
        ];
        for (words, want) in cases {
            assert_eq!(parse_request(&words), want, "{words:?}");
        }
        assert_eq!(tracking("abc", Outcome::Invalid), "TRACKING abc 2");
        assert_eq!(tracking("abc", Outcome::Handled), "TRACKING abc 0");
    }
}
