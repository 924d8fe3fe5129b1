//! The word tokenizer shared by the ups.conf reader and the driver socket.
//!
//! Owns the lexical grammar of NUT's configuration and socket lines (words, quotes, `\`
//! escapes, `#` comments, `=` splitting, the printable-ASCII filter and the size limits) as a
//! byte-at-a-time state machine, so the same code can read a whole file or bytes trickling in
//! from a client. It knows nothing about what the words mean.
//!
//! Grammar, in short:
//! - words are separated by space, TAB, CR, VT and FF; LF ends a line (so CRLF works);
//! - `#` at a word start, or inside an unquoted word (which it ends), comments out the rest of
//!   the physical line;
//! - `"` at a word start opens a quoted word that ends at the next unescaped `"`; a `"` inside
//!   an unquoted word is an ordinary character;
//! - `\` takes the next byte literally everywhere; `\` before LF (or CR LF) joins two physical
//!   lines into one logical line;
//! - `=` outside quotes is always a word of its own (`a=b` is `a`, `=`, `b`);
//! - only printable ASCII (0x20–0x7E) is kept; other bytes are dropped and counted, which also
//!   drops TAB, CR and LF inside quotes (a quoted word may therefore span physical lines);
//! - a line keeps at most [`MAX_WORDS`] words of at most [`MAX_WORD_LEN`] bytes; the rest is
//!   dropped and counted. This also bounds memory whatever a socket client sends.
//!
//! Deliberate differences from the C tokenizer:
//! - after an error (an unescaped `#` in quotes) the rest of the physical line is skipped; C
//!   parses it as a new line, which can turn `desc = "a # b"` into a bogus flag `b"`;
//! - a dropped byte is as if it was never there: it does not start a word, so a stray
//!   non-ASCII byte between words does not become an empty word;
//! - a continuation at a word start does not start a word (C produces an empty word for
//!   `key = \` followed by an indented value on the next line);
//! - `\` CR LF is a continuation too, so continuations work in CRLF files;
//! - DEL (0x7F) is dropped like the other control characters;
//! - a file ending inside a quoted word is an error rather than a silently accepted word;
//! - a file whose last line has one word and no LF still yields that word.
#![forbid(unsafe_code)]

use std::fmt;

/// Words kept per logical line; later words are dropped (NUT's `PCONF_DEFAULT_ARG_LIMIT`).
pub const MAX_WORDS: usize = 32;

/// Bytes kept per word; later bytes are dropped (NUT's `PCONF_DEFAULT_WORDLEN_LIMIT`).
pub const MAX_WORD_LEN: usize = 512;

/// What the tokenizer reports when a logical line is over.
///
/// Every logical line produces exactly one event, including empty and comment-only lines
/// (the socket treats an empty line as a command with no words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete logical line.
    Line(Line),
    /// A line that could not be parsed; its words are not reported.
    Error(LineError),
}

/// A complete logical line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    /// The physical line (1-based) on which this logical line started. With continuations
    /// and multi-line quoted words a logical line covers several physical lines; the first
    /// one is where an editor should jump. (C counts logical lines instead, so its numbers
    /// drift after every continuation.)
    pub line: usize,
    /// The words, at most [`MAX_WORDS`], each at most [`MAX_WORD_LEN`] printable ASCII bytes.
    /// A quoted word may be empty (`""`).
    pub words: Vec<String>,
    /// Input that was dropped while reading the line.
    pub warnings: Warnings,
}

/// A logical line that was abandoned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// The physical line (1-based) on which the logical line started.
    pub line: usize,
    /// The physical line (1-based) on which the problem was found.
    pub at_line: usize,
    /// What went wrong.
    pub kind: ErrorKind,
    /// Input that was dropped before the error.
    pub warnings: Warnings,
}

/// Why a line was abandoned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// An unescaped `#` inside a quoted word. The rest of the physical line is skipped.
    HashInQuotes,
    /// The input ended inside a quoted word.
    UnterminatedQuote,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::HashInQuotes => f.write_str(
                "unescaped '#' inside a quoted word (write \\# for a literal '#'); \
                 the whole line was ignored",
            ),
            ErrorKind::UnterminatedQuote => f.write_str(
                "the input ended inside a quoted word (missing closing '\"'); the line was ignored",
            ),
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at_line == self.line {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{} (found on line {})", self.kind, self.at_line)
        }
    }
}

