//! The CP, SD, OL, LB, RB and BYPASS override values.
//!
//! Owns the tokeniser for override values. The C driver searches the value for substrings, so
//! a typo such as `OL=CST` silently disables the on-line condition (the UPS then reads "on
//! line" forever and no shutdown ever happens). We split the value into signal names instead:
//! every spelling the C driver reads the same way still works (`DTR+RTS`, `DTR RTS`, `RTSDTR`,
//! `-DCD`, `NULL`, `none`, `ST`), and anything left over is an error that names the token.
#![forbid(unsafe_code)]

use crate::lines::Lines;
use crate::upstype::{Condition, Shutdown, UpsType};
use std::fmt;

/// Why an override value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OverrideError {
    /// Text that is not a signal name (`CST`, `dcd`, `CD`).
    UnknownToken(String),
    /// An input line given for CP or SD.
    NotAnOutput(&'static str),
    /// An output line given for OL, LB, RB or BYPASS.
    NotAnInput(&'static str),
    /// `-ST`: the C driver sends a BREAK for it anyway, which is surely not what was meant.
    NegatedBreak,
    /// `!CTS`, `~CTS`, `^CTS`: other tools' negation, which the C driver silently reads as
    /// the plain signal (the opposite of what was meant).
    ForeignNegation(String),
    /// A value with no signal name at all. The C driver reads an empty OL as "always on line"
    /// (no shutdown, ever); an explicit NULL or none says that on purpose.
    Empty,
    /// A `-` that does not touch a name (`- CTS`, `CTS -`): the C driver drops it, which
    /// turns an intended active-low signal into an active-high one.
    DetachedMinus(String),
    /// A character that is neither part of a name nor a separator (`DTR.RTS`).
    StrayCharacter { word: String, ch: char },
    /// `CP=ST`: a BREAK is a shutdown signal, not cable power (the C driver silently reads it
    /// as "both outputs low").
    BreakAsCablePower,
}

impl fmt::Display for OverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverrideError::UnknownToken(t) => write!(
                f,
                "'{t}' is not a signal name (expected DTR, RTS, ST, CTS, DCD, RNG, DSR, \
                 each optionally preceded by '-', or NULL/none)"
            ),
            OverrideError::NotAnOutput(s) => {
                write!(f, "can't override output with {s} (not an output)")
            }
            OverrideError::NotAnInput(s) => {
                write!(f, "can't override input with {s} (not an input)")
            }
            OverrideError::NegatedBreak => write!(
                f,
                "'-ST' is ambiguous: the C driver still sends a BREAK for it; write ST, or leave it out"
            ),
            OverrideError::ForeignNegation(t) => write!(
                f,
                "'{t}': write '-' for an active-low signal (for example -CTS); the C driver would \
                 read this as the plain signal"
            ),
            OverrideError::Empty => write!(
                f,
                "no signal given; write NULL or none to disable this signal on purpose"
            ),
            OverrideError::DetachedMinus(w) => write!(
                f,
                "'{w}': a '-' must touch the signal name it inverts (for example -CTS)"
            ),
            OverrideError::StrayCharacter { word, ch } => write!(
                f,
                "unexpected '{ch}' in '{word}' (separate signal names with '+', ',' or blanks)"
            ),
            OverrideError::BreakAsCablePower => write!(
                f,
                "ST (a BREAK) is a shutdown signal and cannot be cable power; use it in SD"
            ),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Signal { line: Lines, negated: bool },
    Nothing,
}

/// Signal names, matched exactly (the C driver reads only upper case, so `dcd` would be
/// silently ignored there: an error here).
const NAMES: [(&str, Lines); 7] = [
    ("DTR", Lines::DTR),
    ("RTS", Lines::RTS),
    ("CTS", Lines::CTS),
    ("DCD", Lines::DCD),
    ("RNG", Lines::RNG),
    ("DSR", Lines::DSR),
    ("ST", Lines::ST),
];

