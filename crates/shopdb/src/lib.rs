//! The `shopdb` binary's pieces, as a library so tests boot the server exactly as `main` does.

pub mod app;
pub mod backup;
pub mod catalog;
pub mod cli;
pub mod demo;
pub mod folders;
pub mod live;
pub mod plugins;
pub mod progress;
pub mod scaffold;
pub mod transfer;
