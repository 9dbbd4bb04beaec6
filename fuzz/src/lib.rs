//! How the fuzz targets read their input.
//!
//! An input starting with byte 0 is a raw document: the next byte says which kind (a target's
//! own numbering) and the rest is the document as a file or an answer holds it, so seeds are
//! real files with two bytes in front. Any other input is decoded by `arbitrary` into the
//! target's structured input, which lets libFuzzer explore combinations no file shows.

use arbitrary::{Arbitrary, Unstructured};

/// A target's input, either kind.
#[derive(Debug)]
pub enum Seed<'a, T> {
    /// A raw document of the target's kind `kind`.
    Raw { kind: u8, bytes: &'a [u8] },
    /// A structured input.
    Structured(T),
}

/// Reads `data` as a raw document or a structured input; `None` when `arbitrary` cannot
/// build one (the input is then skipped).
pub fn seed<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Option<Seed<'a, T>> {
    match data {
        [0, kind, bytes @ ..] => Some(Seed::Raw { kind: *kind, bytes }),
        [0] | [] => None,
        _ => T::arbitrary_take_rest(Unstructured::new(data))
            .ok()
            .map(Seed::Structured),
    }
}
