//! Sets of 64-bit fingerprints: where remembering millions of values (keys,
//! emails, record ids) would cost too much memory, ferry remembers a keyed
//! 64-bit hash of each instead, in a set that uses the fingerprint as its own
//! hash.
//!
//! The set is an extendible hash table: blocks of [`SLOTS`] fingerprints, and
//! a directory that picks a block by the fingerprint's top bits. A full block
//! splits in two by its next bit, and the directory doubles when a block
//! needs more bits than it has. Nothing is ever moved to a bigger table and
//! no block is ever freed, so the set never holds two copies of itself while
//! it grows, and leaves no freed tables behind for the allocator to keep
//! resident: its memory is its blocks, 512 bytes for 56 fingerprints and
//! about 69 % full on average (some 13 bytes a fingerprint), and a directory
//! of some 1/70 of that. (A hash table that doubles holds 9 bytes a slot with
//! up to half of its slots free after a doubling, briefly both tables while
//! it doubles, and the tables it outgrew stay in the allocator's heap as
//! holes: at 1,000,000 users, a dry run's peak RSS was 53 MiB with 256 such
//! tables, 44 MiB with this set.)

use std::collections::HashMap;

use crate::words::equal;

/// Fingerprints a block holds before it splits: their tags, the count and
/// the depth fill the block's first cache line.
const SLOTS: usize = 56;

/// Blocks allocated together (128 KiB), never freed while the set lives.
const CHUNK: usize = 256;

/// The most bits the directory uses: 2^22 entries (16 MiB) for up to 2^22
/// blocks, room for some 200 million fingerprints. Past that, and for
/// fingerprints made to share their top bits (the hashes have fixed keys),
/// everything still fits: a full block at this depth keeps the rest in an
/// overflow instead of splitting, scanned in order.
const MAX_DEPTH: u32 = 22;

/// A set of fingerprints.
#[derive(Clone)]
pub struct FingerprintSet {
    /// `directory[e]` is the number of the block of the fingerprints whose
    /// top `depth` bits are `e`.
    directory: Vec<u32>,
    /// The bits the directory uses: it has `2^depth` entries.
    depth: u32,
    /// The blocks, [`CHUNK`] to a chunk, each named by 2^(depth - its depth)
    /// consecutive entries; the first `blocks` are in use.
    chunks: Vec<Box<[Block]>>,
    blocks: usize,
    /// What full blocks at the deepest directory hold past their slots, by
    /// block: empty but for fingerprints made to share their top bits.
    overflow: HashMap<usize, Vec<u64>>,
    /// The most bits the directory may use ([`MAX_DEPTH`] but in tests).
    max_depth: u32,
    len: usize,
}

impl std::fmt::Debug for FingerprintSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FingerprintSet")
            .field("len", &self.len)
            .field("blocks", &self.blocks)
            .field("depth", &self.depth)
            .finish()
    }
}

/// Fingerprints whose top `depth` bits are the same, 512 bytes: a lookup
/// reads the first cache line (tags, count, depth) and a slot only where a
/// tag matches.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
struct Block {
    /// The low byte of each fingerprint in `slots`, byte `i % 8` of word
    /// `i / 8` for slot `i`.
    tags: [u64; SLOTS / 8],
    /// How many of `slots` are used.
    used: u32,
    depth: u32,
    slots: [u64; SLOTS],
}

// The tags, the count and the depth are the first cache line, the slots the
// other seven.
const _: () = assert!(std::mem::offset_of!(Block, slots) == 64);
const _: () = assert!(std::mem::size_of::<Block>() == 512);

impl Block {
    fn new() -> Block {
        Block {
            tags: [0; SLOTS / 8],
            slots: [0; SLOTS],
            used: 0,
            depth: 0,
        }
    }

    fn used(&self) -> usize {
        self.used as usize
    }

    #[cfg(test)]
    fn held(&self) -> &[u64] {
        &self.slots[..self.used()]
    }

