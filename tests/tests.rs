//! All integration tests, compiled into one test binary.

mod server;
