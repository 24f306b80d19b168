//! Extension names and `_` patterns: parsing, matching and Asterisk's match order.
//!
//! Follows `main/pbx.c` (`_extension_match_core`, `ext_cmp`, `ext_cmp_pattern_pos`), byte
//! for byte:
//! - A name not starting with `_` is a literal extension. It matches a dialled string equal
//!   to it, compared byte for byte (so case-sensitively), ignoring `-` (and spaces, which
//!   Asterisk drops when it stores the name) on both sides: `555-1234` matches `5551234`.
//! - After `_`: `X` is `[0-9]`, `Z` is `[1-9]`, `N` is `[2-9]` (in either case: `_nxx` is
//!   `_NXX`, as in Asterisk); `[...]` is a set of single bytes and `a-b` ranges, everything
//!   inside taken literally; `.` matches one or more of anything and `!` zero or more, and
//!   end the pattern (what follows them is never looked at); `-` and spaces outside a set
//!   are ignored; any other byte matches itself exactly (case-sensitively: `_s` matches
//!   `s`, not `S`).
//! - An empty set `[]` is ignored (a warning); a `[` without `]` is an error.
//! - Matching works on bytes, as Asterisk's does: a set holding a multi-byte UTF-8 character
//!   holds each of its bytes.
//! - A dialled string that itself starts with `_` also matches a pattern equal to it
//!   (Asterisk's pattern-to-pattern comparison), so `_600X` finds the `_600X` extension.
//!
//! [`Pattern`]'s ordering is Asterisk's `ext_cmp`, the order in which a context's extensions
//! are tried: literal names first, then patterns compared position by position, the position
//! matching fewer characters first (a literal before `[12]` before `N` before `Z` before `X`
//! before `.` before `!` before the end of the pattern), sets of the same size ordered by
//! their lowest characters. Two patterns comparing equal (`_X` and `_[0-9]`) are the same
//! extension.

use std::cmp::Ordering;
use std::fmt;

/// Why an extension name cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A `[` with no `]` after it.
    #[error("'[' at position {position} of pattern '{pattern}' is never closed with ']'")]
    UnclosedSet {
        /// The pattern as written.
        pattern: String,
        /// Byte offset of the `[` in it.
        position: usize,
    },
}

/// A set of bytes laid out as Asterisk's `bitwise` array (byte `c / 8`, bit `7 - c % 8`),
/// so that comparing two sets bytewise puts the one with the lower characters first.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ByteSet([u8; 32]);

impl ByteSet {
    const EMPTY: Self = Self([0; 32]);

    fn single(b: u8) -> Self {
        let mut s = Self::EMPTY;
        s.insert(b);
        s
    }

    fn range(lo: u8, hi: u8) -> Self {
        let mut s = Self::EMPTY;
        for b in lo..=hi {
            s.insert(b);
        }
        s
    }

    fn insert(&mut self, b: u8) {
        self.0[usize::from(b / 8)] |= 0x80 >> (b % 8);
    }

    fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b / 8)] & (0x80 >> (b % 8)) != 0
    }

    fn len(&self) -> u32 {
        self.0.iter().map(|b| b.count_ones()).sum()
    }

    fn min(&self) -> Option<u8> {
        (0..=u8::MAX).find(|&b| self.contains(b))
    }
}

impl fmt::Debug for ByteSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for b in (0..=u8::MAX).filter(|&b| self.contains(b)) {
            write!(f, "{}", char::from(b).escape_default())?;
        }
        f.write_str("]")
    }
}

/// One position of a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Elem {
    /// One byte out of a set (a literal is a set of one).
    Set(ByteSet),
    /// `.`: one or more of anything.
    Dot,
    /// `!`: zero or more of anything.
    Bang,
}