/// "No signal", in any case: whatever the C driver makes of `NONE` or `null` (nothing
/// recognised) means the same as `none`.
const NOTHING: [&str; 2] = ["NULL", "none"];

/// Characters that separate signal names: what people write between them (`DTR+RTS`,
/// `DTR RTS`, `DTR,RTS`, `DTR|RTS`, `DTR&RTS`, `DTR/RTS`, `DTR_RTS`).
fn is_separator(c: char) -> bool {
    c.is_ascii_whitespace() || matches!(c, '+' | ',' | '|' | '&' | '/' | '_' | ';')
}

/// Splits at separators, then reads each word as a run of (optionally `-`-prefixed) names so
/// that concatenations like `RTSDTR` keep working. Any other character is an error: the C
/// driver's substring search would skip it, sometimes with the opposite meaning (`!CTS`).
fn tokenise(value: &str) -> Result<Vec<Token>, OverrideError> {
    let mut tokens = Vec::new();
    let words = value.split(is_separator).filter(|w| !w.is_empty());
    for word in words {
        if word.starts_with(['!', '~', '^']) {
            return Err(OverrideError::ForeignNegation(word.to_string()));
        }
        let mut rest = word;
        while !rest.is_empty() {
            let (negated, body) = match rest.strip_prefix('-') {
                Some(b) => (true, b),
                None => (false, rest),
            };
            if negated && (body.is_empty() || body.starts_with('-')) {
                return Err(OverrideError::DetachedMinus(word.to_string()));
            }
            if let Some(nothing) = NOTHING.iter().find(|n| {
                body.get(..n.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(n))
            }) {
                tokens.push(Token::Nothing);
                rest = &body[nothing.len()..];
                continue;
            }
            match NAMES.iter().find(|(name, _)| body.starts_with(name)) {
                Some((name, line)) => {
                    tokens.push(Token::Signal {
                        line: *line,
                        negated,
                    });
                    rest = &body[name.len()..];
                }
                None => {
                    return Err(match body.chars().next() {
                        Some(ch) if !(ch.is_ascii_alphanumeric() || ch == '-') => {
                            OverrideError::StrayCharacter {
                                word: word.to_string(),
                                ch,
                            }
                        }
                        _ => OverrideError::UnknownToken(word.to_string()),
                    });
                }
            }
        }
    }
    Ok(tokens)
}

fn line_name(line: Lines) -> &'static str {
    Lines::NAMED
        .iter()
        .find(|(l, _)| *l == line)
        .map(|(_, n)| *n)
        .unwrap_or("?")
}

/// Parses a CP or SD value into the output word to write. `-DTR` means "leave DTR low";
/// `NULL`/`none` anywhere means "all lines low", as in the C driver.
pub fn parse_output(value: &str) -> Result<Lines, OverrideError> {
    // `0` is how the type table itself writes "all lines low".
    if value.trim() == "0" {
        return Ok(Lines::NONE);
    }
    let mut set = Lines::NONE;
    let mut negated = Lines::NONE;
    let mut nothing = false;
    let tokens = tokenise(value)?;
    if tokens.is_empty() {
        return Err(OverrideError::Empty);
    }
    for token in tokens {
        match token {
            Token::Nothing => nothing = true,
            Token::Signal { line, .. } if Lines::INPUTS.contains(line) => {
                return Err(OverrideError::NotAnOutput(line_name(line)));
            }
            Token::Signal {
                line: Lines::ST,
                negated: true,
            } => return Err(OverrideError::NegatedBreak),
            Token::Signal {
                line,
                negated: true,
            } => negated = negated | line,
            Token::Signal { line, .. } => set = set | line,
        }
    }
    if nothing {
        return Ok(Lines::NONE);
    }
    Ok(set.difference(negated))
}

