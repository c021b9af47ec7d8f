//! Eight bytes at a time: tests of every byte of a little-endian `u64`
//! word at once, with no branch per byte and no table to load. The JSON
//! scanner ([`crate::source`]) looks for a record's quotes and brackets with
//! them; the duplicate set ([`crate::fingerprint`]) its tags.

/// Each byte of a word, eight times.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte of `word` below `limit` (at most 0x80). Exact
/// up to the first such byte: a borrow only runs upwards from one, so a byte
/// above it may be marked too.
#[inline]
pub(crate) fn below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(limit)) & !word & (ONES * 0x80)
}

/// The high bit of each byte of `word` that is `b`, as [`below`].
#[inline]
pub(crate) fn equal(word: u64, b: u8) -> u64 {
    below(word ^ (ONES * u64::from(b)), 1)
}
