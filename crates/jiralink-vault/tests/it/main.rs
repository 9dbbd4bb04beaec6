//! Integration tests of the public vault API.

mod debug;
mod key_file;
mod keyring;
mod props;
mod round_trip;
mod tamper;

use jiralink_vault::{Aad, MasterKey};

/// The key of the frozen vector: bytes 0, 1, …, 31.
fn counting_key() -> MasterKey {
    let mut bytes = [0u8; 32];
    for (byte, value) in bytes.iter_mut().zip(0u8..) {
        *byte = value;
    }
    MasterKey::from_bytes(bytes)
}

fn connection_aad<'a>(id: &'a str, field: &'a str) -> Aad<'a> {
    Aad::new("connection", id, field)
}