/// Input dropped while reading one logical line. Every field is a counter or a short list,
/// so a hostile line cannot make this grow without bound.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Warnings {
    /// How many bytes outside printable ASCII were dropped.
    pub discarded: usize,
    /// The distinct values of those bytes, in order of first appearance (at most 256).
    pub discarded_values: Vec<u8>,
    /// How many words beyond [`MAX_WORDS`] were dropped.
    pub dropped_words: usize,
    /// How many words were cut to [`MAX_WORD_LEN`] bytes.
    pub truncated_words: usize,
}

impl Warnings {
    /// True when nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.discarded == 0 && self.dropped_words == 0 && self.truncated_words == 0
    }

    /// One human-readable sentence per kind of dropped input.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.discarded > 0 {
            let values: Vec<String> = self
                .discarded_values
                .iter()
                .map(|b| format!("0x{b:02x}"))
                .collect();
            out.push(format!(
                "dropped {} byte(s) outside printable ASCII ({})",
                self.discarded,
                values.join(", ")
            ));
        }
        if self.truncated_words > 0 {
            out.push(format!(
                "cut {} word(s) to {MAX_WORD_LEN} bytes",
                self.truncated_words
            ));
        }
        if self.dropped_words > 0 {
            out.push(format!(
                "dropped {} word(s) beyond the first {MAX_WORDS}",
                self.dropped_words
            ));
        }
        out
    }

    fn discard(&mut self, byte: u8) {
        self.discarded = self.discarded.saturating_add(1);
        if !self.discarded_values.contains(&byte) {
            self.discarded_values.push(byte);
        }
    }
}

/// Where an escape sequence returns to once its byte has been taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resume {
    WordStart,
    Word,
    Quoted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    WordStart,
    Word,
    Quoted,
    /// After `\`.
    Escape(Resume),
    /// After `\` CR: a following LF makes it a continuation, anything else drops the CR.
    EscapeCr(Resume),
    Comment,
    /// After an error, until the next unescaped LF.
    Skip,
    SkipEscape,
}

