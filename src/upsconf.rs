//! The ups.conf reader, at the grammar level.
//!
//! Owns turning the tokenizer's lines ([`crate::parseconf`]) into global entries, sections
//! and entries, and collecting everything that was ignored or dropped as [`Problem`]s with
//! line numbers. It does not know what any key means: which keys are valid, how values are
//! checked and which section belongs to this driver are decided by its callers.
//!
//! Line rules (NUT `conf_args`):
//! - no words: ignored;
//! - a first word `[name]` opens section `name` (quote it for spaces: `"[my ups]"`);
//! - one word: a flag;
//! - `key = value`: an entry; words after the value are ignored;
//! - anything else is ignored.
//!
//! NUT ignores the last two cases (and extra words) silently; we record a [`Problem`] for
//! each so that the driver can tell the admin.
#![forbid(unsafe_code)]

use crate::parseconf::{Event, Tokenizer, Warnings};
use std::fmt;
use std::io;
use std::path::Path;

/// A parsed ups.conf.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpsConf {
    /// Entries before the first section header, in file order.
    pub global: Vec<Entry>,
    /// Sections in file order. A name that appears twice gives two values here; use
    /// [`UpsConf::section_entries`] to see them merged.
    pub sections: Vec<Section>,
    /// Lines or parts of lines that were not used, in file order.
    pub problems: Vec<Problem>,
}

/// One `[name]` block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// The text between the brackets, exactly as written (names are case-sensitive).
    pub name: String,
    /// Line of the header (1-based).
    pub line: usize,
    /// Entries of this block, in file order.
    pub entries: Vec<Entry>,
}

/// A `key = value` line or a bare flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Line on which the entry started (1-based).
    pub line: usize,
    /// The first word, as written (key names are matched by the callers).
    pub key: String,
    /// `None` for a bare flag such as `nolock`.
    pub value: Option<String>,
}

/// Something in the file that was ignored or dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Line on which the logical line started (1-based).
    pub line: usize,
    /// What was ignored or dropped, and why.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl UpsConf {
    /// All entries of every section named exactly `name`, in file order (so when a key
    /// repeats, the last one is the one that counts, as in NUT). `None` when no such section
    /// has any entry: NUT reports a section without key lines as not found.
    pub fn section_entries(&self, name: &str) -> Option<Vec<&Entry>> {
        let entries: Vec<&Entry> = self
            .sections
            .iter()
            .filter(|s| s.name == name)
            .flat_map(|s| s.entries.iter())
            .collect();
        (!entries.is_empty()).then_some(entries)
    }

    fn add_entry(&mut self, entry: Entry) {
        match self.sections.last_mut() {
            Some(section) => section.entries.push(entry),
            None => self.global.push(entry),
        }
    }

    fn problem(&mut self, line: usize, message: String) {
        self.problems.push(Problem { line, message });
    }

    fn warnings(&mut self, line: usize, warnings: &Warnings) {
        for message in warnings.messages() {
            self.problem(line, message);
        }
    }

    fn take(&mut self, event: Event) {
        match event {
            Event::Line(line) => {
                self.warnings(line.line, &line.warnings);
                self.interpret(line.line, line.words);
            }
            Event::Error(err) => {
                self.warnings(err.line, &err.warnings);
                self.problem(err.line, err.to_string());
            }
        }
    }

    fn interpret(&mut self, line: usize, words: Vec<String>) {
        let mut words = words.into_iter();
        let Some(first) = words.next() else {
            return;
        };
        let rest: Vec<String> = words.collect();
        if let Some(name) = section_name(&first) {
            if name.is_empty() {
                self.problem(line, "section with an empty name '[]'".to_string());
            }
            if !rest.is_empty() {
                self.problem(
                    line,
                    format!(
                        "ignored {} after section header {first}",
                        quoted_words(&rest)
                    ),
                );
            }
            self.sections.push(Section {
                name: name.to_string(),
                line,
                entries: Vec::new(),
            });
            return;
        }
        match rest.as_slice() {
            [] => self.add_entry(Entry {
                line,
                key: first,
                value: None,
            }),
            [eq] if eq == "=" => {
                self.problem(line, format!("ignored '{first} =': no value after '='"));
            }
            [eq, value, extra @ ..] if eq == "=" => {
                if !extra.is_empty() {
                    self.problem(
                        line,
                        format!(
                            "ignored {} after the value of '{first}' \
                             (quote a value that contains spaces)",
                            quoted_words(extra)
                        ),
                    );
                }
                self.add_entry(Entry {
                    line,
                    key: first,
                    value: Some(value.clone()),
                });
            }
            _ => {
                let mut all = vec![first];
                all.extend(rest);
                self.problem(
                    line,
                    format!("ignored {}: expected 'key = value'", quoted_words(&all)),
                );
            }
        }
    }
}

