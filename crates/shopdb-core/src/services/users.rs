//! User administration as the API and the admin page both do it.

use crate::auth::{Actor, Role};
use crate::error::DomainError;
use crate::state::AppState;
use crate::users::{CreateUserError, UserChange, update_user};

/// Why `actor` may not make `change` to user `id`, and the field at fault: an admin cannot
/// demote or deactivate themselves (so a site always keeps the admin who is making changes).
pub fn self_change_problem(
    actor: &Actor,
    id: i64,
    change: &UserChange,
) -> Option<(&'static str, &'static str)> {
    // An API token's id is not a user id.
    if actor.kind != "user" || actor.id != Some(id) {
        return None;
    }
    if change.isactive == Some(false) {
        Some((
            "isactive",
            "admins cannot deactivate themselves; ask another admin",
        ))
    } else if change.role.is_some_and(|r| r != Role::Admin) {
        Some(("role", "admins cannot demote themselves; ask another admin"))
    } else {
        None
    }
}

/// Applies a checked change to user `id` (audited) and drops cached credentials, so a new
/// role or a deactivation holds from the next request. For the API and the admin page.
pub async fn change_user(
    state: &AppState,
    actor: &Actor,
    id: i64,
    change: UserChange,
) -> Result<(), DomainError> {
    let result = update_user(&state.db, actor, id, change).await;
    state.verified.clear();
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(DomainError::not_found(format!("no user with id {id}"))),
        Err(CreateUserError::BadPassword(m)) => Err(DomainError::field("password", m)),
        Err(CreateUserError::Database(e)) => Err(e.into()),
        Err(e) => Err(DomainError::internal(e)),
    }
}
