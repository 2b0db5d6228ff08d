//! Who is looking at a page. Only the type lives here, so the page context (`render`) can
//! name it without depending on how a login is read (`session`).

use shopdb_core::auth::Actor;

/// A logged-in user and the CSRF token their forms must carry.
#[derive(Clone, Debug)]
pub struct PageUser {
    pub actor: Actor,
    pub csrf: String,
}