/// The name inside `[name]`; NUT needs both brackets in one word.
fn section_name(word: &str) -> Option<&str> {
    word.strip_prefix('[')?.strip_suffix(']')
}

fn quoted_words(words: &[String]) -> String {
    format!("'{}'", words.join(" "))
}

/// Parses the contents of a ups.conf. Never fails: whatever cannot be used is reported in
/// [`UpsConf::problems`].
pub fn parse(text: &[u8]) -> UpsConf {
    let mut conf = UpsConf::default();
    let mut tokenizer = Tokenizer::new();
    for &byte in text {
        if let Some(event) = tokenizer.feed(byte) {
            conf.take(event);
        }
    }
    if let Some(event) = tokenizer.finish() {
        conf.take(event);
    }
    conf
}

/// Reads and parses the ups.conf at `path`.
pub fn load(path: &Path) -> Result<UpsConf, io::Error> {
    std::fs::read(path).map(|text| parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: usize, key: &str, value: Option<&str>) -> Entry {
        Entry {
            line,
            key: key.to_string(),
            value: value.map(str::to_string),
        }
    }

    fn kv(conf: &[&Entry]) -> Vec<(String, Option<String>)> {
        conf.iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect()
    }

    const DEBIAN: &[u8] = b"\
# Network UPS Tools: example ups.conf\r
#\r
maxretry = 3\r
pollinterval=5\r
\r
[rack]\r
\tdriver = genericups\r
\tport = /dev/ttyUSB0\r
\tupstype = 4\r
\tdesc = \"Main \\\"rack\\\" UPS\"   # the big one\r
\tnolock\r
\r
\"[office ups]\"\r
\tdriver = genericups\r
\tport = /dev/ttyUSB0\r
\r
[rack]\r
\tupstype = 7\r
\tsdtime=\"10\"\r
\r
[empty]\r
# nothing here\r
";

    #[test]
    fn realistic_debian_file() {
        let conf = parse(DEBIAN);
        assert_eq!(conf.problems, []);
        assert_eq!(
            conf.global,
            [
                entry(3, "maxretry", Some("3")),
                entry(4, "pollinterval", Some("5")),
            ]
        );
        let names: Vec<(&str, usize)> = conf
            .sections
            .iter()
            .map(|s| (s.name.as_str(), s.line))
            .collect();
        assert_eq!(
            names,
            [("rack", 6), ("office ups", 13), ("rack", 17), ("empty", 21)]
        );
        let rack = conf.section_entries("rack");
        let rack = rack.as_deref().unwrap_or_default();
        assert_eq!(
            rack.iter().map(|e| e.line).collect::<Vec<_>>(),
            [7, 8, 9, 10, 11, 18, 19]
        );
        assert_eq!(
            kv(rack),
            [
                ("driver".into(), Some("genericups".into())),
                ("port".into(), Some("/dev/ttyUSB0".into())),
                ("upstype".into(), Some("4".into())),
                ("desc".into(), Some("Main \"rack\" UPS".into())),
                ("nolock".into(), None),
                ("upstype".into(), Some("7".into())),
                ("sdtime".into(), Some("10".into())),
            ]
        );
        assert_eq!(
            conf.section_entries("office ups").as_deref().map(kv),
            Some(vec![
                ("driver".into(), Some("genericups".into())),
                ("port".into(), Some("/dev/ttyUSB0".into())),
            ])
        );
        assert_eq!(conf.section_entries("empty"), None);
        assert_eq!(conf.section_entries("Rack"), None);
        assert_eq!(conf.section_entries("missing"), None);
    }

    #[test]
    fn quoted_section_names() {
        let conf = parse(b"\"[my ups]\"\nport = /dev/x\n[other]\n");
        assert_eq!(conf.problems, []);
        assert_eq!(
            conf.section_entries("my ups").as_deref().map(kv),
            Some(vec![("port".into(), Some("/dev/x".into()))])
        );
        // Without the outer quotes the name is two words; inner quotes are literal.
        let conf = parse(b"[my ups]\nport = /dev/x\n[\"my ups\"]\n");
        assert!(conf.sections.is_empty());
        assert_eq!(conf.global, [entry(2, "port", Some("/dev/x"))]);
        assert_eq!(
            conf.problems,
            [
                Problem {
                    line: 1,
                    message: "ignored '[my ups]': expected 'key = value'".into()
                },
                Problem {
                    line: 3,
                    message: "ignored '[\"my ups\"]': expected 'key = value'".into()
                },
            ]
        );
    }

    #[test]
    fn line_shapes() {
        // (input, global entries as key/value, problem messages)
        type Case = (
            &'static [u8],
            &'static [(&'static str, Option<&'static str>)],
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            (b"", &[], &[]),
            (b"\n\n# c\n   \n", &[], &[]),
            (b"nolock\n", &[("nolock", None)], &[]),
            (b"\"\"\n", &[("", None)], &[]),
            (b"=\n", &[("=", None)], &[]),
            (b"a = b\n", &[("a", Some("b"))], &[]),
            (b"a=b\n", &[("a", Some("b"))], &[]),
            (b"a = \"\"\n", &[("a", Some(""))], &[]),
            (
                b"a = b=c\n",
                &[("a", Some("b"))],
                &["ignored '= c' after the value of 'a' (quote a value that contains spaces)"],
            ),
            (
                b"model = \"x=y\" extra tokens\n",
                &[("model", Some("x=y"))],
                &["ignored 'extra tokens' after the value of 'model' \
                     (quote a value that contains spaces)"],
            ),
            (
                b"desc = Main UPS\n",
                &[("desc", Some("Main"))],
                &["ignored 'UPS' after the value of 'desc' (quote a value that contains spaces)"],
            ),
            (
                b"port /dev/ttyUSB0\n",
                &[],
                &["ignored 'port /dev/ttyUSB0': expected 'key = value'"],
            ),
            (b"desc =\n", &[], &["ignored 'desc =': no value after '='"]),
            (b"= x\n", &[], &["ignored '= x': expected 'key = value'"]),
            (
                b"a b c\n",
                &[],
                &["ignored 'a b c': expected 'key = value'"],
            ),
            (b"a \"=\" c\n", &[("a", Some("c"))], &[]),
            (b"a \\= c\n", &[("a", Some("c"))], &[]),
            (
                b"a := c\n",
                &[],
                &["ignored 'a : = c': expected 'key = value'"],
            ),
            (
                b"desc = \"a # b\"\nnolock\n",
                &[("nolock", None)],
                &[
                    "unescaped '#' inside a quoted word (write \\# for a literal '#'); \
                     the whole line was ignored",
                ],
            ),
            (
                b"desc = \"oops\nport = x\n",
                &[],
                &[
                    "dropped 2 byte(s) outside printable ASCII (0x0a)",
                    "the input ended inside a quoted word (missing closing '\"'); \
                     the line was ignored (found on line 2)",
                ],
            ),
            (
                b"desc = \"caf\xc3\xa9\"\n",
                &[("desc", Some("caf"))],
                &["dropped 2 byte(s) outside printable ASCII (0xc3, 0xa9)"],
            ),
        ];
        for (input, global, problems) in cases {
            let conf = parse(input);
            let got: Vec<(&str, Option<&str>)> = conf
                .global
                .iter()
                .map(|e| (e.key.as_str(), e.value.as_deref()))
                .collect();
            assert_eq!(got, *global, "{:?}", String::from_utf8_lossy(input));
            let got: Vec<&str> = conf.problems.iter().map(|p| p.message.as_str()).collect();
            assert_eq!(got, *problems, "{:?}", String::from_utf8_lossy(input));
            assert!(conf.sections.is_empty());
        }
    }

    #[test]
    fn section_headers() {
        let conf = parse(b"[]\nx\n[ups] extra\ny\n[ups]=z\n[\n]\n[a]b]\n");
        let names: Vec<&str> = conf.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["", "ups", "ups", "a]b"]);
        assert_eq!(
            conf.problems,
            [
                Problem {
                    line: 1,
                    message: "section with an empty name '[]'".into()
                },
                Problem {
                    line: 3,
                    message: "ignored 'extra' after section header [ups]".into()
                },
                Problem {
                    line: 5,
                    message: "ignored '= z' after section header [ups]".into()
                },
            ]
        );
        // `[` and `]` alone are single-word lines, i.e. flags, as in NUT.
        assert_eq!(
            kv(&conf.section_entries("ups").unwrap_or_default()),
            [("y".into(), None), ("[".into(), None), ("]".into(), None)]
        );
        assert_eq!(conf.section_entries(""), Some(vec![&entry(2, "x", None)]));
    }

    #[test]
    fn problem_line_numbers() {
        let conf = parse(b"[u]\na b\nc = \\\nd e\n\"#\"\nf = \"g\nh\" i\n");
        let got: Vec<String> = conf.problems.iter().map(Problem::to_string).collect();
        assert_eq!(
            got,
            [
                "line 2: ignored 'a b': expected 'key = value'",
                "line 3: ignored 'e' after the value of 'c' (quote a value that contains spaces)",
                "line 5: unescaped '#' inside a quoted word (write \\# for a literal '#'); \
                 the whole line was ignored",
                "line 6: dropped 1 byte(s) outside printable ASCII (0x0a)",
                "line 6: ignored 'i' after the value of 'f' (quote a value that contains spaces)",
            ]
        );
        assert_eq!(
            conf.section_entries("u"),
            Some(vec![&entry(3, "c", Some("d")), &entry(6, "f", Some("gh"))])
        );
    }

    #[test]
    fn limits_are_reported() {
        let long = "v".repeat(600);
        let many: String = (0..40).map(|i| format!(" w{i}")).collect();
        let text = format!("[u]\nk = {long}\nf ={many}\n");
        let conf = parse(text.as_bytes());
        let messages: Vec<&str> = conf.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(messages[0], "cut 1 word(s) to 512 bytes");
        assert_eq!(messages[1], "dropped 10 word(s) beyond the first 32");
        assert!(messages[2].starts_with("ignored 'w1 w2"), "{}", messages[2]);
        let entries = conf.section_entries("u").unwrap_or_default();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].value.as_deref().map(str::len), Some(512));
    }

    #[test]
    fn load_reads_a_file() {
        let dir = std::env::temp_dir().join(format!("upsconf-test-{}", std::process::id()));
        let path = dir.join("ups.conf");
        let _ = std::fs::create_dir_all(&dir);
        let written = std::fs::write(&path, DEBIAN);
        assert!(written.is_ok(), "{written:?}");
        let loaded = load(&path);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(loaded.ok(), Some(parse(DEBIAN)));
        let missing = load(&dir.join("nope"));
        assert_eq!(
            missing.err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
    }
}
