//! The upstype table: which lines mean what for each of the 24 known contact-closure cables.
//!
//! Owns the data transcribed from NUT's `genericups.h` (the header, not the man page, which
//! disagrees in places) and the parsing of the `upstype` value with NUT's leniency.
#![forbid(unsafe_code)]

use crate::lines::Lines;
use std::fmt;

/// One input condition: true when the lines in `line` read exactly `val`.
/// `line` empty means the condition is disabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Condition {
    pub line: Lines,
    pub val: Lines,
}

impl Condition {
    pub const DISABLED: Condition = Condition {
        line: Lines::NONE,
        val: Lines::NONE,
    };

    /// True while `l` is asserted.
    pub const fn high(l: Lines) -> Condition {
        Condition { line: l, val: l }
    }

    /// True while `l` is not asserted.
    pub const fn low(l: Lines) -> Condition {
        Condition {
            line: l,
            val: Lines::NONE,
        }
    }

    pub const fn is_disabled(&self) -> bool {
        self.line.is_empty()
    }

    /// Whether the lines read in one `TIOCMGET` satisfy the condition. A disabled condition
    /// matches everything; callers decide what that means (OL treats it as "always on line",
    /// the others as "never").
    pub const fn matches(&self, read: Lines) -> bool {
        read.intersection(self.line).bits() == self.val.bits()
    }
}

/// `SIG` for an active-high line, `-SIG` for active-low, several joined by `+`, `none` when
/// disabled: the same spelling the override syntax accepts.
impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_disabled() {
            return f.write_str("none");
        }
        let mut first = true;
        for (l, name) in Lines::NAMED {
            if self.line.contains(l) {
                if !first {
                    f.write_str("+")?;
                }
                if !self.val.contains(l) {
                    f.write_str("-")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// What `-k` does to tell the UPS to cut the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// The cable has no known shutdown signal; `-k` must fail.
    Unknown,
    /// Drive exactly these output lines (all others low). Exactly `ST` means a BREAK instead.
    Lines(Lines),
}

impl Shutdown {
    /// NUT sends a BREAK when SD is exactly ST and nothing else.
    pub fn is_break(&self) -> bool {
        *self == Shutdown::Lines(Lines::ST)
    }
}

impl fmt::Display for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shutdown::Unknown => f.write_str("unknown"),
            Shutdown::Lines(l) => f.write_str(&output_word(*l)),
        }
    }
}

