//! `pjsip show ...` listings.

use super::Reply;
use crate::sorcery::Snapshot;

/// Runs `pjsip show <lw...>`; `words` are the same words with their original case.
pub(super) fn run(_snap: &Snapshot, _lw: &[&str], _words: &[&str]) -> Reply {
    Reply::fail("not yet\n")
}