    /// Puts `fingerprint` in slot `slot` with its tag.
    fn put(&mut self, slot: usize, fingerprint: u64) {
        self.slots[slot] = fingerprint;
        let shift = 8 * (slot % 8);
        let word = &mut self.tags[slot / 8];
        *word = (*word & !(0xFF << shift)) | (fingerprint & 0xFF) << shift;
    }

    /// Adds `fingerprint` in the next slot; `false` if the block is full.
    fn push(&mut self, fingerprint: u64) -> bool {
        let used = self.used();
        if used == SLOTS {
            return false;
        }
        self.put(used, fingerprint);
        self.used += 1;
        true
    }

    /// The slot of `fingerprint`, if the block holds it.
    fn find(&self, fingerprint: u64) -> Option<usize> {
        let used = self.used();
        let tag = (fingerprint & 0xFF) as u8;
        for (w, &word) in self.tags.iter().enumerate().take(used.div_ceil(8)) {
            // Every byte equal to the tag is marked, and maybe a byte above
            // one too: each mark is checked against its slot.
            let mut marks = equal(word, tag);
            while marks != 0 {
                let slot = 8 * w + marks.trailing_zeros() as usize / 8;
                if slot >= used {
                    break;
                }
                if self.slots[slot] == fingerprint {
                    return Some(slot);
                }
                marks &= marks - 1;
            }
        }
        None
    }

    /// Removes the fingerprint in `slot`, putting `last` (the last of the
    /// block's overflow) there or else the block's last.
    fn remove(&mut self, slot: usize, last: Option<u64>) {
        let last = match last {
            Some(last) => last,
            None => {
                self.used -= 1;
                self.slots[self.used()]
            }
        };
        if slot < self.used() {
            self.put(slot, last);
        }
    }
}

impl Default for FingerprintSet {
    fn default() -> FingerprintSet {
        FingerprintSet::with_max_depth(MAX_DEPTH)
    }
}

impl FingerprintSet {
    fn with_max_depth(max_depth: u32) -> FingerprintSet {
        let mut set = FingerprintSet {
            directory: vec![0],
            depth: 0,
            chunks: Vec::new(),
            blocks: 0,
            overflow: HashMap::new(),
            max_depth,
            len: 0,
        };
        // One block for every fingerprint, until it first splits.
        set.new_block(0);
        set
    }

    /// A new, empty block of `depth`, and its number.
    fn new_block(&mut self, depth: u32) -> u32 {
        let b = self.blocks;
        if b.is_multiple_of(CHUNK) {
            self.chunks.push((0..CHUNK).map(|_| Block::new()).collect());
        }
        self.blocks += 1;
        self.block_mut(b).depth = depth;
        // Fewer blocks than directory entries, at most 2^MAX_DEPTH: a u32.
        b as u32
    }

    fn block(&self, b: usize) -> &Block {
        &self.chunks[b / CHUNK][b % CHUNK]
    }

    fn block_mut(&mut self, b: usize) -> &mut Block {
        &mut self.chunks[b / CHUNK][b % CHUNK]
    }

    /// The directory entry of `fingerprint`: its top `depth` bits.
    fn entry(&self, fingerprint: u64) -> usize {
        fingerprint.checked_shr(64 - self.depth).unwrap_or(0) as usize
    }

    /// The number of the block of `fingerprint`.
    fn block_of(&self, fingerprint: u64) -> usize {
        self.directory[self.entry(fingerprint)] as usize
    }

    /// Where `fingerprint` is in block `b`: a slot, or past the slots, in
    /// the block's overflow.
    fn find(&self, b: usize, fingerprint: u64) -> Option<usize> {
        let block = self.block(b);
        block.find(fingerprint).or_else(|| {
            // Only a full block has an overflow.
            if block.used() < SLOTS {
                return None;
            }
            let overflow = self.overflow.get(&b)?;
            let at = overflow.iter().position(|&f| f == fingerprint)?;
            Some(SLOTS + at)
        })
    }

