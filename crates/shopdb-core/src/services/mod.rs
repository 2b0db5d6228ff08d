//! What the JSON API and the web pages both do, without HTTP: each function takes the served
//! state and the acting user and answers data or an error. `api/` handlers turn requests into
//! calls of these and their answers into the envelope; `shopdb-web` page handlers turn them
//! into pages. Neither holds SQL of its own for these concerns.

pub mod locations;
pub mod plugins;
pub mod records;
pub mod users;