/// Parses an OL, LB, RB or BYPASS value into a condition. Several lines combine with AND;
/// `-X` means "X low"; `NULL`/`none` (or nothing at all) disables the condition.
pub fn parse_input(value: &str) -> Result<Condition, OverrideError> {
    let mut line = Lines::NONE;
    let mut negated = Lines::NONE;
    let mut nothing = false;
    let tokens = tokenise(value)?;
    if tokens.is_empty() {
        return Err(OverrideError::Empty);
    }
    for token in tokens {
        match token {
            Token::Nothing => nothing = true,
            Token::Signal { line: l, .. } if !Lines::INPUTS.contains(l) => {
                return Err(OverrideError::NotAnInput(line_name(l)));
            }
            Token::Signal {
                line: l,
                negated: n,
            } => {
                line = line | l;
                if n {
                    negated = negated | l;
                }
            }
        }
    }
    if nothing {
        return Ok(Condition::DISABLED);
    }
    Ok(Condition {
        line,
        val: line.difference(negated),
    })
}

/// The override values a configuration gave (raw text, parsed when applied so errors can
/// name the variable).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub cp: Option<String>,
    pub sd: Option<String>,
    pub ol: Option<String>,
    pub lb: Option<String>,
    pub rb: Option<String>,
    pub bypass: Option<String>,
}

/// One override that was applied, for the log: the variable, its value, and whether it
/// changed anything (the C driver's "no effective difference - check for typos?" notice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub var: &'static str,
    pub value: String,
    pub changed: bool,
}

/// A refused override, naming the variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadOverride {
    pub var: &'static str,
    pub value: String,
    pub error: OverrideError,
}

impl fmt::Display for BadOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}: {}", self.var, self.value, self.error)
    }
}

