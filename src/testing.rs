//! Helpers shared by unit tests: configurations written as pjsip.conf text.

use std::sync::Arc;

use crate::sorcery::{Snapshot, Store};

/// A store loaded from `text`; panics on any configuration error, since a test's
/// configuration must be valid.
pub(crate) fn store(text: &str) -> Store {
    Store::from_config_text(text).unwrap_or_else(|e| panic!("{e}"))
}

/// The snapshot of a store loaded from `text`.
pub(crate) fn snapshot(text: &str) -> Arc<Snapshot> {
    store(text).snapshot()
}
