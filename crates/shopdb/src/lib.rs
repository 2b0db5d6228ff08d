//! The `shopdb` binary's pieces, as a library so tests boot the server exactly as `main` does.

pub mod app;
pub mod cli;
pub mod demo;
pub mod plugins;
pub mod scaffold;
pub mod transfer;
