//! The async shell around the sans-IO core: the serialized queues the distributor feeds.

pub mod queues;
pub mod threads;

pub use queues::{QueuePool, Work};

/// What the queues need to run calls: the PBX's shared parts, and the cell the media
/// engine's events reach the queues through (filled once the queues exist).
#[derive(Clone)]
pub struct CallWiring {
    /// The PBX's shared parts.
    pub shared: crate::pbx::PbxShared,
    /// The queue pool, once started.
    pub queues: std::sync::Arc<std::sync::OnceLock<QueuePool>>,
}