    /// Adds a fingerprint; `false` if it was there already.
    pub fn insert(&mut self, fingerprint: u64) -> bool {
        loop {
            let b = self.block_of(fingerprint);
            if self.find(b, fingerprint).is_some() {
                return false;
            }
            let max_depth = self.max_depth;
            let block = self.block_mut(b);
            if block.push(fingerprint) {
                self.len += 1;
                return true;
            }
            if block.depth >= max_depth {
                // Full at the deepest directory: past the slots. (A freed
                // slot takes an overflow's fingerprint back, so a block with
                // an overflow has every slot used.)
                self.overflow.entry(b).or_default().push(fingerprint);
                self.len += 1;
                return true;
            }
            self.split(b, fingerprint);
        }
    }

    /// Splits full block `b`, the block of `fingerprint`, by its next bit:
    /// the fingerprints with that bit set move to a new block, which takes
    /// the upper half of the directory entries that named `b`. (A block
    /// splits below the deepest directory only, so it has no overflow.)
    fn split(&mut self, b: usize, fingerprint: u64) {
        let depth = self.block(b).depth;
        if depth == self.depth {
            // Every entry becomes two: the same block for both halves.
            self.directory = self.directory.iter().flat_map(|&b| [b, b]).collect();
            self.depth += 1;
        }
        let high = self.new_block(depth + 1) as usize;
        let bit = 1u64 << (63 - depth);
        let low = self.block_mut(b);
        let (held, used) = (low.slots, low.used());
        low.depth = depth + 1;
        low.used = 0;
        for f in held.into_iter().take(used) {
            let to = if f & bit == 0 { b } else { high };
            self.block_mut(to).push(f);
        }
        let named = 1usize << (self.depth - depth);
        let first = self.entry(fingerprint) & !(named - 1);
        for entry in &mut self.directory[first + named / 2..first + named] {
            *entry = high as u32;
        }
    }

    /// Whether the fingerprint is in the set.
    pub fn contains(&self, fingerprint: &u64) -> bool {
        self.find(self.block_of(*fingerprint), *fingerprint)
            .is_some()
    }

