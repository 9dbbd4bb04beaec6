//! Files and streams the CLI reads whole, each read up to a bound: a wrong path (a device, a
//! huge export given as the mapping, `/dev/zero` as the token file) ends in a clear error
//! instead of filling memory. Import records are not read here: the import streams them,
//! bounding each record.

use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

use crate::exit::CliError;

/// The largest mapping file: 1 MiB, the most the server takes in a request body, which an
/// import's mapping travels in. A mapping is a few KiB of TOML.
pub(crate) const MAX_MAPPING_BYTES: u64 = 1 << 20;

/// At most `limit` bytes of `reader`, or `None` when it holds more. Reads at most one byte
/// past the limit.
pub(crate) fn read_at_most(reader: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// [`read_at_most`] into a zeroizing buffer, for secrets.
pub(crate) fn read_secret_at_most(
    reader: impl Read,
    limit: u64,
) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(usize::try_from(limit + 1).unwrap_or(0)));
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// The mapping file at `path` (`--map`), at most [`MAX_MAPPING_BYTES`].
pub(crate) fn read_mapping(path: &Path) -> Result<String, CliError> {
    let io = |e: std::io::Error| {
        CliError::Io(format!(
            "could not read the mapping {}: {e}",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let bytes = read_at_most(file, MAX_MAPPING_BYTES)
        .map_err(io)?
        .ok_or_else(|| {
            CliError::Io(format!(
                "the mapping {} is larger than {} MiB, which no mapping is (one is a few KiB of \
                 TOML): check that --map names the mapping file, not the records",
                path.display(),
                MAX_MAPPING_BYTES >> 20
            ))
        })?;
    String::from_utf8(bytes).map_err(|_| {
        CliError::Io(format!(
            "the mapping {} is not UTF-8 text: give the TOML mapping file",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_stops_one_byte_past_the_limit() {
        let endless = std::io::repeat(b'x');
        assert_eq!(read_at_most(endless, 10).unwrap(), None);
        let exact = std::io::Cursor::new(vec![b'y'; 10]);
        assert_eq!(read_at_most(exact, 10).unwrap(), Some(vec![b'y'; 10]));
        let secret = read_secret_at_most(std::io::repeat(b'z'), 4).unwrap();
        assert!(secret.is_none());
    }
}
