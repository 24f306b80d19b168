//! What a build remembers for the next one: which objects each unchanged section made.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, LazyLock};

use crate::config::ini::{Section, Variable};
use crate::config::types::{Kind, Reference};

/// A 128-bit digest of what a section means: its name and every `name = value` line, in
/// order (inherited lines included, file positions excluded). Two independently keyed
/// SipHashes make an accidental match between different sections practically impossible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct SectionDigest(u64, u64);

/// Hash keys fixed for the life of the process, so digests compare across reloads.
static KEYS: LazyLock<(RandomState, RandomState)> =
    LazyLock::new(|| (RandomState::new(), RandomState::new()));

impl SectionDigest {
    /// The digest of one line.
    fn of_variable(v: &Variable) -> Self {
        let mut a = KEYS.0.build_hasher();
        let mut b = KEYS.1.build_hasher();
        for h in [&mut a, &mut b] {
            // The separator keeps ("ab","c") apart from ("a","bc"): names hold no NUL.
            h.write(v.name.as_bytes());
            h.write_u8(0);
            h.write(v.value.as_bytes());
        }
        Self(a.finish(), b.finish())
    }

    /// The digest of a section: its name and the digests of its lines, in order. Lines shared
    /// with a template are digested once per build (`memo`), not once per section.
    pub(super) fn of(section: &Section, memo: &mut DigestMemo) -> Self {
        let mut a = KEYS.0.build_hasher();
        let mut b = KEYS.1.build_hasher();
        a.write(section.name.as_bytes());
        b.write(section.name.as_bytes());
        for v in &section.variables {
            let d = if Arc::strong_count(v) > 1 {
                memo.0
                    .entry(Arc::as_ptr(v) as usize)
                    .or_insert_with(|| (v.clone(), Self::of_variable(v)))
                    .1
            } else {
                Self::of_variable(v)
            };
            a.write_u64(d.0);
            b.write_u64(d.1);
        }
        Self(a.finish(), b.finish())
    }
}

/// Digests of shared lines, by address, for one build. The memo holds each line it keys on,
/// so no address is freed and reused by another line while the memo lives.
#[derive(Default)]
pub(super) struct DigestMemo(
    HashMap<usize, (Arc<Variable>, SectionDigest), BuildHasherDefault<AddressHasher>>,
);

/// A hasher for addresses: they are already well spread, so hashing them again is waste.
#[derive(Default)]
pub(super) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_usize(&mut self, n: usize) {
        // Heap addresses are 8- or 16-byte aligned: drop the always-zero bits, mix the rest.
        self.0 = ((n >> 4) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// What one cleanly built section made.
#[derive(Clone, Debug, Default)]
pub(super) struct CachedSection {
    /// Its objects, in order.
    pub(super) objects: Vec<(Kind, Arc<str>)>,
    /// References those objects make: (index into `objects`, reference).
    pub(super) references: Vec<(usize, Reference)>,
    /// Options not acted on yet: (index into `objects`, option, index of the line in the
    /// section's variables), so notices point at the line where it is now.
    pub(super) unsupported: Vec<(usize, &'static str, usize)>,
}

/// Per-section results of the previous build, keyed by [`SectionDigest`].
#[derive(Clone, Debug, Default)]
pub struct BuildCache {
    sections: HashMap<SectionDigest, Arc<CachedSection>>,
}

impl BuildCache {
    pub(super) fn get(&self, digest: &SectionDigest) -> Option<Arc<CachedSection>> {
        self.sections.get(digest).cloned()
    }

    pub(super) fn insert(&mut self, digest: SectionDigest, section: Arc<CachedSection>) {
        self.sections.insert(digest, section);
    }

    /// Number of sections remembered.
    pub fn len(&self) -> usize {
        self.sections.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }
}
