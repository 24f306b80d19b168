//! Character classes and small lexical helpers shared by the SIP parsers (RFC 3261 25.1).
//!
//! Everything here works on byte slices and never panics: callers index only through
//! `get`, iterators or ranges that these helpers have already checked.

/// `token` characters (RFC 3261 25.1): alphanumerics and `-.!%*_+`'~`.
pub(crate) fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// `unreserved` = alphanum / mark.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b)
}

/// Space or horizontal tab: the only whitespace left after line unfolding.
pub(crate) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// True if `s` is a non-empty `token`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token_char(b))
}

/// Received bytes as an owned string: one copy, and the fast UTF-8 check (text checked
/// for ASCII by the grammar always passes it) rather than the lossy conversion's scan,
/// which runs for every URI part and parameter of every message.
pub(crate) fn owned_text(s: &[u8]) -> String {
    match std::str::from_utf8(s) {
        Ok(t) => t.to_owned(),
        Err(_) => String::from_utf8_lossy(s).into_owned(),
    }
}

/// Removes leading and trailing SP/HTAB (and stray CR/LF, which unfolding may leave).
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let ws = |b: &u8| is_ws(*b) || *b == b'\r' || *b == b'\n';
    let start = s.iter().position(|b| !ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ws(b)).map_or(start, |p| p + 1);
    s.get(start..end).unwrap_or_default()
}

/// Parses `1*DIGIT` into a u64, rejecting empty input, non-digits and overflow. Leading
/// zeros are legal in SIP integers (RFC 4475 wsinv: `Max-Forwards: 0068`).
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Parses `1*DIGIT` into a u32 (`None` on overflow).
pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    parse_u64(s).and_then(|n| u32::try_from(n).ok())
}

/// Index of the first `needle` in `s` that is outside a quoted string and outside `<...>`.
/// Quoted strings honour `\` quoted-pairs (RFC 3261 25.1).
pub(crate) fn find_top_level(s: &[u8], needle: u8) -> Option<usize> {
    // Most values have no quotes or angle brackets before the needle, if any: memchr's
    // word-at-a-time search then decides without the byte loop below.
    let first = memchr::memchr(needle, s)?;
    if memchr::memchr2(b'"', b'<', s.get(..first)?).is_none() {
        return Some(first);
    }
    let mut in_quotes = false;
    let mut in_angle = false;
    let mut escaped = false;
    for (i, &b) in s.iter().enumerate() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quotes = false;
            }
            continue;
        }
        if b == needle && !in_angle {
            return Some(i);
        }
        match b {
            b'"' => in_quotes = true,
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            _ => {}
        }
    }
    None
}

/// Splits a header value at top-level commas. Elements are trimmed; empty elements are kept
/// (so that typed parsers can reject `Via: a,,b`), but an all-blank value yields no element.
pub(crate) fn split_commas(s: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if trim(s).is_empty() {
        return out;
    }
    let mut start = 0;
    loop {
        let rest = s.get(start..).unwrap_or_default();
        match find_top_level(rest, b',') {
            Some(i) => {
                out.push(trimmed_range(s, start, start + i));
                start += i + 1;
            }
            None => {
                out.push(trimmed_range(s, start, s.len()));
                return out;
            }
        }
    }
}

/// A buffer text is appended to without the `fmt` machinery (some 1,000 instructions per
/// `format!`, and messages are written field by field): a `String`, or a message being
/// serialized.
pub(crate) trait PushText {
    /// Appends `s`.
    fn push_text(&mut self, s: &str);
}

impl PushText for String {
    fn push_text(&mut self, s: &str) {
        self.push_str(s);
    }
}

