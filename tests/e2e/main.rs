#![recursion_limit = "256"]
//! End-to-end tests of the application: the binary spawned as users run it, and the engine
//! driven through the console on a real SQLite database.

mod bad_input;
mod binary;
mod conformance;
mod discord;
mod harness;
mod instances;
mod lifecycle;
mod matrix;
mod review;
mod trust;
mod web;