/// The `DTR+RTS` spelling of an output word (`none` for no line).
pub fn output_word(l: Lines) -> String {
    let names: Vec<&str> = Lines::NAMED
        .iter()
        .filter(|(line, _)| l.contains(*line))
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join("+")
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpsType {
    pub mfr: &'static str,
    pub model: &'static str,
    pub desc: &'static str,
    /// Output lines that power the cable's interface electronics, set at start-up.
    pub cp: Lines,
    pub ol: Condition,
    pub lb: Condition,
    pub rb: Condition,
    pub bypass: Condition,
    pub sd: Shutdown,
}

const DTR: Lines = Lines::DTR;
const RTS: Lines = Lines::RTS;
const DTR_RTS: Lines = Lines::DTR.union(Lines::RTS);
const NONE: Lines = Lines::NONE;
const ST: Shutdown = Shutdown::Lines(Lines::ST);
const UNKNOWN: Shutdown = Shutdown::Unknown;
const OFF: Condition = Condition::DISABLED;

const fn hi(l: Lines) -> Condition {
    Condition::high(l)
}
const fn lo(l: Lines) -> Condition {
    Condition::low(l)
}
const fn sd(l: Lines) -> Shutdown {
    Shutdown::Lines(l)
}

#[allow(clippy::too_many_arguments)]
const fn row(
    mfr: &'static str,
    model: &'static str,
    desc: &'static str,
    cp: Lines,
    ol: Condition,
    lb: Condition,
    sd: Shutdown,
) -> UpsType {
    UpsType {
        mfr,
        model,
        desc,
        cp,
        ol,
        lb,
        rb: OFF,
        bypass: OFF,
        sd,
    }
}

const CTS: Lines = Lines::CTS;
const DCD: Lines = Lines::DCD;

/// The table, indexed by upstype number.
pub const UPS_TYPES: [UpsType; 24] = [
    row(
        "UPSONIC",
        "LAN Saver 600",
        "UPSONIC LAN Saver 600",
        DTR_RTS,
        lo(CTS),
        hi(DCD),
        sd(RTS),
    ),
    row(
        "APC",
        "Back-UPS",
        "APC Back-UPS (940-0095A/C cable)",
        DTR,
        lo(Lines::RNG),
        hi(DCD),
        sd(RTS),
    ),
    row(
        "APC",
        "Back-UPS",
        "APC Back-UPS (940-0020B/C cable)",
        RTS,
        lo(CTS),
        hi(DCD),
        sd(DTR_RTS),
    ),
    row(
        "PowerTech",
        "Comp1000",
        "PowerTech Comp1000 with DTR as cable power",
        DTR,
        lo(CTS),
        hi(DCD),
        sd(DTR_RTS),
    ),
    row(
        "Generic",
        "Generic RUPS model",
        "Generic RUPS model",
        RTS,
        hi(CTS),
        lo(DCD),
        sd(NONE),
    ),
    row(
        "TrippLite",
        "Internet Office Series",
        "Tripp Lite UPS with Lan2.2 interface (black 73-0844 cable)",
        DTR,
        hi(CTS),
        lo(DCD),
        sd(DTR_RTS),
    ),
    row(
        "Best",
        "Patriot",
        "Best Patriot (INT51 cable)",
        DTR,
        hi(CTS),
        lo(DCD),
        sd(RTS),
    ),
    row(
        "CyberPower",
        "Power99",
        "CyberPower Power99",
        RTS,
        hi(CTS),
        lo(DCD),
        sd(DTR),
    ),
    row(
        "Nitram",
        "Elite UPS",
        "Nitram Elite 500",
        DTR,
        hi(CTS),
        lo(DCD),
        UNKNOWN,
    ),
    row(
        "APC",
        "Back-UPS",
        "APC Back-UPS (940-0023A cable)",
        NONE,
        lo(DCD),
        hi(CTS),
        sd(RTS),
    ),
    row(
        "Victron",
        "Lite",
        "Victron Lite (crack cable)",
        RTS,
        hi(CTS),
        lo(DCD),
        sd(DTR),
    ),
    row(
        "Powerware",
        "3115",
        "Powerware 3115",
        DTR,
        lo(CTS),
        lo(DCD),
        ST,
    ),
    row(
        "APC",
        "Back-UPS Office",
        "APC Back-UPS Office (940-0119A cable)",
        RTS,
        lo(CTS),
        hi(DCD),
        sd(DTR),
    ),
    row(
        "RPT",
        "Repoteck",
        "Repoteck RPT-800A, RPT-162A",
        DTR_RTS,
        hi(DCD),
        lo(CTS),
        ST,
    ),
    row(
        "Online",
        "P250, P500, P750, P1250",
        "Online P-series",
        DTR,
        hi(DCD),
        lo(CTS),
        sd(RTS),
    ),
    row(
        "Powerware",
        "5119",
        "Powerware 5119",
        DTR,
        hi(CTS),
        lo(DCD),
        ST,
    ),
    row(
        "Nitram",
        "Elite UPS",
        "Nitram Elite 2002",
        DTR_RTS,
        hi(CTS),
        lo(DCD),
        UNKNOWN,
    ),
    row(
        "PowerKinetics",
        "9001",
        "PowerKinetics 9001",
        DTR,
        hi(CTS),
        lo(DCD),
        UNKNOWN,
    ),
    row(
        "TrippLite",
        "Omni 450LAN",
        "TrippLite UPS with Martin's cabling",
        DTR,
        hi(CTS),
        hi(DCD),
        UNKNOWN,
    ),
    row(
        "Fideltronik",
        "Ares Series",
        "Fideltronik Ares Series",
        DTR,
        hi(CTS),
        lo(DCD),
        sd(RTS),
    ),
    row(
        "Powerware",
        "5119 RM",
        "Powerware 5119 RM",
        DTR,
        lo(CTS),
        hi(DCD),
        ST,
    ),
    row(
        "Generic",
        "Generic RUPS 2000",
        "Generic RUPS 2000 (Megatec M2501 cable)",
        RTS,
        hi(CTS),
        lo(DCD),
        sd(DTR_RTS),
    ),
    row(
        "Gamatronic Electronic Industries",
        "Generic Alarm UPS",
        "Gamatronic UPSs with alarm interface",
        RTS,
        hi(CTS),
        lo(DCD),
        sd(DTR),
    ),
    UpsType {
        mfr: "Generic",
        model: "Generic FTTx Battery Backup",
        desc: "FTTx (Fiber to the x) battery backup with 4-wire telemetry interface",
        cp: RTS,
        ol: hi(CTS),
        lb: lo(DCD),
        rb: lo(Lines::RNG),
        bypass: lo(Lines::DSR),
        sd: sd(NONE),
    },
];

/// Why an `upstype` value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstypeError {
    /// No leading digits at all (`abc`). The C driver reads this as type 0, which drives
    /// DTR+RTS on a cable that may expect something else; we refuse it.
    NotANumber(String),
    /// A number outside 0..=23 (the C driver's "unknown UPS type number").
    OutOfRange(String),
}

