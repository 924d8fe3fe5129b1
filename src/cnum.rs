//! Numbers read the way NUT's C code reads them.
//!
//! Owns `atoi`/`strtol`-style parsing (leading blanks, a sign, leading digits, junk after
//! ignored), shared by the settings, the socket protocol, the status stage and the upstype
//! parser, so that every place agrees on what `5x` or `-3` means.
#![forbid(unsafe_code)]

/// Leading blanks, an optional sign, then digits; junk after is ignored. `None` when there
/// are no digits (C would say 0). Saturates instead of overflowing.
pub fn atoi(v: &str) -> Option<i64> {
    let s = v.trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = &rest[..rest.bytes().take_while(u8::is_ascii_digit).count()];
    if digits.is_empty() {
        return None;
    }
    let n: i64 = digits.parse().unwrap_or(i64::MAX);
    Some(if neg { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_c() {
        let cases = [
            ("5", Some(5)),
            (" 5x", Some(5)),
            ("-3", Some(-3)),
            ("+7", Some(7)),
            ("9.9", Some(9)),
            ("x", None),
            ("", None),
            ("-", None),
            ("99999999999999999999999", Some(i64::MAX)),
        ];
        for (v, want) in cases {
            assert_eq!(atoi(v), want, "{v:?}");
        }
    }
}