/// Asterisk's `ext_cmp_pattern_pos` score of one position (`None` is the end).
fn score(e: Option<&Elem>) -> u32 {
    match e {
        // An empty set (all ranges reversed) never matches: Asterisk's "error in set" value.
        Some(Elem::Set(s)) => match s.min() {
            Some(min) => (s.len() << 8) | u32::from(min),
            None => 0x4_0000,
        },
        Some(Elem::Dot) => 0x1_8000,
        Some(Elem::Bang) => 0x2_8000,
        None => 0x3_0000,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Kind {
    /// A plain extension, with `-` and spaces removed.
    Literal(Box<[u8]>),
    /// A `_` pattern.
    Pattern(Box<[Elem]>),
}

/// An extension name, literal or `_` pattern, ready to match dialled strings.
///
/// Equality and ordering are Asterisk's: equal patterns are the same extension, and a
/// smaller one is tried before a larger one (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pattern {
    kind: Kind,
}

impl Pattern {
    /// Parses an extension name (warnings dropped; see [`Pattern::parse_with_warnings`]).
    pub fn parse(name: &str) -> Result<Self, PatternError> {
        Self::parse_with_warnings(name).map(|(p, _)| p)
    }

    /// Parses an extension name, also returning what is legal but probably not meant
    /// (an empty set, a reversed range, text after `.` or `!`).
    pub fn parse_with_warnings(name: &str) -> Result<(Self, Vec<String>), PatternError> {
        let Some(body) = name.strip_prefix('_') else {
            let literal: Vec<u8> = name.bytes().filter(|b| !matches!(b, b'-' | b' ')).collect();
            return Ok((
                Self {
                    kind: Kind::Literal(literal.into_boxed_slice()),
                },
                Vec::new(),
            ));
        };
        let bytes = body.as_bytes();
        let mut elems = Vec::with_capacity(bytes.len());
        let mut warnings = Vec::new();
        // The `.` or `!` that ended the matchable part, and whether that was reported.
        let mut ended_by: Option<char> = None;
        let mut warned = false;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            if matches!(b, b'-' | b' ') {
                continue;
            }
            if let Some(end) = ended_by
                && !warned
            {
                warned = true;
                warnings.push(format!(
                    "pattern '{name}': nothing after '{end}' is ever matched ('{end}' \
                     matches the rest of the number)"
                ));
            }
            let elem = match b {
                b'X' | b'x' => Elem::Set(ByteSet::range(b'0', b'9')),
                b'Z' | b'z' => Elem::Set(ByteSet::range(b'1', b'9')),
                b'N' | b'n' => Elem::Set(ByteSet::range(b'2', b'9')),
                b'.' => Elem::Dot,
                b'!' => Elem::Bang,
                b'[' => {
                    let Some(len) = bytes[i..].iter().position(|&c| c == b']') else {
                        return Err(PatternError::UnclosedSet {
                            pattern: name.to_string(),
                            // `i` is just past the '[' in `body`, so at it in `name`.
                            position: i,
                        });
                    };
                    let inner = &bytes[i..i + len];
                    i += len + 1;
                    if inner.is_empty() {
                        warnings.push(format!("pattern '{name}': empty set '[]' is ignored"));
                        continue;
                    }
                    let set = parse_set(inner, name, &mut warnings);
                    Elem::Set(set)
                }
                other => Elem::Set(ByteSet::single(other)),
            };
            if matches!(elem, Elem::Dot | Elem::Bang) && ended_by.is_none() {
                ended_by = Some(char::from(b));
            }
            elems.push(elem);
        }
        Ok((
            Self {
                kind: Kind::Pattern(elems.into_boxed_slice()),
            },
            warnings,
        ))
    }

    /// True for a `_` pattern, false for a literal extension.
    pub fn is_pattern(&self) -> bool {
        matches!(self.kind, Kind::Pattern(_))
    }

    /// The literal extension with `-` and spaces removed; `None` for a pattern.
    pub fn literal(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Literal(l) => Some(l),
            Kind::Pattern(_) => None,
        }
    }

    /// Whether the dialled string `exten` matches (Asterisk's `ast_extension_match`).
    pub fn matches(&self, exten: &str) -> bool {
        let data = exten.bytes().filter(|&b| b != b'-');
        match &self.kind {
            Kind::Literal(l) => data.eq(l.iter().copied()),
            Kind::Pattern(elems) => {
                if exten.starts_with('_') && Self::parse(exten).is_ok_and(|p| p == *self) {
                    return true;
                }
                let mut pos = 0;
                for b in data {
                    match elems.get(pos) {
                        None => return false,
                        Some(Elem::Set(s)) if !s.contains(b) => return false,
                        Some(Elem::Set(_)) => pos += 1,
                        Some(Elem::Dot | Elem::Bang) => return true,
                    }
                }
                matches!(elems.get(pos), None | Some(Elem::Bang))
            }
        }
    }
}

/// The bytes of a non-empty `[...]` body: single bytes and `a-b` ranges.
fn parse_set(inner: &[u8], name: &str, warnings: &mut Vec<String>) -> ByteSet {
    let mut set = ByteSet::EMPTY;
    let mut j = 0;
    while j < inner.len() {
        if j + 2 < inner.len() && inner[j + 1] == b'-' {
            let (lo, hi) = (inner[j], inner[j + 2]);
            if lo > hi {
                warnings.push(format!(
                    "pattern '{name}': range '{}-{}' is reversed and matches nothing",
                    char::from(lo).escape_default(),
                    char::from(hi).escape_default()
                ));
            } else {
                for b in lo..=hi {
                    set.insert(b);
                }
            }
            j += 3;
        } else {
            set.insert(inner[j]);
            j += 1;
        }
    }
    if set.len() == 0 {
        warnings.push(format!(
            "pattern '{name}': a set matches no character, so the pattern never matches"
        ));
    }
    set
}

impl Ord for Pattern {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.kind, &other.kind) {
            (Kind::Literal(a), Kind::Literal(b)) => a.cmp(b),
            (Kind::Literal(_), Kind::Pattern(_)) => Ordering::Less,
            (Kind::Pattern(_), Kind::Literal(_)) => Ordering::Greater,
            (Kind::Pattern(a), Kind::Pattern(b)) => {
                let mut i = 0;
                loop {
                    let (l, r) = (a.get(i), b.get(i));
                    if l.is_none() && r.is_none() {
                        return Ordering::Equal;
                    }
                    let by_score = score(l).cmp(&score(r));
                    if by_score != Ordering::Equal {
                        return by_score;
                    }
                    if let (Some(Elem::Set(x)), Some(Elem::Set(y))) = (l, r) {
                        // Asterisk: memcmp(right, left): lower characters first.
                        let by_chars = y.0.cmp(&x.0);
                        if by_chars != Ordering::Equal {
                            return by_chars;
                        }
                    }
                    i += 1;
                }
            }
        }
    }
}

impl PartialOrd for Pattern {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Asterisk's `ast_shrink_phone_number`, applied to the caller-id part of `exten => 100/cid`:
/// drops `(`, `)` and spaces, `-` outside `[...]`, and `.` except as the last character.
pub fn shrink_caller_id(cid: &str) -> String {
    let mut out = String::with_capacity(cid.len());
    let mut bracketed = 0i32;
    let mut chars = cid.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                bracketed += 1;
                out.push(c);
            }
            ']' => {
                bracketed -= 1;
                out.push(c);
            }
            '-' if bracketed != 0 => out.push(c),
            '-' => {}
            '.' if chars.peek().is_none() => out.push(c),
            '.' | '(' | ')' | ' ' => {}
            _ => out.push(c),
        }
    }
    out
}
