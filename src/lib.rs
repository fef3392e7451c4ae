//! The Facilitator application: configuration, the engine that feeds the domain, the executor
//! that performs its effects, the scheduler and runtime loops, the console and the demo.
//!
//! See `ARCHITECTURE.md` for the picture.

pub mod adapters;
pub mod baking;
pub mod budget;
pub mod clock;
pub mod config;
pub mod console;
pub mod credentials;
pub mod demo;
pub mod directory;
pub mod engine;
pub mod executor;
pub mod figures;
pub mod lock;
pub mod openbadges;
pub mod ops;
pub mod render;
pub mod report;
pub mod runtime;
pub mod snapshot;
pub mod web;
