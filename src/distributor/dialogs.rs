//! Which queue each dialog lives on (Asterisk's `dialog_associations`): in-dialog requests
//! and responses go to their dialog's queue. Sharded so that receive tasks on several
//! threads rarely meet on one lock.

use foldhash::HashMap;
use std::hash::BuildHasher;
use std::sync::{PoisonError, RwLock};

const SHARDS: usize = 16;

/// A dialog as the distributor sees it: Call-ID and our tag (RFC 3261 12: the local tag
/// is the To-tag of requests we receive in it).
/// Kept as one text, `call_id LF local_tag` (neither can hold a line feed): one allocation
/// per key where two strings took two, and keys are made for every in-dialog message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DialogKey(String);

impl DialogKey {
    /// The key of the dialog with `call_id` whose local tag is `local_tag`.
    pub fn new(call_id: &str, local_tag: &str) -> Self {
        let mut key = String::with_capacity(call_id.len() + 1 + local_tag.len());
        key.push_str(call_id);
        key.push('\n');
        key.push_str(local_tag);
        Self(key)
    }
}

impl std::borrow::Borrow<str> for DialogKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Longest key looked up without an allocation (Call-IDs and tags are usually far shorter).
const STACK_KEY: usize = 192;

/// Dialog → queue.
#[derive(Debug)]
pub struct DialogTable {
    shards: Vec<RwLock<HashMap<DialogKey, usize>>>,
    hasher: foldhash::fast::FixedState,
}

impl Default for DialogTable {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::default()))
                .collect(),
            hasher: foldhash::fast::FixedState::with_seed(0x5149_7064),
        }
    }
}

impl DialogTable {
    /// The shard of a key (hashed as its text, the same hash whether the key is a
    /// [`DialogKey`] or the `str` it borrows as).
    fn shard(&self, key: &str) -> Option<&RwLock<HashMap<DialogKey, usize>>> {
        let h = self.hasher.hash_one(key);
        self.shards
            .get(usize::try_from(h % SHARDS as u64).unwrap_or(0))
    }

    /// The queue of a dialog, if it is known.
    pub fn queue(&self, key: &DialogKey) -> Option<usize> {
        self.queue_by_text(&key.0)
    }

    fn queue_by_text(&self, key: &str) -> Option<usize> {
        let shard = self.shard(key)?;
        shard
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
    }

    /// [`DialogTable::queue`] of the dialog `(call_id, local_tag)`, with the key written
    /// on the stack: every in-dialog request is looked up so, and most dialogs are not
    /// ours to find.
    pub fn queue_of(&self, call_id: &str, local_tag: &str) -> Option<usize> {
        let len = call_id.len() + 1 + local_tag.len();
        let mut buf = [0u8; STACK_KEY];
        let Some(key) = buf.get_mut(..len) else {
            return self.queue(&DialogKey::new(call_id, local_tag));
        };
        let (id, rest) = key.split_at_mut(call_id.len());
        id.copy_from_slice(call_id.as_bytes());
        if let Some((sep, tag)) = rest.split_first_mut() {
            *sep = b'\n';
            tag.copy_from_slice(local_tag.as_bytes());
        }
        let key = std::str::from_utf8(key).ok()?;
        self.queue_by_text(key)
    }

    /// Records that a dialog lives on `queue`.
    pub fn insert(&self, key: DialogKey, queue: usize) {
        if let Some(shard) = self.shard(&key.0) {
            shard
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, queue);
        }
    }

    /// Forgets a dialog (it ended).
    pub fn remove(&self, key: &DialogKey) {
        if let Some(shard) = self.shard(&key.0) {
            shard
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(key.0.as_str());
        }
    }

    /// Dialogs known.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// True when no dialog is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
