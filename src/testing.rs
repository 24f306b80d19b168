//! Helpers shared by unit tests: configurations written as pjsip.conf text.

use std::path::Path;
use std::sync::Arc;

use crate::config::build::build;
use crate::config::ini::{MemFs, read_str};
use crate::sorcery::{RefPolicy, Snapshot, Store, StoredObject};

/// A store loaded from `text` (as `/c/pjsip.conf`); panics on any configuration error, since
/// a test's configuration must be valid.
pub(crate) fn store(text: &str) -> Store {
    let fs = MemFs::new();
    let read = match read_str(&fs, Path::new("/c/pjsip.conf"), text) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let built = build(&read.document);
    let errors: Vec<String> = built
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let store = Store::new();
    let objects = built.objects.into_iter().map(StoredObject::from);
    if let Err(e) = store.replace_file_objects(objects, RefPolicy::Lenient) {
        panic!("{e}");
    }
    store
}

/// The snapshot of a store loaded from `text`.
pub(crate) fn snapshot(text: &str) -> Arc<Snapshot> {
    store(text).snapshot()
}
