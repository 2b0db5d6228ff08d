//! What the commands that need more than a few lines do, by group (the binary's own
//! modules; `main.rs` reads the command line and dispatches).

pub mod db;
pub mod plugin;
pub mod server;
