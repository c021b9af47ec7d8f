//! The target contract: the Identity Pools bulk import API of
//! `shared/spec/identity-pool-import-api.md`, as Rust types and rules.
//!
//! Both sides of ferry speak through this module: the importer builds these
//! records and serialises them into request bodies, the reference server
//! (`ferry serve`) parses, validates and stores them. Keeping one definition
//! means the two can never drift apart.
//!
//! - [`api`]: the paths, the scopes and ferry's extension headers.
//! - [`records`]: the record sets and the request/response bodies.
//! - [`identity_schema`]: the dump's identity schemas, in the JSON Schema
//!   subset the platform supports.
//! - [`system`]: the bodies of the platform's system pool and user
//!   endpoints.
//! - [`dump`]: reading a `TenantDump` as a stream, record by record.
//! - [`entry`]: a user with its sub-records, compared timestamps aside.
//! - [`line`]: the canonical export line (`ferry export`, `--from ferry`).
//! - [`rules`]: field rules both sides enforce (email, E.164, limits).
//! - [`strict`]: reading bodies with records as JSON objects only.
//! - [`choices`]: the open points of the contract and what ferry assumes,
//!   in one place so they can be changed when a real tenant shows otherwise.

pub mod api;
pub mod choices;
pub mod dump;
pub mod entry;
pub mod identity_schema;
pub mod line;
pub mod records;
pub mod rules;
pub mod strict;
pub mod system;

pub use records::*;
