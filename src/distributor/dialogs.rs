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
    fn shard(&self, key: &DialogKey) -> Option<&RwLock<HashMap<DialogKey, usize>>> {
        let h = self.hasher.hash_one(key);
        self.shards
            .get(usize::try_from(h % SHARDS as u64).unwrap_or(0))
    }

    /// The queue of a dialog, if it is known.
    pub fn queue(&self, key: &DialogKey) -> Option<usize> {
        let shard = self.shard(key)?;
        shard
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
    }

    /// Records that a dialog lives on `queue`.
    pub fn insert(&self, key: DialogKey, queue: usize) {
        if let Some(shard) = self.shard(&key) {
            shard
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, queue);
        }
    }

    /// Forgets a dialog (it ended).
    pub fn remove(&self, key: &DialogKey) {
        if let Some(shard) = self.shard(key) {
            shard
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(key);
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
