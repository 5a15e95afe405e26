//! Integration tests: the full tower stack against a real PostgreSQL.
//!
//! `DATABASE_URL` (a scratch database) when set, otherwise a throwaway cluster
//! started from the local PostgreSQL binaries. Never skipped.

#![allow(unreachable_pub, missing_docs)]

mod aggregates;
mod attacks;
mod auth;
mod batch;
mod bounds;
mod bulk_patch;
mod clients;
mod connections;
mod cors;
mod demo;
mod distinct;
mod embed;
mod embed_disambiguation;
mod embed_load;
mod error_styles;
mod errors;
mod explain;
mod faults;
mod fuzz;
mod grammar;
mod hostile;
mod media_handlers;
mod nested_insert;
mod one_road;
mod operations;
mod page;
mod parity;
mod pre_request;
mod profiles;
mod promises;
mod read;
mod round_trips;
mod rpc;
mod rules;
mod safety;
mod schema;
mod secrets;
mod session;
mod shapes;
mod soak;
mod spec_parity;
mod streaming;
mod support;
mod write;
mod write_load;
