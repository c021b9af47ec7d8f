//! Sets of 64-bit fingerprints: where remembering millions of values (keys,
//! emails, record ids) would cost too much memory, ferry remembers a keyed
//! 64-bit hash of each instead, in a set that uses the fingerprint as its own
//! hash.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// Shards of a [`FingerprintSet`].
const SHARDS: usize = 256;

/// A set of fingerprints, hashed by themselves, in [`SHARDS`] shards chosen
/// by bits 48 to 55 of the fingerprint.
///
/// A hash table grows by moving into one twice its size, and while it moves
/// both are allocated: one table of 40 MB briefly takes 120 MB. Shards grow
/// one at a time, each 1/256 of the whole, so the set's peak is its size.
/// (The shard bits are neither the low bits that pick a bucket nor the top
/// seven that the table keeps per slot, so every shard uses all of its table.)
#[derive(Debug, Clone)]
pub struct FingerprintSet {
    shards: Box<[Shard]>,
    len: usize,
}

type Shard = HashSet<u64, BuildHasherDefault<PassThrough>>;

impl Default for FingerprintSet {
    fn default() -> FingerprintSet {
        FingerprintSet {
            // Empty tables allocate nothing until their first insert.
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            len: 0,
        }
    }
}

impl FingerprintSet {
    fn shard(&self, fingerprint: u64) -> usize {
        (fingerprint >> 48) as usize % SHARDS
    }

    /// Adds a fingerprint; `false` if it was there already.
    pub fn insert(&mut self, fingerprint: u64) -> bool {
        let shard = self.shard(fingerprint);
        let added = self.shards[shard].insert(fingerprint);
        self.len += usize::from(added);
        added
    }

    /// Whether the fingerprint is in the set.
    pub fn contains(&self, fingerprint: &u64) -> bool {
        self.shards[self.shard(*fingerprint)].contains(fingerprint)
    }

    /// Removes a fingerprint; `false` if it was not there.
    pub fn remove(&mut self, fingerprint: &u64) -> bool {
        let shard = self.shard(*fingerprint);
        let removed = self.shards[shard].remove(fingerprint);
        self.len -= usize::from(removed);
        removed
    }

    /// How many fingerprints the set holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A hasher for keys that already are well-distributed hashes.
#[derive(Debug, Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_its_own_hash() {
        let mut h = PassThrough::default();
        h.write_u64(0xdead_beef);
        assert_eq!(h.finish(), 0xdead_beef);
    }

    #[test]
    fn the_set_counts_and_finds_across_shards() {
        let mut set = FingerprintSet::default();
        assert!(set.is_empty());
        // Values in many shards, and two in one shard.
        let values: Vec<u64> = (0..1000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .chain([7, 7 | 1 << 20])
            .collect();
        for &v in &values {
            assert!(set.insert(v), "{v}");
        }
        assert!(!set.insert(7));
        assert_eq!(set.len(), values.len());
        assert!(values.iter().all(|v| set.contains(v)));
        assert!(!set.contains(&8));
        assert!(set.remove(&7) && !set.remove(&7));
        assert!(!set.contains(&7) && set.contains(&(7 | 1 << 20)));
        assert_eq!(set.len(), values.len() - 1);
        let used = set.shards.iter().filter(|s| !s.is_empty()).count();
        assert!(used > 200, "{used} shards used");
    }
}