impl From<Resume> for State {
    fn from(r: Resume) -> State {
        match r {
            Resume::WordStart => State::WordStart,
            Resume::Word => State::Word,
            Resume::Quoted => State::Quoted,
        }
    }
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

fn is_printable(byte: u8) -> bool {
    (0x20..=0x7e).contains(&byte)
}

/// The incremental tokenizer. Feed it bytes; it answers with an [`Event`] whenever a logical
/// line is over. Memory use is bounded by [`MAX_WORDS`] × [`MAX_WORD_LEN`] whatever it is fed.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    state: State,
    words: Vec<String>,
    word: String,
    word_truncated: bool,
    warnings: Warnings,
    /// Physical line of the byte being read.
    physical: usize,
    /// Physical line of the last byte read, which is where an unexpected end of input is.
    last: usize,
    /// Physical line on which the current logical line started.
    start: usize,
    /// Whether any byte of the current logical line has been read.
    started: bool,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Tokenizer {
    /// A tokenizer at the start of line 1.
    pub fn new() -> Self {
        Tokenizer {
            state: State::WordStart,
            words: Vec::new(),
            word: String::new(),
            word_truncated: false,
            warnings: Warnings::default(),
            physical: 1,
            last: 1,
            start: 1,
            started: false,
        }
    }

    /// Reads one byte. Returns an event when this byte ended a logical line (an unescaped LF
    /// outside quotes) or made it fail.
    pub fn feed(&mut self, byte: u8) -> Option<Event> {
        self.started = true;
        self.last = self.physical;
        let event = self.step(byte);
        if byte == b'\n' {
            self.physical = self.physical.saturating_add(1);
            if !self.started {
                // This LF ended the logical line, so the next one starts on the next line.
                self.start = self.physical;
            }
        }
        event
    }

    /// Reads a chunk of bytes and returns the events it produced, in order. Equivalent to
    /// calling [`Tokenizer::feed`] for each byte; a line may span any number of chunks.
    pub fn feed_slice(&mut self, bytes: &[u8]) -> Vec<Event> {
        bytes.iter().filter_map(|&b| self.feed(b)).collect()
    }

    /// Ends the input: completes a last line that has no LF. Afterwards the tokenizer is as
    /// new (line numbering starts again at 1).
    pub fn finish(&mut self) -> Option<Event> {
        let mut state = self.state;
        if let State::EscapeCr(r) = state {
            self.warnings.discard(b'\r');
            state = State::Escape(r);
        }
        // A backslash with nothing after it escapes nothing.
        if let State::Escape(r) = state {
            state = r.into();
        }
        let event = match state {
            // The escape states were resolved just above.
            State::Skip | State::SkipEscape | State::Escape(_) | State::EscapeCr(_) => None,
            State::Quoted => Some(Event::Error(LineError {
                line: self.start,
                at_line: self.last,
                kind: ErrorKind::UnterminatedQuote,
                warnings: std::mem::take(&mut self.warnings),
            })),
            State::Word => {
                self.end_word();
                Some(self.line_event())
            }
            State::WordStart | State::Comment => self.started.then(|| self.line_event()),
        };
        *self = Tokenizer::new();
        event
    }

    fn step(&mut self, byte: u8) -> Option<Event> {
        match self.state {
            State::WordStart => self.word_start(byte),
            State::Word => self.in_word(byte),
            State::Quoted => self.in_quotes(byte),
            State::Escape(r) => {
                match byte {
                    b'\n' => self.state = r.into(),
                    b'\r' => self.state = State::EscapeCr(r),
                    _ if is_printable(byte) => {
                        if r == Resume::WordStart {
                            self.begin_word();
                        }
                        self.push(byte);
                        self.state = match r {
                            Resume::Quoted => State::Quoted,
                            Resume::WordStart | Resume::Word => State::Word,
                        };
                    }
                    _ => {
                        self.warnings.discard(byte);
                        self.state = r.into();
                    }
                }
                None
            }
            State::EscapeCr(r) => {
                self.state = r.into();
                if byte == b'\n' {
                    return None;
                }
                // The escape was spent on the CR, which is dropped; this byte is read afresh.
                self.warnings.discard(b'\r');
                self.step(byte)
            }
            State::Comment => {
                if byte == b'\n' {
                    return Some(self.line_event());
                }
                None
            }
            State::Skip => {
                match byte {
                    b'\n' => self.reset_line(),
                    b'\\' => self.state = State::SkipEscape,
                    _ => {}
                }
                None
            }
            State::SkipEscape => {
                // Keep `\` CR LF escaped here as well, as it is a continuation elsewhere.
                if byte != b'\r' {
                    self.state = State::Skip;
                }
                None
            }
        }
    }

    fn word_start(&mut self, byte: u8) -> Option<Event> {
        match byte {
            b'\n' => return Some(self.line_event()),
            b'#' => self.state = State::Comment,
            b'\\' => self.state = State::Escape(Resume::WordStart),
            b'"' => {
                self.begin_word();
                self.state = State::Quoted;
            }
            b'=' => self.equals_word(),
            _ if is_space(byte) => {}
            _ if is_printable(byte) => {
                self.begin_word();
                self.push(byte);
                self.state = State::Word;
            }
            _ => self.warnings.discard(byte),
        }
        None
    }

    fn in_word(&mut self, byte: u8) -> Option<Event> {
        match byte {
            b'\n' => {
                self.end_word();
                return Some(self.line_event());
            }
            b'#' => {
                self.end_word();
                self.state = State::Comment;
            }
            b'\\' => self.state = State::Escape(Resume::Word),
            b'=' => {
                self.end_word();
                self.equals_word();
                self.state = State::WordStart;
            }
            _ if is_space(byte) => {
                self.end_word();
                self.state = State::WordStart;
            }
            _ if is_printable(byte) => self.push(byte),
            _ => self.warnings.discard(byte),
        }
        None
    }

    fn in_quotes(&mut self, byte: u8) -> Option<Event> {
        match byte {
            b'"' => {
                self.end_word();
                self.state = State::WordStart;
            }
            b'#' => {
                let event = Event::Error(LineError {
                    line: self.start,
                    at_line: self.physical,
                    kind: ErrorKind::HashInQuotes,
                    warnings: std::mem::take(&mut self.warnings),
                });
                self.words.clear();
                self.word.clear();
                self.state = State::Skip;
                return Some(event);
            }
            b'\\' => self.state = State::Escape(Resume::Quoted),
            _ if is_printable(byte) => self.push(byte),
            _ => self.warnings.discard(byte),
        }
        None
    }

    fn begin_word(&mut self) {
        self.word.clear();
        self.word_truncated = false;
    }

    fn push(&mut self, byte: u8) {
        if self.word.len() < MAX_WORD_LEN {
            self.word.push(char::from(byte));
        } else if !self.word_truncated {
            self.word_truncated = true;
            self.warnings.truncated_words = self.warnings.truncated_words.saturating_add(1);
        }
    }

    fn end_word(&mut self) {
        if self.words.len() < MAX_WORDS {
            self.words.push(std::mem::take(&mut self.word));
        } else {
            self.word.clear();
            self.warnings.dropped_words = self.warnings.dropped_words.saturating_add(1);
        }
    }

    fn equals_word(&mut self) {
        self.begin_word();
        self.word.push('=');
        self.end_word();
    }

    fn line_event(&mut self) -> Event {
        let event = Event::Line(Line {
            line: self.start,
            words: std::mem::take(&mut self.words),
            warnings: std::mem::take(&mut self.warnings),
        });
        self.reset_line();
        event
    }

    /// Prepares for the next logical line, which starts after the LF being read.
    fn reset_line(&mut self) {
        self.words.clear();
        self.word.clear();
        self.word_truncated = false;
        self.warnings = Warnings::default();
        self.state = State::WordStart;
        self.started = false;
    }
}

/// Tokenizes a whole input, including a last line without LF.
pub fn tokenize(input: &[u8]) -> Vec<Event> {
    let mut tokenizer = Tokenizer::new();
    let mut events = tokenizer.feed_slice(input);
    events.extend(tokenizer.finish());
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One event per entry: `3["a", "b"]` for a line starting on line 3, `3!HashInQuotes` for
    /// an error; compact enough to keep the tables readable.
    fn render(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::Line(l) => format!("{}{:?}", l.line, l.words),
                Event::Error(err) => format!("{}!{:?}", err.line, err.kind),
            })
            .collect()
    }

    fn check(cases: &[(&[u8], &[&str])]) {
        for (input, expected) in cases {
            let got = render(&tokenize(input));
            assert_eq!(got, *expected, "input {:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn words_and_lines() {
        check(&[
            (b"", &[]),
            (b"\n", &["1[]"]),
            (b"foo bar\n", &[r#"1["foo", "bar"]"#]),
            (b"  foo\t\tbar  \n", &[r#"1["foo", "bar"]"#]),
            (b"a\x0bb\x0cc\rd\n", &[r#"1["a", "b", "c", "d"]"#]),
            (b"a\n\nb\n", &[r#"1["a"]"#, "2[]", r#"3["b"]"#]),
            // CRLF: CR is whitespace.
            (
                b"foo = bar\r\nbaz\r\n",
                &[r#"1["foo", "=", "bar"]"#, r#"2["baz"]"#],
            ),
            (b"\r\n\r\n", &["1[]", "2[]"]),
        ]);
    }

    #[test]
    fn end_of_input_without_newline() {
        check(&[
            (b"foo = bar", &[r#"1["foo", "=", "bar"]"#]),
            // C loses a lone last word when the file has no final LF.
            (b"nolock", &[r#"1["nolock"]"#]),
            (b"a\nb", &[r#"1["a"]"#, r#"2["b"]"#]),
            (b"a\\", &[r#"1["a"]"#]),
            (b"\\", &["1[]"]),
            (b"a \\\r", &[r#"1["a"]"#]),
            (b"#c", &["1[]"]),
            (b"   ", &["1[]"]),
            (b"\"x\"", &[r#"1["x"]"#]),
            (b"a\n", &[r#"1["a"]"#]),
        ]);
    }

    #[test]
    fn comments() {
        check(&[
            (b"# comment\n", &["1[]"]),
            (b"   # indented \"comment\n", &["1[]"]),
            (b"foo # c\n", &[r#"1["foo"]"#]),
            (b"port=/dev/x#c\n", &[r#"1["port", "=", "/dev/x"]"#]),
            (b"foo#bar baz\n", &[r#"1["foo"]"#]),
            (b"a \"b\"#c\n", &[r#"1["a", "b"]"#]),
            // A backslash does not extend a comment.
            (b"# c \\\nnext\n", &["1[]", r#"2["next"]"#]),
            (b"# \"#\n", &["1[]"]),
        ]);
    }

    #[test]
    fn quotes() {
        check(&[
            (b"\"PI\"NG\n", &[r#"1["PI", "NG"]"#]),
            (b"a\"b\"c\n", &[r#"1["a\"b\"c"]"#]),
            (b"\"a b\"\n", &[r#"1["a b"]"#]),
            (b"\"\"\n", &[r#"1[""]"#]),
            (b"x \"\" y\n", &[r#"1["x", "", "y"]"#]),
            (
                b"model = \"x=y\" extra\n",
                &[r#"1["model", "=", "x=y", "extra"]"#],
            ),
            (b"\"a\"\"b\"\n", &[r#"1["a", "b"]"#]),
            (b"\"a\"=b\n", &[r#"1["a", "=", "b"]"#]),
            (b"\" lead and trail \"\n", &[r#"1[" lead and trail "]"#]),
            (b"\"[my ups]\"\n", &[r#"1["[my ups]"]"#]),
            (b"[my ups]\n", &[r#"1["[my", "ups]"]"#]),
        ]);
    }

    #[test]
    fn equals_is_a_word() {
        check(&[
            (b"foo=bar\n", &[r#"1["foo", "=", "bar"]"#]),
            (b"foo= bar\n", &[r#"1["foo", "=", "bar"]"#]),
            (b"foo =bar\n", &[r#"1["foo", "=", "bar"]"#]),
            (
                b"port=/dev/x=y\n",
                &[r#"1["port", "=", "/dev/x", "=", "y"]"#],
            ),
            (b"==\n", &[r#"1["=", "="]"#]),
            (b"=\n", &[r#"1["="]"#]),
            (b"a\\=b\n", &[r#"1["a=b"]"#]),
            (b"\\=\n", &[r#"1["="]"#]),
        ]);
    }

    #[test]
    fn escapes() {
        check(&[
            (b"\\#x\n", &[r##"1["#x"]"##]),
            (b"a\\#b\n", &[r##"1["a#b"]"##]),
            (b"\\\"x\\\"\n", &[r#"1["\"x\""]"#]),
            (b"\"a\\\"b\"\n", &[r#"1["a\"b"]"#]),
            (b"a\\\\b\n", &[r#"1["a\\b"]"#]),
            (b"\"a\\\\\"\n", &[r#"1["a\\"]"#]),
            (b"a\\ b\n", &[r#"1["a b"]"#]),
            (b"\\ \n", &[r#"1[" "]"#]),
            (b"\"a\\#b\"\n", &[r##"1["a#b"]"##]),
            (b"\\\\\n", &[r#"1["\\"]"#]),
            // An escaped byte that is dropped leaves no word behind.
            (b"\\\x01x\n", &[r#"1["x"]"#]),
            (b"a \\\x01 b\n", &[r#"1["a", "b"]"#]),
        ]);
    }

    #[test]
    fn continuations() {
        check(&[
            (b"foo \\\nbar\n", &[r#"1["foo", "bar"]"#]),
            (b"fo\\\no\n", &[r#"1["foo"]"#]),
            (b"a\\\nb\nc\n", &[r#"1["ab"]"#, r#"3["c"]"#]),
            // Unlike C, no empty word appears before the indented value.
            (b"key = \\\n  value\n", &[r#"1["key", "=", "value"]"#]),
            (b"key = \\\n\"v w\"\n", &[r#"1["key", "=", "v w"]"#]),
            (b"a \\\r\nb\r\n", &[r#"1["a", "b"]"#]),
            (b"a\\\r\nb\r\n", &[r#"1["ab"]"#]),
            (b"\"a\\\nb\"\n", &[r#"1["ab"]"#]),
            (b"\"a\\\r\nb\"\n", &[r#"1["ab"]"#]),
            (b"\\\n\\\n\\\nx\ny\n", &[r#"1["x"]"#, r#"5["y"]"#]),
            // `\` CR not followed by LF: the CR is dropped and the next byte read normally.
            (b"a\\\rb\n", &[r#"1["ab"]"#]),
            (b"a\\\r b\n", &[r#"1["a", "b"]"#]),
            (b"a\\\r\\\nb\n", &[r#"1["ab"]"#]),
        ]);
    }

    #[test]
    fn newline_inside_quotes_is_dropped() {
        check(&[
            (
                b"desc = \"a\nb\"\nc\n",
                &[r#"1["desc", "=", "ab"]"#, r#"3["c"]"#],
            ),
            (b"\"a\r\nb\"\n", &[r#"1["ab"]"#]),
            (b"\"\n\n\n\"\nx\n", &[r#"1[""]"#, r#"5["x"]"#]),
        ]);
    }

    #[test]
    fn invalid_bytes_are_dropped() {
        check(&[
            (b"a\x80b\n", &[r#"1["ab"]"#]),
            (b"a \xc3\xa9 b\n", &[r#"1["a", "b"]"#]),
            (b"\xc3\xa9\n", &["1[]"]),
            (b"\"a\tb\"\n", &[r#"1["ab"]"#]),
            (b"\"\x00\"\n", &[r#"1[""]"#]),
            (b"a\x7fb\n", &[r#"1["ab"]"#]),
            (b"\x01\x02\x1b[0m\n", &[r#"1["[0m"]"#]),
            (b"~ \x20\n", &[r#"1["~"]"#]),
        ]);
        let cases: &[(&[u8], usize, &[u8])] = &[
            (b"plain\n", 0, b""),
            (b"a\x80b\x80\xff\n", 3, b"\x80\xff"),
            (b"\"a\tb\"\n", 1, b"\t"),
            (b"\"a\nb\"\n", 1, b"\n"),
            (b"\"a\r\nb\"\n", 2, b"\r\n"),
            (b"a\\\rb\n", 1, b"\r"),
            (b"a \\\r", 1, b"\r"),
            (b"x\x7f\n", 1, b"\x7f"),
            (b"\\\x00\n", 1, b"\x00"),
            // Bytes in comments are not words, so they are not reported.
            (b"# \xc3\xa9\n", 0, b""),
        ];
        for (input, count, values) in cases {
            let events = tokenize(input);
            let Some(Event::Line(line)) = events.first() else {
                panic!("no line for {input:?}");
            };
            assert_eq!(line.warnings.discarded, *count, "{input:?}");
            assert_eq!(line.warnings.discarded_values, *values, "{input:?}");
            assert_eq!(line.warnings.is_empty(), *count == 0, "{input:?}");
        }
    }

    #[test]
    fn limits() {
        let many: String = (0..40).map(|i| format!("w{i} ")).collect();
        let events = tokenize(many.as_bytes());
        let [Event::Line(line)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert_eq!(line.words.len(), MAX_WORDS);
        assert_eq!(line.words.last().map(String::as_str), Some("w31"));
        assert_eq!(line.warnings.dropped_words, 8);

        let long = "a".repeat(600);
        let input = format!("{long} \"{long}\" ok\n");
        let events = tokenize(input.as_bytes());
        let [Event::Line(line)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert_eq!(line.words.len(), 3);
        assert_eq!(line.words[0].len(), MAX_WORD_LEN);
        assert_eq!(line.words[1].len(), MAX_WORD_LEN);
        assert_eq!(line.words[2], "ok");
        assert_eq!(line.warnings.truncated_words, 2);
        assert_eq!(line.warnings.dropped_words, 0);

        // Exactly at the limits nothing is reported.
        let exact = format!("{}\n", "b".repeat(MAX_WORD_LEN));
        let events = tokenize(exact.as_bytes());
        let [Event::Line(line)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert!(line.warnings.is_empty());
        let exact: String = (0..MAX_WORDS).map(|_| "x ").collect();
        let events = tokenize(exact.as_bytes());
        let [Event::Line(line)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert_eq!(line.words.len(), MAX_WORDS);
        assert!(line.warnings.is_empty());

        // `=` words count against the limit too.
        let events = tokenize("=".repeat(40).as_bytes());
        let [Event::Line(line)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert_eq!(line.words.len(), MAX_WORDS);
        assert_eq!(line.warnings.dropped_words, 8);

        // The counters are per line.
        let input = format!("{long}\nshort\n");
        let events = tokenize(input.as_bytes());
        let [Event::Line(first), Event::Line(second)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert_eq!(first.warnings.truncated_words, 1);
        assert!(second.warnings.is_empty());
    }

    #[test]
    fn memory_stays_bounded() {
        const MIB: usize = 1 << 20;
        let inputs: [Box<dyn Fn(usize) -> u8>; 5] = [
            Box::new(|_| b'a'),
            Box::new(|i| if i % 3 == 2 { b' ' } else { b'x' }),
            Box::new(|_| b'='),
            Box::new(|i| if i == 0 { b'"' } else { b"q\n"[i % 2] }),
            Box::new(|i| (i % 256) as u8),
        ];
        for (n, byte_at) in inputs.iter().enumerate() {
            let mut t = Tokenizer::new();
            for i in 0..MIB {
                let byte = byte_at(i);
                // The last generator contains LFs and may end lines; the others must not.
                if let Some(event) = t.feed(byte)
                    && n != 4
                {
                    panic!("generator {n}: unexpected {event:?}");
                }
                assert!(t.words.len() <= MAX_WORDS, "generator {n}");
                assert!(t.word.len() <= MAX_WORD_LEN, "generator {n}");
            }
            assert!(t.words.capacity() <= 2 * MAX_WORDS, "generator {n}");
            assert!(t.word.capacity() <= 2 * MAX_WORD_LEN, "generator {n}");
            assert!(t.warnings.discarded_values.len() <= 256, "generator {n}");
        }
    }

    #[test]
    fn errors_skip_the_rest_of_the_physical_line() {
        check(&[
            // C would go on to read `c"` as a one-word line (a flag).
            (
                b"desc = \"a b # c\"\nnext\n",
                &["1!HashInQuotes", r#"2["next"]"#],
            ),
            (b"\"#\" a b c\n", &["1!HashInQuotes"]),
            (b"\"#", &["1!HashInQuotes"]),
            // The skip honours escapes, so an escaped LF does not end it.
            (
                b"a \"#\" b\\\nstill skipped\nc\n",
                &["1!HashInQuotes", r#"3["c"]"#],
            ),
            (
                b"a \"#\\\r\nskipped\r\nc\r\n",
                &["1!HashInQuotes", r#"3["c"]"#],
            ),
            (
                b"x\n\"#\"\ny\n",
                &[r#"1["x"]"#, "2!HashInQuotes", r#"3["y"]"#],
            ),
            // A quoted word swallowing lines until a `#`.
            (b"\"x\n#\"\ny\n", &["1!HashInQuotes", r#"3["y"]"#]),
            (b"a \"bc", &["1!UnterminatedQuote"]),
            (b"a \"b\nc\nd", &["1!UnterminatedQuote"]),
            (b"ok\n\"b\\", &[r#"1["ok"]"#, "2!UnterminatedQuote"]),
            (b"ok\n\"b\\\r", &[r#"1["ok"]"#, "2!UnterminatedQuote"]),
        ]);

        let events = tokenize(b"one\n\"x\n\ny # z\"\nw\n");
        let [_, Event::Error(err), Event::Line(last)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert_eq!((err.line, err.at_line), (2, 4));
        assert!(err.to_string().contains("found on line 4"), "{err}");
        assert_eq!(
            (last.line, last.words.as_slice()),
            (5, &["w".to_string()][..])
        );

        // The end of input is on the last line that has a byte, not after its LF.
        for (input, at_line) in [(&b"a \"b"[..], 1), (b"a \"b\n", 1), (b"a \"b\nc\n", 2)] {
            let events = tokenize(input);
            let [Event::Error(err)] = events.as_slice() else {
                panic!("{events:?}");
            };
            assert_eq!((err.line, err.at_line), (1, at_line), "{input:?}");
        }

        let events = tokenize(b"\"\x80#\n");
        let [Event::Error(err)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert_eq!(err.warnings.discarded, 1);
        assert_eq!(err.to_string(), ErrorKind::HashInQuotes.to_string());
    }

    #[test]
    fn line_numbers_count_physical_lines() {
        let input = b"a\n# c\n\nb \\\nc\n\"d\ne\"\r\n\"#\"\\\n\nf\rg";
        let got = render(&tokenize(input));
        assert_eq!(
            got,
            [
                r#"1["a"]"#,
                "2[]",
                "3[]",
                r#"4["b", "c"]"#,
                r#"6["de"]"#,
                "8!HashInQuotes",
                r#"10["f", "g"]"#,
            ]
        );
    }

    #[test]
    fn finish_resets_the_tokenizer() {
        let mut t = Tokenizer::new();
        assert_eq!(t.finish(), None);
        assert!(t.feed_slice(b"a\nb").len() == 1);
        assert!(matches!(t.finish(), Some(Event::Line(l)) if l.line == 2));
        assert_eq!(t.finish(), None);
        assert_eq!(render(&t.feed_slice(b"c\n")), [r#"1["c"]"#]);
        t.feed_slice(b"\"#");
        assert_eq!(t.finish(), None);
        assert_eq!(render(&t.feed_slice(b"d\n")), [r#"1["d"]"#]);
    }

    #[test]
    fn warnings_messages() {
        assert!(Warnings::default().messages().is_empty());
        let w = Warnings {
            discarded: 3,
            discarded_values: vec![0x09, 0xc3],
            dropped_words: 2,
            truncated_words: 1,
        };
        assert_eq!(
            w.messages(),
            [
                "dropped 3 byte(s) outside printable ASCII (0x09, 0xc3)",
                "cut 1 word(s) to 512 bytes",
                "dropped 2 word(s) beyond the first 32",
            ]
        );
    }

    /// Every input of the tables above, fed in pieces, must give the same events as when fed
    /// whole.
    #[test]
    fn chunk_boundaries_do_not_matter() {
        let inputs: &[&[u8]] = &[
            b"foo = bar\r\nbaz\r\n",
            b"\"PI\"NG model = \"x=y\" extra\n",
            b"a \\\r\nb\r\n\"a\\\nb\"\n",
            b"desc = \"a b # c\"\nnext\n",
            b"a \"#\" b\\\nstill skipped\nc",
            b"\\#x a\\#b \\\"x\\\" a\\\\b a\\ b \"\" \xc3\xa9 \"\t\"\n",
            b"port=/dev/x#c\n# comment\n\nnolock",
            b"a\\\rb\n\"unterminated",
            b"x\n\"#\"\ny\n\\",
        ];
        let mut seed: u32 = 12345;
        for input in inputs {
            let whole = tokenize(input);
            for cut in 0..=input.len() {
                let mut t = Tokenizer::new();
                let mut events = t.feed_slice(&input[..cut]);
                events.extend(t.feed_slice(&input[cut..]));
                events.extend(t.finish());
                assert_eq!(events, whole, "cut at {cut} of {input:?}");
            }
            for _ in 0..20 {
                let mut t = Tokenizer::new();
                let mut events = Vec::new();
                let mut rest: &[u8] = input;
                while !rest.is_empty() {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    let n = (seed >> 16) as usize % 5;
                    let (chunk, tail) = rest.split_at(n.min(rest.len()));
                    events.extend(t.feed_slice(chunk));
                    rest = tail;
                }
                events.extend(t.finish());
                assert_eq!(events, whole, "random chunks of {input:?}");
            }
        }
    }
}
