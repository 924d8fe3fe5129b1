//! The state tree (NUT's `dstate`): every variable the driver publishes, its flags, the
//! instant commands, and whether the data is stale.
//!
//! Owns what a client sees: the sorted DUMPALL layout, the DUMPSTATUS/DUMPVALUE replies, the
//! `-d` dump text, and the protocol lines a change produces. Changes queue their broadcast
//! lines in an outbox the caller drains; nothing here does I/O. Unlike the C tree, values
//! are compared exactly (so `OL` → `ol` is a change) and broadcasts are always escaped.
#![forbid(unsafe_code)]

use crate::protocol::{encode, setinfo};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The longest value NUT stores (`ST_MAX_VALUE_LEN` less the terminator).
pub const MAX_VALUE_LEN: usize = 255;

/// Variable names compare like `strcasecmp`, which fixes both DUMPALL's order and which
/// spellings name the same variable.
#[derive(Clone, Debug, Eq)]
struct Key(String);

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(other.0.bytes().map(|b| b.to_ascii_lowercase()))
    }
}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

/// `SETFLAGS` bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub rw: bool,
    pub string: bool,
    pub number: bool,
}

impl Flags {
    pub const RW_NUMBER: Flags = Flags {
        rw: true,
        string: false,
        number: true,
    };
}

#[derive(Clone, Debug)]
struct Var {
    name: String,
    value: String,
    flags: Flags,
    immutable: bool,
}

impl Var {
    fn setflags_line(&self) -> Option<String> {
        let f = self.flags;
        if !(f.rw || f.string || f.number || self.immutable) {
            return None;
        }
        let mut line = format!("SETFLAGS {}", self.name);
        for (on, word) in [(f.rw, " RW"), (f.string, " STRING"), (f.number, " NUMBER")] {
            if on {
                line.push_str(word);
            }
        }
        Some(line)
    }
}

