//! Status decoding: one reading of the input lines to `ups.status`.
//!
//! A pure function of a single `TIOCMGET` word and the (overridden) upstype entry, so that a
//! debounce stage can later sit between it and the state tree without touching it.
#![forbid(unsafe_code)]

use crate::lines::Lines;
use crate::upstype::UpsType;
use std::fmt;

/// The conditions one reading shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub low_battery: bool,
    pub on_line: bool,
    pub replace_battery: bool,
    pub bypass: bool,
}

/// Decodes one reading. A disabled OL condition reads as on line (a cable without an OL
/// signal cannot report a power failure); disabled LB, RB and BYPASS read as false.
pub fn decode(read: Lines, t: &UpsType) -> Status {
    let active = |c: &crate::upstype::Condition| !c.is_disabled() && c.matches(read);
    Status {
        low_battery: active(&t.lb),
        on_line: t.ol.matches(read),
        replace_battery: active(&t.rb),
        bypass: active(&t.bypass),
    }
}

/// The `ups.status` value, tokens in the C driver's order: `LB`, `OL`/`OB`, `RB`, `BYPASS`.
impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low_battery {
            f.write_str("LB ")?;
        }
        f.write_str(if self.on_line { "OL" } else { "OB" })?;
        if self.replace_battery {
            f.write_str(" RB")?;
        }
        if self.bypass {
            f.write_str(" BYPASS")?;
        }
        Ok(())
    }
}

/// The battery values NUT's `ignorelb` judges the charge by (raw strings from the tree).
#[derive(Clone, Copy, Debug, Default)]
pub struct BatteryLevels<'a> {
    pub charge: Option<&'a str>,
    pub charge_low: Option<&'a str>,
    pub runtime: Option<&'a str>,
    pub runtime_low: Option<&'a str>,
}

impl BatteryLevels<'_> {
    /// True when a value is below its low mark, both read as C's `strtol` reads them (text
    /// that is not a number counts as 0, so a garbled charge reads as empty, as in NUT); a
    /// pair with a missing value says nothing.
    pub fn is_low(&self) -> bool {
        let num = |v: &str| crate::cnum::atoi(v).unwrap_or(0);
        let below = |v: Option<&str>, low: Option<&str>| match (v, low) {
            (Some(v), Some(low)) => num(v) < num(low),
            _ => false,
        };
        below(self.charge, self.charge_low) || below(self.runtime, self.runtime_low)
    }
}

