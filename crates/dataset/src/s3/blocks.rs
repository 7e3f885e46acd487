//! Recently read blocks of objects, so that the decode workers reading the
//! members of a tar shard one after another cost one ranged request per block
//! (and the next block is already on its way) rather than one per image. Two
//! workers wanting a block that is being fetched wait for that one request.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use object_store::path::Path;

use super::failure::Failure;

/// Bytes per block: large enough that request overheads vanish, small enough
/// that a few per decode worker stay cheap.
pub const BLOCK_BYTES: u64 = 4 << 20;

/// An object and the index of one of its blocks.
pub type BlockId = (Path, u64);

enum Slot {
    /// A request for it is in flight.
    Loading,
    Ready {
        bytes: Bytes,
        last_used: u64,
    },
}

struct Blocks {
    slots: HashMap<BlockId, Slot>,
    clock: u64,
}

pub struct BlockCache {
    blocks: Mutex<Blocks>,
    changed: Condvar,
    /// Ready blocks kept at most.
    capacity: usize,
}

/// What `claim` found.
pub enum Claim {
    Ready(Bytes),
    /// The caller fetches it, then calls `finish`.
    Fetch,
}

impl BlockCache {
    pub fn new(capacity: usize) -> BlockCache {
        BlockCache {
            blocks: Mutex::new(Blocks {
                slots: HashMap::new(),
                clock: 0,
            }),
            changed: Condvar::new(),
            capacity: capacity.max(2),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Blocks> {
        self.blocks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The block if it is here (waiting while another request brings it), or
    /// the duty to fetch it.
    pub fn claim(&self, id: &BlockId) -> Claim {
        let mut blocks = self.lock();
        loop {
            blocks.clock += 1;
            let now = blocks.clock;
            match blocks.slots.get_mut(id) {
                Some(Slot::Ready { bytes, last_used }) => {
                    *last_used = now;
                    return Claim::Ready(bytes.clone());
                }
                Some(Slot::Loading) => {
                    blocks = self
                        .changed
                        .wait(blocks)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                None => {
                    blocks.slots.insert(id.clone(), Slot::Loading);
                    return Claim::Fetch;
                }
            }
        }
    }

    /// Marks a block as on its way, unless it is here or coming already: true
    /// when the caller should fetch it (a read-ahead).
    pub fn reserve(&self, id: &BlockId) -> bool {
        let mut blocks = self.lock();
        if blocks.slots.contains_key(id) {
            return false;
        }
        blocks.slots.insert(id.clone(), Slot::Loading);
        true
    }

    /// Stores what a fetch brought (a failure is forgotten: the next reader
    /// asks again, and object_store retries within each request).
    pub fn finish(&self, id: BlockId, fetched: &Result<Bytes, Failure>) {
        let mut blocks = self.lock();
        match fetched {
            Ok(bytes) => {
                blocks.clock += 1;
                let last_used = blocks.clock;
                blocks.slots.insert(
                    id,
                    Slot::Ready {
                        bytes: bytes.clone(),
                        last_used,
                    },
                );
                self.evict(&mut blocks);
            }
            Err(_) => {
                blocks.slots.remove(&id);
            }
        }
        drop(blocks);
        self.changed.notify_all();
    }

    fn evict(&self, blocks: &mut Blocks) {
        loop {
            let ready = blocks.slots.iter().filter_map(|(id, slot)| match slot {
                Slot::Ready { last_used, .. } => Some((*last_used, id)),
                Slot::Loading => None,
            });
            let (count, oldest) =
                ready.fold((0usize, None::<(u64, &BlockId)>), |(n, old), item| {
                    let older = match old {
                        Some(o) if o.0 <= item.0 => Some(o),
                        _ => Some(item),
                    };
                    (n + 1, older)
                });
            match oldest {
                Some((_, id)) if count > self.capacity => {
                    let id = id.clone();
                    blocks.slots.remove(&id);
                }
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(block: u64) -> BlockId {
        (Path::from("shard.tar"), block)
    }

    #[test]
    fn blocks_are_fetched_once_and_the_oldest_go_first() {
        let cache = BlockCache::new(2);
        assert!(matches!(cache.claim(&id(0)), Claim::Fetch));
        cache.finish(id(0), &Ok(Bytes::from_static(b"zero")));
        assert!(matches!(cache.claim(&id(0)), Claim::Ready(b) if b == "zero"));
        assert!(cache.reserve(&id(1)));
        assert!(!cache.reserve(&id(1)));
        cache.finish(id(1), &Ok(Bytes::from_static(b"one")));
        assert!(matches!(cache.claim(&id(2)), Claim::Fetch));
        cache.finish(id(2), &Ok(Bytes::from_static(b"two")));
        // Block 0 was used before block 1 was stored: it is the one dropped.
        assert!(matches!(cache.claim(&id(1)), Claim::Ready(_)));
        assert!(matches!(cache.claim(&id(0)), Claim::Fetch));
    }

    #[test]
    fn a_failed_fetch_is_asked_again() {
        let cache = BlockCache::new(4);
        assert!(matches!(cache.claim(&id(0)), Claim::Fetch));
        let failed = Err(Failure {
            kind: super::super::failure::FailureKind::Other,
            reason: "reset".into(),
        });
        cache.finish(id(0), &failed);
        assert!(matches!(cache.claim(&id(0)), Claim::Fetch));
    }

    #[test]
    fn waiting_readers_get_the_block_another_fetched() {
        let cache = std::sync::Arc::new(BlockCache::new(4));
        assert!(matches!(cache.claim(&id(7)), Claim::Fetch));
        let waiter = {
            let cache = cache.clone();
            std::thread::spawn(move || match cache.claim(&id(7)) {
                Claim::Ready(bytes) => bytes,
                Claim::Fetch => Bytes::new(),
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        cache.finish(id(7), &Ok(Bytes::from_static(b"seven")));
        assert_eq!(waiter.join().unwrap(), "seven");
    }
}
