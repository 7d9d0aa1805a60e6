//! pipework: software-defined networking for Linux containers as a scriptable plumbing engine.
//!
//! The core (`session`, `driver`, `net`, `guest`) is a plain Rust library; `script` embeds it in Rhai
//! and `cli` is the command line. Every front end reaches the same `Session` operations.

pub mod cli;
pub mod cni;
pub mod containers;
pub mod crash;
pub mod dhcp;
pub mod driver;
pub mod error;
pub mod guest;
pub mod hop;
pub mod lock;
pub mod marker;
pub mod net;
pub mod parse;
pub mod ping;
pub mod privilege;
pub mod script;
pub mod session;
pub mod timeline;
pub mod view;
pub mod watch;

pub use error::{Error, Result};
pub use session::Session;
