//! The simulator's library error type.

use std::net::SocketAddr;

/// Why the simulator could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}; pick another --port or --bind")]
    Bind {
        /// The address that was requested.
        addr: SocketAddr,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// The bind address is not a loopback address.
    #[error("refusing to listen on {0}: the simulator only binds to loopback addresses")]
    NotLoopback(SocketAddr),
    /// Generating or writing the TLS certificate failed.
    #[error("cannot prepare the TLS certificate: {0}")]
    Tls(String),
    /// A configuration value is out of range or inconsistent.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// Waiting for Ctrl-C or another I/O operation failed.
    #[error("simulator i/o failed: {0}")]
    Io(#[from] std::io::Error),
}
