//! Black-box tests of the reference target server (`ferry serve`): each test
//! starts it in-process on an ephemeral loopback port with a database in a
//! temporary directory and talks to it over HTTP with reqwest.

mod collections;
mod deletes;
mod errors;
mod export;
mod faults;
mod import;
mod kill;
mod restart;
mod router;
mod salts;
mod support;
mod system;
