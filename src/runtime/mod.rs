//! The async shell around the sans-IO core: the serialized queues the distributor feeds.

pub mod queues;

pub use queues::{QueuePool, Work};
