//! Sets of 64-bit fingerprints: where remembering millions of values (keys,
//! emails, record ids) would cost too much memory, ferry remembers a keyed
//! 64-bit hash of each instead, in a set that uses the fingerprint as its own
//! hash.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// A set of fingerprints, hashed by themselves.
pub type FingerprintSet = HashSet<u64, BuildHasherDefault<PassThrough>>;

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
        let mut set = FingerprintSet::default();
        assert!(set.insert(7) && !set.insert(7));
    }
}
