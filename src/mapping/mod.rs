//! Mapping: turns one source row into the four record sets of the contract.

pub mod ids;
