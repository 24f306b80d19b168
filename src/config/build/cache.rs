//! What a build remembers for the next one: which objects each cleanly built section made.
//!
//! The maps are persistent (structure-sharing), so the next build's cache is the previous one
//! plus the changed sections minus the vanished ones: a reload costs O(changed sections) here,
//! not O(configuration).

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, LazyLock};

use foldhash::quality::RandomState;

use crate::config::ini::Section;
use crate::config::types::{Kind, Reference};

/// A 128-bit digest of what a section means: its name and every `name = value` line, in
/// order (inherited lines included, file positions excluded), built from the reader's
/// per-line digests. Two independently seeded hashes make an accidental match between
/// different sections practically impossible; configuration text is the administrator's,
/// not an attacker's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct SectionDigest(u64, u64);

/// Hash keys fixed for the life of the process, so digests compare across reloads.
static KEYS: LazyLock<(RandomState, RandomState)> = LazyLock::new(Default::default);

impl SectionDigest {
    pub(super) fn of(section: &Section) -> Self {
        let mut a = KEYS.0.build_hasher();
        let mut b = KEYS.1.build_hasher();
        a.write(section.name.as_bytes());
        b.write(section.name.as_bytes());
        for d in &section.line_digests {
            a.write_u64(d.0);
            b.write_u64(d.1);
        }
        Self(a.finish(), b.finish())
    }
}

/// An object's identity as the builder tracks it.
pub(super) type Key = (Kind, Arc<str>);

/// What one cleanly built section made.
#[derive(Clone, Debug, Default)]
pub(super) struct CachedSection {
    /// Its objects, in order.
    pub(super) objects: Vec<Key>,
    /// References those objects make: (index into `objects`, reference).
    pub(super) references: Vec<(usize, Reference)>,
}

/// Per-section results of the previous build.
#[derive(Clone, Debug, Default)]
pub struct BuildCache {
    /// Section digest → what it made.
    pub(super) sections: imbl::HashMap<SectionDigest, Arc<CachedSection>>,
    /// Object → the digest of the section that made it.
    pub(super) keys: imbl::HashMap<Key, SectionDigest>,
}

impl BuildCache {
    /// Number of sections remembered.
    pub fn len(&self) -> usize {
        self.sections.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    pub(super) fn insert(&mut self, digest: SectionDigest, section: Arc<CachedSection>) {
        for key in &section.objects {
            self.keys.insert(key.clone(), digest);
        }
        self.sections.insert(digest, section);
    }

    pub(super) fn remove(&mut self, digest: &SectionDigest) -> Option<Arc<CachedSection>> {
        let section = self.sections.remove(digest)?;
        for key in &section.objects {
            // Only if that key still maps to this section (a rebuilt section may own it now).
            if self.keys.get(key) == Some(digest) {
                self.keys.remove(key);
            }
        }
        Some(section)
    }
}