    /// Removes a fingerprint; `false` if it was not there. (Its block keeps
    /// its place: blocks never merge.)
    pub fn remove(&mut self, fingerprint: &u64) -> bool {
        let b = self.block_of(*fingerprint);
        let Some(slot) = self.find(b, *fingerprint) else {
            return false;
        };
        let overflow = self.overflow.get_mut(&b);
        if slot >= SLOTS {
            if let Some(overflow) = overflow {
                overflow.swap_remove(slot - SLOTS);
            }
        } else {
            let last = overflow.and_then(|o| o.pop());
            self.block_mut(b).remove(slot, last);
        }
        if self.overflow.get(&b).is_some_and(|o| o.is_empty()) {
            self.overflow.remove(&b);
        }
        self.len -= 1;
        true
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// Every block is named by exactly the entries its depth says, each
    /// fingerprint is in the block its top bits name, and the count is right.
    fn check(set: &FingerprintSet) {
        let mut named = vec![0usize; set.blocks];
        for &b in &set.directory {
            named[b as usize] += 1;
        }
        assert_eq!(set.directory.len(), 1 << set.depth);
        let mut held = 0;
        for (b, &named) in named.iter().enumerate() {
            let block = set.block(b);
            assert!(block.depth <= set.depth);
            assert_eq!(named, 1 << (set.depth - block.depth), "block {b}");
            let overflow = set.overflow.get(&b).map_or(&[][..], |o| &o[..]);
            assert!(overflow.is_empty() || block.used() == SLOTS);
            let slots = block.held().iter().chain(overflow);
            for (slot, &f) in slots.enumerate() {
                assert_eq!(set.block_of(f), b, "{f:#x} is out of its block");
                assert_eq!(set.find(b, f), Some(slot), "{f:#x}");
                if slot < SLOTS {
                    let tag = block.tags[slot / 8] >> (8 * (slot % 8)) & 0xFF;
                    assert_eq!(tag, f & 0xFF, "the tag of slot {slot}");
                }
            }
            held += block.used() + overflow.len();
        }
        assert_eq!(held, set.len());
    }

    #[test]
    fn the_set_counts_finds_and_removes_across_blocks() {
        let mut set = FingerprintSet::default();
        assert!(set.is_empty() && !set.contains(&7));
        // Values spread over the whole range, and two that differ in one low bit.
        let values: Vec<u64> = (1..10_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .chain([7, 7 | 1 << 20, 0, u64::MAX])
            .collect();
        for &v in &values {
            assert!(set.insert(v), "{v}");
        }
        assert!(!set.insert(7) && !set.insert(0) && !set.insert(u64::MAX));
        assert_eq!(set.len(), values.len());
        assert!(values.iter().all(|v| set.contains(v)));
        assert!(!set.contains(&8));
        check(&set);
        assert!(set.blocks > 10_000 / SLOTS, "{} blocks", set.blocks);
        assert!(set.remove(&7) && !set.remove(&7));
        assert!(!set.contains(&7) && set.contains(&(7 | 1 << 20)));
        assert_eq!(set.len(), values.len() - 1);
        assert!(set.insert(7));
        check(&set);
    }

    /// Well-spread values, as SipHash fingerprints are (SplitMix64).
    fn splitmix(i: u64) -> u64 {
        let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn blocks_are_mostly_full_and_the_directory_is_small() {
        let mut set = FingerprintSet::default();
        let n = 200_000u64;
        for i in 0..n {
            set.insert(splitmix(i));
        }
        assert_eq!(set.len(), n as usize);
        check(&set);
        let fill = n as f64 / (set.blocks * SLOTS) as f64;
        assert!((0.6..0.8).contains(&fill), "blocks {fill:.2} full");
        // Fewer entries than fingerprints / 8: a 4-byte entry per 32 bytes held.
        assert!(
            set.directory.len() < n as usize / 8,
            "{} entries",
            set.directory.len()
        );
    }

    #[test]
    fn fingerprints_made_to_share_their_top_bits_still_fit_past_the_deepest_directory() {
        // 500 fingerprints with the same top 40 bits: the directory stops at
        // 2^6 entries and their block grows past SLOTS instead.
        let mut set = FingerprintSet::with_max_depth(6);
        let shared = 0x00AB_CDEF_0123_u64 << 24;
        for i in 0..500u64 {
            assert!(set.insert(shared | i));
        }
        for i in 0..1000u64 {
            set.insert(i << 50);
        }
        assert_eq!(set.depth, 6);
        check(&set);
        assert!((0..500u64).all(|i| set.contains(&(shared | i))));
        assert!(!set.insert(shared | 499) && !set.contains(&(shared | 500)));
        assert_eq!(set.len(), 500 + 1000);
        // Removed from the slots and from past them, the rest still there.
        for i in (0..500u64).step_by(3) {
            assert!(set.remove(&(shared | i)));
        }
        check(&set);
        assert!((0..500u64).all(|i| set.contains(&(shared | i)) == (i % 3 != 0)));
    }

    proptest! {
        #[test]
        fn the_set_is_a_set(ops in prop::collection::vec((any::<bool>(), 0u64..16, any::<u8>()), 0..3000)) {
            // Values that share top bits (a small range, shifted to the top)
            // and low ones, so that blocks split to the deepest directory
            // and overflow there, and tags match more than one slot.
            let mut set = FingerprintSet::with_max_depth(12);
            let mut model = HashSet::new();
            for (add, v, low) in ops {
                let f = (v << 52) | u64::from(low);
                if add {
                    prop_assert_eq!(set.insert(f), model.insert(f));
                } else {
                    prop_assert_eq!(set.remove(&f), model.remove(&f));
                }
                prop_assert_eq!(set.len(), model.len());
            }
            check(&set);
            for f in &model {
                prop_assert!(set.contains(f));
            }
        }
    }
}