/// Cuts a value to what NUT stores, on a character boundary.
fn clip(value: &str) -> &str {
    if value.len() <= MAX_VALUE_LEN {
        return value;
    }
    let mut end = MAX_VALUE_LEN;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[derive(Debug)]
pub struct Dstate {
    vars: BTreeMap<Key, Var>,
    cmds: BTreeMap<Key, String>,
    stale: bool,
    outbox: Vec<String>,
}

impl Default for Dstate {
    fn default() -> Self {
        Self::new()
    }
}

impl Dstate {
    /// An empty tree. Data starts stale: nothing has been read from the UPS yet.
    pub fn new() -> Dstate {
        Dstate {
            vars: BTreeMap::new(),
            cmds: BTreeMap::new(),
            stale: true,
            outbox: Vec::new(),
        }
    }

    fn set(&mut self, name: &str, value: &str, immutable: bool) -> bool {
        let value = clip(value);
        let key = Key(name.to_string());
        match self.vars.get_mut(&key) {
            Some(var) if var.immutable && !immutable => false,
            Some(var) => {
                let changed = var.value != value || var.immutable != immutable;
                let flags_before = var.setflags_line();
                var.value = value.to_string();
                var.immutable |= immutable;
                if changed {
                    self.outbox.push(setinfo(&var.name, &var.value));
                    let flags_after = var.setflags_line();
                    if let Some(line) = flags_after.filter(|l| Some(l) != flags_before.as_ref()) {
                        self.outbox.push(line);
                    }
                }
                changed
            }
            None => {
                let var = Var {
                    name: name.to_string(),
                    value: value.to_string(),
                    flags: Flags::default(),
                    immutable,
                };
                self.outbox.push(setinfo(name, value));
                if let Some(line) = var.setflags_line() {
                    self.outbox.push(line);
                }
                self.vars.insert(key, var);
                true
            }
        }
    }

    /// Sets a variable; returns whether it changed. A variable pinned by `override.` keeps
    /// its value.
    pub fn set_info(&mut self, name: &str, value: &str) -> bool {
        self.set(name, value, false)
    }

    /// `override.<name>`: set and pin the value for the driver's lifetime.
    pub fn set_override(&mut self, name: &str, value: &str) {
        self.set(name, value, true);
    }

    pub fn set_flags(&mut self, name: &str, flags: Flags) {
        if let Some(var) = self.vars.get_mut(&Key(name.to_string()))
            && var.flags != flags
        {
            var.flags = flags;
            if let Some(line) = var.setflags_line() {
                self.outbox.push(line);
            }
        }
    }

    pub fn add_cmd(&mut self, cmd: &str) {
        if let std::collections::btree_map::Entry::Vacant(slot) =
            self.cmds.entry(Key(cmd.to_string()))
        {
            slot.insert(cmd.to_string());
            self.outbox.push(format!("ADDCMD {cmd}"));
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(&Key(name.to_string()))
            .map(|v| v.value.as_str())
    }

    /// Marks the data good; broadcasts DATAOK only on the transition.
    pub fn data_ok(&mut self) {
        if self.stale {
            self.stale = false;
            self.outbox.push("DATAOK".into());
        }
    }

    /// Marks the data stale; broadcasts DATASTALE only on the transition.
    pub fn data_stale(&mut self) {
        if !self.stale {
            self.stale = true;
            self.outbox.push("DATASTALE".into());
        }
    }

    /// The broadcast lines queued since the last call.
    pub fn take_updates(&mut self) -> Vec<String> {
        std::mem::take(&mut self.outbox)
    }

    fn node_lines(var: &Var, out: &mut Vec<String>) {
        out.push(setinfo(&var.name, &var.value));
        if let Some(line) = var.setflags_line() {
            out.push(line);
        }
    }

    /// The reply to DUMPALL, in NUT's order.
    pub fn dumpall(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.vars.len() + self.cmds.len() + 3);
        if self.stale {
            out.push("DATASTALE".into());
        }
        for var in self.vars.values() {
            Self::node_lines(var, &mut out);
        }
        for cmd in self.cmds.values() {
            out.push(format!("ADDCMD {cmd}"));
        }
        if !self.stale {
            out.push("DATAOK".into());
        }
        out.push("DUMPDONE".into());
        out
    }

    /// The reply to `DUMPVALUE <name>` (DUMPSTATUS is `dump_value("ups.status")`).
    pub fn dump_value(&self, name: &str) -> Vec<String> {
        let mut out = Vec::with_capacity(4);
        if self.stale {
            out.push("DATASTALE".into());
        }
        if let Some(var) = self.vars.get(&Key(name.to_string())) {
            Self::node_lines(var, &mut out);
        }
        if !self.stale {
            out.push("DATAOK".into());
        }
        out.push("DUMPDONE".into());
        out
    }

    /// `-d` output: `name: value` lines in DUMPALL order, values escaped as on the wire.
    pub fn dump_text(&self) -> String {
        self.vars
            .values()
            .map(|v| format!("{}: {}\n", v.name, encode(&v.value)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumpall_is_sorted_case_insensitively_with_flags_and_commands() {
        let mut d = Dstate::new();
        d.set_info("ups.status", "OL");
        d.set_info("driver.parameter.Mfr", "bar");
        d.set_info("device.type", "ups");
        d.set_info("driver.parameter.pollinterval", "2");
        d.set_info("driver.flag.allow_killpower", "0");
        d.set_flags("driver.flag.allow_killpower", Flags::RW_NUMBER);
        d.set_override("ups.mfr", "Foo");
        d.set_info("ups.mfr", "APC");
        d.add_cmd("driver.reload");
        d.add_cmd("driver.killpower");
        d.data_ok();
        assert_eq!(
            d.dumpall(),
            [
                "SETINFO device.type \"ups\"",
                "SETINFO driver.flag.allow_killpower \"0\"",
                "SETFLAGS driver.flag.allow_killpower RW NUMBER",
                "SETINFO driver.parameter.Mfr \"bar\"",
                "SETINFO driver.parameter.pollinterval \"2\"",
                "SETINFO ups.mfr \"Foo\"",
                "SETFLAGS ups.mfr",
                "SETINFO ups.status \"OL\"",
                "ADDCMD driver.killpower",
                "ADDCMD driver.reload",
                "DATAOK",
                "DUMPDONE",
            ]
        );
    }

    #[test]
    fn stale_data_frames_the_dump() {
        let mut d = Dstate::new();
        d.set_info("ups.status", "OB");
        assert_eq!(
            d.dumpall(),
            ["DATASTALE", "SETINFO ups.status \"OB\"", "DUMPDONE"]
        );
        d.data_ok();
        assert_eq!(
            d.dump_value("ups.status"),
            ["SETINFO ups.status \"OB\"", "DATAOK", "DUMPDONE"]
        );
        d.data_stale();
        assert_eq!(d.dump_value("nope"), ["DATASTALE", "DUMPDONE"]);
    }

    #[test]
    fn broadcasts_only_real_changes_escaped() {
        let mut d = Dstate::new();
        assert!(d.set_info("ups.status", "OL"));
        assert!(!d.set_info("ups.status", "OL"));
        assert!(d.set_info("ups.status", "ol"), "case matters for values");
        assert!(d.set_info("UPS.STATUS", "OB"), "names are case-insensitive");
        assert_eq!(d.get("ups.status"), Some("OB"));
        d.set_info("ups.mfr", "My \"quoted\" \\mfr#x");
        d.data_ok();
        d.data_ok();
        d.data_stale();
        d.data_stale();
        assert_eq!(
            d.take_updates(),
            [
                "SETINFO ups.status \"OL\"",
                "SETINFO ups.status \"ol\"",
                "SETINFO ups.status \"OB\"",
                "SETINFO ups.mfr \"My \\\"quoted\\\" \\\\mfr\\#x\"",
                "DATAOK",
                "DATASTALE",
            ]
        );
        assert!(d.take_updates().is_empty());
    }

    #[test]
    fn override_pins_the_value() {
        let mut d = Dstate::new();
        d.set_override("ups.status", "OB");
        assert!(!d.set_info("ups.status", "OL"));
        assert_eq!(d.get("ups.status"), Some("OB"));
        assert_eq!(
            d.take_updates(),
            ["SETINFO ups.status \"OB\"", "SETFLAGS ups.status"]
        );
    }

    #[test]
    fn values_are_clipped_to_255_bytes_on_a_char_boundary() {
        let mut d = Dstate::new();
        d.set_info("a", &"x".repeat(300));
        assert_eq!(d.get("a").map(str::len), Some(255));
        d.set_info("b", &format!("{}é", "x".repeat(254)));
        assert_eq!(d.get("b").map(str::len), Some(254));
    }

    #[test]
    fn dump_text_like_upsc() {
        let mut d = Dstate::new();
        d.set_info("ups.status", "OL");
        d.set_info("device.mfr", "a#b");
        assert_eq!(d.dump_text(), "device.mfr: a\\#b\nups.status: OL\n");
    }
}
