//! The chat adapters of this process, by platform: what the engine reads events and users
//! through, the executor performs effects through, and the ops endpoints ask for health. A
//! module of its own so that none of those three depends on another for it.

use std::collections::BTreeMap;
use std::sync::Arc;

use facilitator_chat::{ChatAdapter, Platform};

/// The chat adapters of this process, by platform.
#[derive(Clone, Debug, Default)]
pub struct Adapters(BTreeMap<Platform, Arc<dyn ChatAdapter>>);

impl Adapters {
    /// Adds an adapter.
    pub fn add(&mut self, adapter: Arc<dyn ChatAdapter>) {
        self.0.insert(adapter.platform(), adapter);
    }

    /// The adapter of a platform.
    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn ChatAdapter>> {
        self.0.get(&platform)
    }

    /// All adapters.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn ChatAdapter>> {
        self.0.values()
    }
}