impl PushText for bytes::BytesMut {
    fn push_text(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

/// A formatter as a [`PushText`], keeping its first error: lets a `Display` impl share the
/// writer of a `write_to`.
pub(crate) struct FmtText<'a, 'b> {
    f: &'a mut std::fmt::Formatter<'b>,
    result: std::fmt::Result,
}

impl<'a, 'b> FmtText<'a, 'b> {
    pub(crate) fn new(f: &'a mut std::fmt::Formatter<'b>) -> Self {
        FmtText { f, result: Ok(()) }
    }

    /// What writing to the formatter gave.
    pub(crate) fn finish(self) -> std::fmt::Result {
        self.result
    }
}

impl PushText for FmtText<'_, '_> {
    fn push_text(&mut self, s: &str) {
        if self.result.is_ok() {
            self.result = self.f.write_str(s);
        }
    }
}

/// `Display` for a type whose `write_to(&self, &mut impl PushText)` writes it.
macro_rules! display_by_write_to {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut out = $crate::sip::syntax::FmtText::new(f);
                self.write_to(&mut out);
                out.finish()
            }
        }
    };
}
pub(crate) use display_by_write_to;

/// Appends `n` in decimal (no `fmt` machinery: this runs for every message).
pub(crate) fn push_decimal<W: PushText + ?Sized>(out: &mut W, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_text(std::str::from_utf8(digits.get(i..).unwrap_or_default()).unwrap_or_default());
}

/// Appends `n` in lower-case hexadecimal, zero-padded to at least `width` digits (`%0*x`).
pub(crate) fn push_hex(out: &mut String, n: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in (0..16).rev() {
        let d = (n >> (shift * 4)) & 0xf;
        started |= d != 0 || shift < width.max(1);
        if started && let Some(&c) = DIGITS.get(d as usize) {
            out.push(char::from(c));
        }
    }
}

/// An IPv4 address written as `a.b.c.d` in one piece: std's `Display` for
/// `Ipv4Addr` goes through the `fmt` machinery per octet, some 1,200 instructions, and
/// addresses are written many times per call (Via, Contact, URIs, SDP).
#[derive(Clone, Copy, Debug)]
pub struct Dotted(pub std::net::Ipv4Addr);

impl Dotted {
    /// The address as ASCII digits and dots in `buf`; returns the length written.
    fn write(&self, buf: &mut [u8; 15]) -> usize {
        let mut len = 0;
        for (i, octet) in self.0.octets().into_iter().enumerate() {
            if i > 0 {
                buf[len] = b'.';
                len += 1;
            }
            if octet >= 100 {
                buf[len] = b'0' + octet / 100;
                len += 1;
            }
            if octet >= 10 {
                buf[len] = b'0' + octet / 10 % 10;
                len += 1;
            }
            buf[len] = b'0' + octet % 10;
            len += 1;
        }
        len
    }

    /// Appends the address to `out` (no `fmt` machinery).
    pub(crate) fn push_to<W: PushText + ?Sized>(&self, out: &mut W) {
        let mut buf = [0u8; 15];
        let len = self.write(&mut buf);
        // Only ASCII digits and dots were written.
        out.push_text(std::str::from_utf8(&buf[..len]).unwrap_or_default());
    }
}

impl std::fmt::Display for Dotted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = [0u8; 15];
        let len = self.write(&mut buf);
        // Only ASCII digits and dots were written.
        f.pad(std::str::from_utf8(&buf[..len]).map_err(|_| std::fmt::Error)?)
    }
}

/// An IP address as text, IPv4 through [`Dotted`].
pub fn ip_string(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => Dotted(v4).to_string(),
        std::net::IpAddr::V6(v6) => v6.to_string(),
    }
}

/// The range `[start, end)` of `s` with surrounding whitespace removed.
pub(crate) fn trimmed_range(s: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && s.get(start).is_some_and(|&b| is_ws(b)) {
        start += 1;
    }
    while end > start && s.get(end - 1).is_some_and(|&b| is_ws(b)) {
        end -= 1;
    }
    (start, end)
}