/// `ups.status` with the `ignorelb` flag: the LB the lines report is dropped, and LB is
/// appended (last, as NUT does) when the battery values are below their low marks.
pub fn ignorelb_status(status: Status, levels: &BatteryLevels<'_>) -> String {
    let without = Status {
        low_battery: false,
        ..status
    };
    if levels.is_low() {
        format!("{without} LB")
    } else {
        without.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstype::{Condition, UPS_TYPES};

    /// Expected status for every type and every combination of the four input lines,
    /// written from NUT's documented cable behaviour rather than from `UPS_TYPES`:
    /// for each type, which line (and polarity) means on line, low battery, replace battery
    /// and bypass. `true` in the polarity column means "condition when the line is high".
    type Row = (
        &'static str,
        bool,
        &'static str,
        bool,
        &'static str,
        bool,
        &'static str,
        bool,
    );
    #[rustfmt::skip]
    const EXPECTED: [Row; 24] = [
        //  OL line, OL high?, LB line, LB high?, RB, RB high?, BYPASS, BYPASS high?
        ("CTS", false, "DCD", true,  "", false, "", false), // 0 UPSONIC
        ("RNG", false, "DCD", true,  "", false, "", false), // 1 APC 940-0095A/C
        ("CTS", false, "DCD", true,  "", false, "", false), // 2 APC 940-0020B/C
        ("CTS", false, "DCD", true,  "", false, "", false), // 3 PowerTech
        ("CTS", true,  "DCD", false, "", false, "", false), // 4 Generic RUPS
        ("CTS", true,  "DCD", false, "", false, "", false), // 5 TrippLite Lan2.2
        ("CTS", true,  "DCD", false, "", false, "", false), // 6 Best Patriot
        ("CTS", true,  "DCD", false, "", false, "", false), // 7 CyberPower
        ("CTS", true,  "DCD", false, "", false, "", false), // 8 Nitram 500
        ("DCD", false, "CTS", true,  "", false, "", false), // 9 APC 940-0023A
        ("CTS", true,  "DCD", false, "", false, "", false), // 10 Victron
        ("CTS", false, "DCD", false, "", false, "", false), // 11 Powerware 3115
        ("CTS", false, "DCD", true,  "", false, "", false), // 12 APC Office
        ("DCD", true,  "CTS", false, "", false, "", false), // 13 Repoteck
        ("DCD", true,  "CTS", false, "", false, "", false), // 14 Online P
        ("CTS", true,  "DCD", false, "", false, "", false), // 15 Powerware 5119
        ("CTS", true,  "DCD", false, "", false, "", false), // 16 Nitram 2002
        ("CTS", true,  "DCD", false, "", false, "", false), // 17 PowerKinetics
        ("CTS", true,  "DCD", true,  "", false, "", false), // 18 TrippLite Martin
        ("CTS", true,  "DCD", false, "", false, "", false), // 19 Fideltronik
        ("CTS", false, "DCD", true,  "", false, "", false), // 20 Powerware 5119 RM
        ("CTS", true,  "DCD", false, "", false, "", false), // 21 RUPS 2000
        ("CTS", true,  "DCD", false, "", false, "", false), // 22 Gamatronic
        ("CTS", true,  "DCD", false, "RNG", false, "DSR", false), // 23 FTTx
    ];

    fn line_is_high(read: Lines, name: &str) -> bool {
        let bit = match name {
            "CTS" => 0x020,
            "DCD" => 0x040,
            "RNG" => 0x080,
            "DSR" => 0x100,
            other => panic!("bad line name {other} in the expectation table"),
        };
        read.bits() & bit != 0
    }

    fn expected_status(read: Lines, row: usize) -> String {
        let (ol, ol_hi, lb, lb_hi, rb, rb_hi, bp, bp_hi) = EXPECTED[row];
        let cond = |name: &str, hi: bool| !name.is_empty() && line_is_high(read, name) == hi;
        let mut tokens = Vec::new();
        if cond(lb, lb_hi) {
            tokens.push("LB");
        }
        tokens.push(if cond(ol, ol_hi) { "OL" } else { "OB" });
        if cond(rb, rb_hi) {
            tokens.push("RB");
        }
        if cond(bp, bp_hi) {
            tokens.push("BYPASS");
        }
        tokens.join(" ")
    }

    #[test]
    fn every_type_times_every_input_combination() {
        let inputs = [Lines::CTS, Lines::DCD, Lines::RNG, Lines::DSR];
        let mut checked = 0;
        for (n, t) in UPS_TYPES.iter().enumerate() {
            for combo in 0..16u32 {
                let read = inputs
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| combo & (1 << i) != 0)
                    .fold(Lines::NONE, |acc, (_, l)| acc | *l);
                // Output lines read back by TIOCMGET must never change the decoding.
                let read_with_outputs = read | Lines::DTR | Lines::RTS;
                let want = expected_status(read, n);
                assert_eq!(decode(read, t).to_string(), want, "type {n}, lines {read}");
                assert_eq!(
                    decode(read_with_outputs, t).to_string(),
                    want,
                    "type {n}, {read}+out"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 384);
    }

    #[test]
    fn token_order_matches_the_c_driver() {
        let all = Status {
            low_battery: true,
            on_line: false,
            replace_battery: true,
            bypass: true,
        };
        assert_eq!(all.to_string(), "LB OB RB BYPASS");
        let ol_rb = Status {
            on_line: true,
            replace_battery: true,
            ..Default::default()
        };
        assert_eq!(ol_rb.to_string(), "OL RB");
    }

    #[test]
    fn disabled_ol_reads_on_line_and_disabled_lb_never_fires() {
        let mut t = UPS_TYPES[4];
        t.ol = Condition::DISABLED;
        t.lb = Condition::DISABLED;
        for bits in [0u32, 0x020, 0x040, 0x1e0] {
            assert_eq!(decode(Lines::from_bits(bits), &t).to_string(), "OL");
        }
    }

    #[test]
    fn ignorelb_takes_lb_from_the_battery_values() {
        let lb_ol = Status {
            low_battery: true,
            on_line: true,
            ..Default::default()
        };
        let ob = Status::default();
        let levels = |c: &'static str, cl: &'static str| BatteryLevels {
            charge: Some(c),
            charge_low: Some(cl),
            ..Default::default()
        };
        let cases = [
            (lb_ol, levels("100", "10"), "OL"),
            (lb_ol, levels("5", "10"), "OL LB"),
            (ob, levels("5", "10"), "OB LB"),
            (ob, levels("10", "10"), "OB"),
            (ob, levels("9.9", "10"), "OB LB"),
            (ob, levels("x", "10"), "OB LB"),
            (ob, levels("", "10"), "OB LB"),
            (ob, levels("50", "x"), "OB"),
            (ob, BatteryLevels::default(), "OB"),
            (
                ob,
                BatteryLevels {
                    runtime: Some("60"),
                    runtime_low: Some("120"),
                    ..Default::default()
                },
                "OB LB",
            ),
        ];
        for (status, levels, want) in cases {
            assert_eq!(
                ignorelb_status(status, &levels),
                want,
                "{status:?} {levels:?}"
            );
        }
    }

    #[test]
    fn combined_conditions_need_every_line() {
        let mut t = UPS_TYPES[4];
        t.lb = Condition {
            line: Lines::DCD | Lines::DSR,
            val: Lines::DSR,
        };
        assert!(decode(Lines::DSR | Lines::CTS, &t).low_battery);
        assert!(!decode(Lines::DSR | Lines::DCD, &t).low_battery);
        assert!(!decode(Lines::CTS, &t).low_battery);
    }
}
