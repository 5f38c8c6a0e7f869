//! A short-lived read cache for what every ATS call and every delivery looks
//! up: token → account, the package list, endpoint secrets and ATS
//! credentials. Without it each `assessment.start` paid three reads before its
//! write, and each delivery one more.
//!
//! Any write through this process clears it at once (a rotated token or a
//! disabled account stops working immediately). Writes by other nodes
//! (PostgreSQL) become visible after at most [`TTL`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use screenhub_core::clock::Millis;
use screenhub_core::{AccountId, EndpointId};

use crate::{Account, AtsConnection, Package};

/// How stale a cached value may be when another node changed it.
pub const TTL: Duration = Duration::from_secs(1);
/// Past this many entries a map starts over (bounded memory under token guessing
/// is not a concern, since only found tokens are cached, but accounts are many).
const MAX_ENTRIES: usize = 10_000;

/// An endpoint's URL and secrets, opened.
#[derive(Clone)]
pub(crate) struct EndpointKeys {
    pub(crate) url: String,
    pub(crate) current: String,
    pub(crate) previous: Option<(String, Millis)>,
}

/// An account found by one of its tokens, and when that token stops working.
#[derive(Clone)]
pub(crate) struct TokenHolder {
    pub(crate) account: Account,
    pub(crate) token_expires_at: Option<Millis>,
}

#[derive(Default)]
pub(crate) struct ReadCache {
    /// Bumped by every write; a read that began under an older generation
    /// must not fill the cache (it may have read what the write replaced).
    generation: AtomicU64,
    pub(crate) tokens: Slot<[u8; 32], TokenHolder>,
    pub(crate) packages: Slot<(), Arc<Vec<Package>>>,
    pub(crate) endpoints: Slot<EndpointId, EndpointKeys>,
    pub(crate) credentials: Slot<AccountId, Option<AtsConnection>>,
}

impl ReadCache {
    /// The generation to hand back to [`ReadCache::put`] after reading the database.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Forget everything: call after committing a write to what is cached.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tokens.clear();
        self.packages.clear();
        self.endpoints.clear();
        self.credentials.clear();
    }

    pub(crate) fn put<K: Eq + Hash, V>(&self, slot: &Slot<K, V>, read_at: u64, key: K, value: V) {
        let mut map = slot.map.lock().expect("cache lock");
        // Checked under the lock: `invalidate` bumps before it clears, so a put
        // that sees the old generation lands before the clear.
        if self.generation() != read_at {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (value, Instant::now()));
    }
}

pub(crate) struct Slot<K, V> {
    map: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for Slot<K, V> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Slot<K, V> {
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let map = self.map.lock().expect("cache lock");
        map.get(key)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(v, _)| v.clone())
    }

    fn clear(&self) {
        self.map.lock().expect("cache lock").clear();
    }
}
