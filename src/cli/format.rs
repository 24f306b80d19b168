//! Shared layout helpers for Asterisk-style listings.

/// `1 day, 2 hours, 3 minutes, 4 seconds` as Asterisk prints uptimes.
pub(super) fn duration_words(secs: u64) -> String {
    let parts = [
        (secs / 86_400, "day"),
        (secs / 3_600 % 24, "hour"),
        (secs / 60 % 60, "minute"),
        (secs % 60, "second"),
    ];
    let words: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    if words.is_empty() {
        "0 seconds".to_string()
    } else {
        words.join(", ")
    }
}