impl fmt::Display for UpstypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstypeError::NotANumber(v) => write!(f, "upstype '{v}' is not a number"),
            UpstypeError::OutOfRange(v) => {
                write!(f, "upstype '{v}' is not in 0..{}", UPS_TYPES.len() - 1)
            }
        }
    }
}

/// Parses `upstype` like C's `atoi` (leading blanks, optional sign, leading digits, trailing
/// junk ignored: `1x` is 1), except that a value with no digits is an error instead of 0.
pub fn parse_upstype(value: &str) -> Result<usize, UpstypeError> {
    match crate::cnum::atoi(value) {
        None => Err(UpstypeError::NotANumber(value.to_string())),
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| *n < UPS_TYPES.len())
            .ok_or_else(|| UpstypeError::OutOfRange(value.to_string())),
    }
}

/// The `n: description` listing the help text and the bad-upstype error print.
pub fn type_list() -> String {
    let mut out = String::from("Valid UPS types:\n\n");
    for (n, t) in UPS_TYPES.iter().enumerate() {
        out.push_str(&format!("{n}: {}\n", t.desc));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstype_parsing_follows_atoi_with_a_guard_for_non_numbers() {
        use UpstypeError::*;
        let cases: [(&str, Result<usize, UpstypeError>); 12] = [
            ("0", Ok(0)),
            ("1", Ok(1)),
            ("23", Ok(23)),
            (" 4", Ok(4)),
            ("1x", Ok(1)),
            ("+7", Ok(7)),
            ("-0", Ok(0)),
            ("24", Err(OutOfRange("24".into()))),
            ("-1", Err(OutOfRange("-1".into()))),
            (
                "99999999999999999999999",
                Err(OutOfRange("99999999999999999999999".into())),
            ),
            ("abc", Err(NotANumber("abc".into()))),
            ("", Err(NotANumber("".into()))),
        ];
        for (v, want) in cases {
            assert_eq!(parse_upstype(v), want, "{v:?}");
        }
    }

    #[test]
    fn type_list_has_one_line_per_type() {
        let list = type_list();
        assert!(list.starts_with("Valid UPS types:\n\n0: UPSONIC LAN Saver 600\n"));
        assert!(list.ends_with(
            "23: FTTx (Fiber to the x) battery backup with 4-wire telemetry interface\n"
        ));
        assert_eq!(list.lines().count(), 26);
    }

    #[test]
    fn condition_display_uses_override_spelling() {
        assert_eq!(Condition::low(Lines::CTS).to_string(), "-CTS");
        assert_eq!(Condition::high(Lines::DCD).to_string(), "DCD");
        assert_eq!(Condition::DISABLED.to_string(), "none");
        let both = Condition {
            line: Lines::CTS | Lines::DSR,
            val: Lines::DSR,
        };
        assert_eq!(both.to_string(), "-CTS+DSR");
    }

    #[test]
    fn shutdown_break_is_exactly_st() {
        assert!(UPS_TYPES[11].sd.is_break());
        assert!(!Shutdown::Lines(Lines::ST | Lines::DTR).is_break());
        assert!(!UPS_TYPES[8].sd.is_break());
        assert_eq!(UPS_TYPES[2].sd.to_string(), "DTR+RTS");
        assert_eq!(UPS_TYPES[4].sd.to_string(), "none");
        assert_eq!(UPS_TYPES[8].sd.to_string(), "unknown");
    }
}