impl Overrides {
    /// Returns the table entry with every override applied, and what each one did.
    pub fn apply(&self, base: &UpsType) -> Result<(UpsType, Vec<Applied>), BadOverride> {
        let mut t = *base;
        let mut applied = Vec::new();
        let bad = |var: &'static str, value: &str, error| BadOverride {
            var,
            value: value.to_string(),
            error,
        };
        let outputs: [(&'static str, &Option<String>); 2] = [("CP", &self.cp), ("SD", &self.sd)];
        for (var, value) in outputs {
            let Some(value) = value else { continue };
            let word = parse_output(value).map_err(|e| bad(var, value, e))?;
            if var == "CP" && word.contains(Lines::ST) {
                return Err(bad(var, value, OverrideError::BreakAsCablePower));
            }
            let changed = if var == "CP" {
                let changed = t.cp != word;
                t.cp = word;
                changed
            } else {
                let changed = t.sd != Shutdown::Lines(word);
                t.sd = Shutdown::Lines(word);
                changed
            };
            applied.push(Applied {
                var,
                value: value.clone(),
                changed,
            });
        }
        let inputs: [(&'static str, &Option<String>); 4] = [
            ("OL", &self.ol),
            ("LB", &self.lb),
            ("RB", &self.rb),
            ("BYPASS", &self.bypass),
        ];
        for (var, value) in inputs {
            let Some(value) = value else { continue };
            let cond = parse_input(value).map_err(|e| bad(var, value, e))?;
            let slot = match var {
                "OL" => &mut t.ol,
                "LB" => &mut t.lb,
                "RB" => &mut t.rb,
                _ => &mut t.bypass,
            };
            let changed = *slot != cond;
            *slot = cond;
            applied.push(Applied {
                var,
                value: value.clone(),
                changed,
            });
        }
        Ok((t, applied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstype::UPS_TYPES;

    const DTR: Lines = Lines::DTR;
    const RTS: Lines = Lines::RTS;
    const ST: Lines = Lines::ST;

    #[test]
    fn output_spellings() {
        let cases: &[(&str, Result<Lines, OverrideError>)] = &[
            ("DTR", Ok(DTR)),
            ("RTS", Ok(RTS)),
            ("DTR+RTS", Ok(DTR | RTS)),
            ("DTR RTS", Ok(DTR | RTS)),
            ("RTSDTR", Ok(DTR | RTS)),
            ("DTR,RTS", Ok(DTR | RTS)),
            ("DTR|RTS", Ok(DTR | RTS)),
            ("DTR&RTS", Ok(DTR | RTS)),
            ("DTR/RTS", Ok(DTR | RTS)),
            ("DTR_RTS", Ok(DTR | RTS)),
            ("DTR -RTS", Ok(DTR)),
            ("-DTR", Ok(Lines::NONE)),
            ("DTR-RTS", Ok(DTR)),
            ("DTR -DTR", Ok(Lines::NONE)),
            ("ST", Ok(ST)),
            ("ST+DTR", Ok(ST | DTR)),
            ("NULL", Ok(Lines::NONE)),
            ("none", Ok(Lines::NONE)),
            ("DTR none", Ok(Lines::NONE)),
            ("", Err(OverrideError::Empty)),
            ("-", Err(OverrideError::DetachedMinus("-".into()))),
            ("- DTR", Err(OverrideError::DetachedMinus("-".into()))),
            (
                "DTR--RTS",
                Err(OverrideError::DetachedMinus("DTR--RTS".into())),
            ),
            ("0", Ok(Lines::NONE)),
            ("NONE", Ok(Lines::NONE)),
            ("  DTR  ", Ok(DTR)),
            ("!DTR", Err(OverrideError::ForeignNegation("!DTR".into()))),
            (
                "DTR.RTS",
                Err(OverrideError::StrayCharacter {
                    word: "DTR.RTS".into(),
                    ch: '.',
                }),
            ),
            ("-ST", Err(OverrideError::NegatedBreak)),
            ("CTS", Err(OverrideError::NotAnOutput("CTS"))),
            ("DTR+DCD", Err(OverrideError::NotAnOutput("DCD"))),
            ("-RNG", Err(OverrideError::NotAnOutput("RNG"))),
            ("DSR", Err(OverrideError::NotAnOutput("DSR"))),
            ("dtr", Err(OverrideError::UnknownToken("dtr".into()))),
            ("DTX", Err(OverrideError::UnknownToken("DTX".into()))),
            ("DTR+RTSX", Err(OverrideError::UnknownToken("RTSX".into()))),
            ("null", Ok(Lines::NONE)),
            ("None", Ok(Lines::NONE)),
            ("00", Err(OverrideError::UnknownToken("00".into()))),
        ];
        for (value, want) in cases {
            assert_eq!(&parse_output(value), want, "{value:?}");
        }
    }

    #[test]
    fn input_spellings() {
        use Lines as L;
        let c = |line: Lines, val: Lines| Ok(Condition { line, val });
        let cases: &[(&str, Result<Condition, OverrideError>)] = &[
            ("CTS", c(L::CTS, L::CTS)),
            ("-CTS", c(L::CTS, L::NONE)),
            ("DCD", c(L::DCD, L::DCD)),
            ("-DCD", c(L::DCD, L::NONE)),
            ("RNG", c(L::RNG, L::RNG)),
            ("-RNG", c(L::RNG, L::NONE)),
            ("DSR", c(L::DSR, L::DSR)),
            ("-DSR", c(L::DSR, L::NONE)),
            ("CTS+-DCD", c(L::CTS | L::DCD, L::CTS)),
            ("CTS -DCD", c(L::CTS | L::DCD, L::CTS)),
            ("CTS-DCD", c(L::CTS | L::DCD, L::CTS)),
            ("CTSDSR", c(L::CTS | L::DSR, L::CTS | L::DSR)),
            ("CTS -CTS", c(L::CTS, L::NONE)),
            ("NULL", Ok(Condition::DISABLED)),
            ("none", Ok(Condition::DISABLED)),
            ("CTS_DCD", c(L::CTS | L::DCD, L::CTS | L::DCD)),
            ("DSR&-DCD", c(L::DSR | L::DCD, L::DSR)),
            ("", Err(OverrideError::Empty)),
            ("  ", Err(OverrideError::Empty)),
            ("-", Err(OverrideError::DetachedMinus("-".into()))),
            ("CTS -", Err(OverrideError::DetachedMinus("-".into()))),
            ("- CTS", Err(OverrideError::DetachedMinus("-".into()))),
            ("null", Ok(Condition::DISABLED)),
            ("0", Err(OverrideError::UnknownToken("0".into()))),
            ("!CTS", Err(OverrideError::ForeignNegation("!CTS".into()))),
            ("~CTS", Err(OverrideError::ForeignNegation("~CTS".into()))),
            (
                "CTS ^DCD",
                Err(OverrideError::ForeignNegation("^DCD".into())),
            ),
            (
                "CTS*",
                Err(OverrideError::StrayCharacter {
                    word: "CTS*".into(),
                    ch: '*',
                }),
            ),
            ("CST", Err(OverrideError::UnknownToken("CST".into()))),
            ("CD", Err(OverrideError::UnknownToken("CD".into()))),
            ("RI", Err(OverrideError::UnknownToken("RI".into()))),
            ("dcd", Err(OverrideError::UnknownToken("dcd".into()))),
            ("DC D", Err(OverrideError::UnknownToken("DC".into()))),
            ("DTR", Err(OverrideError::NotAnInput("DTR"))),
            ("-RTS", Err(OverrideError::NotAnInput("RTS"))),
            ("CTS+ST", Err(OverrideError::NotAnInput("ST"))),
        ];
        for (value, want) in cases {
            assert_eq!(&parse_input(value), want, "{value:?}");
        }
    }

    #[test]
    fn apply_replaces_table_values_and_reports_no_op_overrides() {
        // The C driver's own example: type 1, CP="DTR -RTS" is a no-op, the rest change.
        let ov = Overrides {
            cp: Some("DTR -RTS".into()),
            ol: Some("RNG".into()),
            lb: Some("-DCD".into()),
            rb: Some("-CTS".into()),
            bypass: Some("NULL".into()),
            ..Default::default()
        };
        let (t, applied) = ov.apply(&UPS_TYPES[1]).expect("valid overrides");
        assert_eq!(t.cp, Lines::DTR);
        assert_eq!(t.ol, Condition::high(Lines::RNG));
        assert_eq!(t.lb, Condition::low(Lines::DCD));
        assert_eq!(t.rb, Condition::low(Lines::CTS));
        assert_eq!(t.bypass, Condition::DISABLED);
        let changed: Vec<(&str, bool)> = applied.iter().map(|a| (a.var, a.changed)).collect();
        assert_eq!(
            changed,
            [
                ("CP", false),
                ("OL", true),
                ("LB", true),
                ("RB", true),
                ("BYPASS", false)
            ]
        );
    }

    #[test]
    fn apply_names_the_variable_of_a_bad_value() {
        let ov = Overrides {
            ol: Some("CST".into()),
            ..Default::default()
        };
        let err = ov.apply(&UPS_TYPES[4]).expect_err("typo must be refused");
        assert_eq!(err.var, "OL");
        assert_eq!(
            err.to_string(),
            "OL=CST: 'CST' is not a signal name (expected DTR, RTS, ST, CTS, DCD, RNG, DSR, \
             each optionally preceded by '-', or NULL/none)"
        );
    }

    #[test]
    fn st_is_no_cable_power() {
        let ov = Overrides {
            cp: Some("ST".into()),
            ..Default::default()
        };
        let err = ov.apply(&UPS_TYPES[4]).expect_err("CP=ST refused");
        assert_eq!(err.error, OverrideError::BreakAsCablePower);
    }

    #[test]
    fn sd_override_to_st_means_break() {
        let ov = Overrides {
            sd: Some("ST".into()),
            ..Default::default()
        };
        let (t, _) = ov.apply(&UPS_TYPES[8]).expect("valid");
        assert!(t.sd.is_break());
    }
}
