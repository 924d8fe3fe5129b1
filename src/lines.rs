//! Modem-control line words.
//!
//! Owns the `Lines` bit set that every other module uses to talk about the serial port's
//! modem-control lines. The bit values are the Linux `TIOCM_*` values, so a word read with
//! `TIOCMGET` converts without translation, and log lines show the same hex numbers as the C
//! driver's debug output and the test interposer's log.
#![forbid(unsafe_code)]

use std::fmt;

/// A set of modem-control lines (the word `TIOCMGET` returns and `TIOCMSET` takes).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Lines(u32);

impl Lines {
    pub const NONE: Lines = Lines(0);
    /// Data Terminal Ready (output).
    pub const DTR: Lines = Lines(0x002);
    /// Request To Send (output).
    pub const RTS: Lines = Lines(0x004);
    /// Secondary transmit; NUT's SD uses it to mean "send a BREAK".
    pub const ST: Lines = Lines(0x008);
    /// Clear To Send (input).
    pub const CTS: Lines = Lines(0x020);
    /// Data Carrier Detect, `TIOCM_CD` (input).
    pub const DCD: Lines = Lines(0x040);
    /// Ring Indicator, `TIOCM_RNG` (input).
    pub const RNG: Lines = Lines(0x080);
    /// Data Set Ready (input).
    pub const DSR: Lines = Lines(0x100);

    /// The four lines a contact-closure UPS can drive.
    pub const INPUTS: Lines = Lines(0x020 | 0x040 | 0x080 | 0x100);
    /// The two lines the driver drives (cable power, shutdown).
    pub const OUTPUTS: Lines = Lines(0x002 | 0x004);

    /// Names in the order NUT's override syntax and our logs use them.
    pub const NAMED: [(Lines, &'static str); 7] = [
        (Lines::DTR, "DTR"),
        (Lines::RTS, "RTS"),
        (Lines::ST, "ST"),
        (Lines::CTS, "CTS"),
        (Lines::DCD, "DCD"),
        (Lines::RNG, "RNG"),
        (Lines::DSR, "DSR"),
    ];

    pub const fn from_bits(bits: u32) -> Lines {
        Lines(bits)
    }

    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn contains(self, other: Lines) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn intersects(self, other: Lines) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn union(self, other: Lines) -> Lines {
        Lines(self.0 | other.0)
    }

    pub const fn intersection(self, other: Lines) -> Lines {
        Lines(self.0 & other.0)
    }

    pub const fn difference(self, other: Lines) -> Lines {
        Lines(self.0 & !other.0)
    }

    /// Looks up one line by its NUT name (exact, upper case, as the C driver matches it).
    pub fn by_name(name: &str) -> Option<Lines> {
        Lines::NAMED
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(line, _)| *line)
    }

    /// Parses the simulated port's text form: line names separated by blanks, `+` or commas,
    /// or a number (`0x160`, `352`). Unknown words are an error naming the word.
    pub fn parse_list(text: &str) -> Result<Lines, String> {
        let trimmed = text.trim();
        if let Some(hex) = trimmed
            .strip_prefix("0x")
            .or_else(|| trimmed.strip_prefix("0X"))
        {
            return u32::from_str_radix(hex, 16)
                .map(Lines)
                .map_err(|_| format!("'{trimmed}' is not a hexadecimal line word"));
        }
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return trimmed
                .parse()
                .map(Lines)
                .map_err(|_| format!("'{trimmed}' is not a line word"));
        }
        let mut lines = Lines::NONE;
        for word in trimmed
            .split(|c: char| c.is_ascii_whitespace() || c == '+' || c == ',' || c == '|')
            .filter(|w| !w.is_empty())
        {
            let upper = word.to_ascii_uppercase();
            let line = match upper.as_str() {
                "CD" => Some(Lines::DCD),
                "RI" => Some(Lines::RNG),
                "NONE" | "-" => Some(Lines::NONE),
                _ => Lines::by_name(&upper),
            };
            match line {
                Some(l) => lines = lines.union(l),
                None => return Err(format!("'{word}' is not a modem line name")),
            }
        }
        Ok(lines)
    }
}

impl std::ops::BitOr for Lines {
    type Output = Lines;
    fn bitor(self, rhs: Lines) -> Lines {
        self.union(rhs)
    }
}

/// Lists the set lines by name, `none` when empty (used in debug output and the simulated
/// port's log).
impl fmt::Display for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (line, name) in Lines::NAMED {
            if self.contains(line) {
                if !first {
                    f.write_str(" ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        let unnamed = self.0 & !Lines::NAMED.iter().fold(0, |acc, (l, _)| acc | l.0);
        if unnamed != 0 {
            if !first {
                f.write_str(" ")?;
            }
            write!(f, "0x{unnamed:03x}")?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lines(0x{:03x} {})", self.0, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_lines_in_fixed_order() {
        let cases = [
            (Lines::NONE, "none"),
            (Lines::CTS, "CTS"),
            (Lines::DSR | Lines::CTS, "CTS DSR"),
            (Lines::DTR | Lines::RTS, "DTR RTS"),
            (Lines::from_bits(0x1000) | Lines::DCD, "DCD 0x1000"),
        ];
        for (lines, want) in cases {
            assert_eq!(lines.to_string(), want, "{lines:?}");
        }
    }

    #[test]
    fn parse_list_accepts_names_numbers_and_aliases() {
        let cases = [
            ("", Ok(Lines::NONE)),
            ("none", Ok(Lines::NONE)),
            ("CTS DCD", Ok(Lines::CTS | Lines::DCD)),
            ("cts+dcd\n", Ok(Lines::CTS | Lines::DCD)),
            ("RI,CD", Ok(Lines::RNG | Lines::DCD)),
            ("0x120", Ok(Lines::CTS | Lines::DSR)),
            ("288", Ok(Lines::CTS | Lines::DSR)),
            ("CTS FOO", Err("'FOO' is not a modem line name".to_string())),
        ];
        for (text, want) in cases {
            assert_eq!(Lines::parse_list(text), want, "{text:?}");
        }
    }

    #[test]
    fn bits_match_linux_tiocm_values() {
        assert_eq!(Lines::DTR.bits(), 0x002);
        assert_eq!(Lines::RTS.bits(), 0x004);
        assert_eq!(Lines::ST.bits(), 0x008);
        assert_eq!(Lines::CTS.bits(), 0x020);
        assert_eq!(Lines::DCD.bits(), 0x040);
        assert_eq!(Lines::RNG.bits(), 0x080);
        assert_eq!(Lines::DSR.bits(), 0x100);
    }
}