/// Reads a quoted string starting at `s[0] == '"'`. Returns the unescaped content and the
/// number of bytes consumed (including both quotes), or `None` if it is unterminated.
pub(crate) fn read_quoted(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    if s.first() != Some(&b'"') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    while let Some(&b) = s.get(i) {
        match b {
            b'"' => return Some((out, i + 1)),
            // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F): CR and LF cannot be quoted.
            b'\\' => {
                let &next = s.get(i + 1)?;
                if next == b'\r' || next == b'\n' || next > 0x7f {
                    return None;
                }
                out.push(next);
                i += 2;
            }
            b'\r' | b'\n' => return None,
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    None
}

/// Writes `s` as a quoted string, escaping `"` and `\`.
pub(crate) fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Decodes `%HH` escapes. A `%` not followed by two hex digits is an error (RFC 3986 2.1).
pub(crate) fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let hi = hex_val(*s.get(i + 1)?)?;
            let lo = hex_val(*s.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// True when every `%` in `s` starts a valid `%HH` escape: what [`percent_decode`] checks,
/// without building the decoded text.
pub(crate) fn escapes_valid(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let ok = s.get(i + 1).and_then(|&h| hex_val(h)).is_some()
                && s.get(i + 2).and_then(|&l| hex_val(l)).is_some();
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_writes_ipv4_as_std_does() {
        for ip in [
            "0.0.0.0",
            "255.255.255.255",
            "192.0.2.1",
            "10.100.9.99",
            "127.0.0.1",
        ] {
            let a: std::net::Ipv4Addr = ip.parse().unwrap();
            assert_eq!(Dotted(a).to_string(), ip);
            let mut pushed = String::from(">");
            Dotted(a).push_to(&mut pushed);
            assert_eq!(pushed, format!(">{ip}"));
            assert_eq!(format!("{:>16}|", Dotted(a)), format!("{ip:>16}|"));
        }
        assert_eq!(ip_string("2001:db8::1".parse().unwrap()), "2001:db8::1");
        assert_eq!(ip_string("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }

    #[test]
    fn numbers_are_written_as_fmt_writes_them() {
        for n in [0u64, 1, 9, 10, 0xab, 0xdead_beef, 1 << 40, u64::MAX] {
            let mut d = String::from(">");
            push_decimal(&mut d, n);
            assert_eq!(d, format!(">{n}"));
            for width in [0usize, 1, 8, 16] {
                let mut h = String::from(">");
                push_hex(&mut h, n, width);
                assert_eq!(h, format!(">{n:0width$x}"), "{n} width {width}");
            }
        }
    }

    #[test]
    fn rfc3261_25_1_leading_zeros_are_legal_integers() {
        assert_eq!(parse_u64(b"0068"), Some(68));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"36893488147419103232"), None);
    }

    #[test]
    fn rfc3261_7_3_1_comma_inside_quotes_or_angles_does_not_split() {
        let v = b"\"a,b\" <sip:x;p=1,2>, <sip:y>";
        assert_eq!(split_commas(v).len(), 2);
        assert_eq!(split_commas(b"a,,b").len(), 3);
        assert!(split_commas(b"  ").is_empty());
    }

    #[test]
    fn rfc3261_25_1_quoted_pair_is_unescaped() {
        let (s, n) = read_quoted(b"\"J \\\"x\\\\\" rest").expect("quoted");
        assert_eq!(s, b"J \"x\\");
        assert_eq!(n, 9);
        assert!(read_quoted(b"\"unterminated").is_none());
    }

    #[test]
    fn rfc3986_2_1_bad_percent_escape_is_rejected() {
        assert_eq!(percent_decode(b"a%41%00").as_deref(), Some(&b"aA\0"[..]));
        assert!(percent_decode(b"a%4").is_none());
        assert!(percent_decode(b"%zz").is_none());
        for s in [
            &b"a%41%00"[..],
            b"a%4",
            b"%zz",
            b"%",
            b"",
            b"x%2",
            b"%2g",
            b"%%41",
            b"ok%7E",
        ] {
            assert_eq!(escapes_valid(s), percent_decode(s).is_some(), "{s:?}");
        }
    }
}
