//! Admin routes: users, API tokens and the audit log.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::parse_id;
use crate::audit::{self, AuditQuery};
use crate::auth::tokens::{create_token, list_tokens, revoke_token};
use crate::auth::{Actor, Role};
use crate::envelope::{ApiResult, created, ok, page};
use crate::error::DomainError;
use crate::http::{JsonBody, ListParams};
use crate::services::users::{change_user, self_change_problem};
use crate::state::AppState;
use crate::users::{CreateUserError, UserChange, create_user, list_users};

/// Fields the user list sorts by.
pub const USER_SORTS: &[&str] = &["username", "displayname", "role", "isactive", "createddate"];
/// Fields the token list sorts by.
pub const TOKEN_SORTS: &[&str] = &[
    "tokenid",
    "name",
    "role",
    "plugin",
    "createddate",
    "lastused",
];

/// GET /api/users — a list like any other: page, per_page, sort, q (username or name).
pub async fn users(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let params = ListParams::parse(q.as_deref())?;
    small_list(
        list_users(&state.db).await?,
        &params,
        "username",
        USER_SORTS,
        &["username", "displayname"],
    )
}

/// One page of a short list held whole in memory (users, tokens), sorted by one of `sorts`
/// (ties by the default) and narrowed by `q` on `searched`; field filters are refused.
fn small_list(
    mut rows: Vec<Value>,
    params: &ListParams,
    default_sort: &str,
    sorts: &[&str],
    searched: &[&str],
) -> ApiResult<Response> {
    if let Some((name, _)) = params.filters.first() {
        return Err(DomainError::bad_request(format!(
            "unknown parameter '{name}': use page, per_page, sort or q"
        ))
        .into());
    }
    let sort = params.sort.as_deref().unwrap_or(default_sort);
    let (field, desc) = match sort.strip_prefix('-') {
        Some(f) => (f, true),
        None => (sort, false),
    };
    if !sorts.contains(&field) {
        return Err(DomainError::bad_request(format!(
            "cannot sort by '{field}': use one of {} (prefix - for descending)",
            sorts.join(", ")
        ))
        .into());
    }
    if let Some(q) = &params.q {
        let q = q.to_lowercase();
        rows.retain(|r| {
            searched.iter().any(|f| {
                r[*f]
                    .as_str()
                    .is_some_and(|v| v.to_lowercase().contains(&q))
            })
        });
    }
    // Numbers as numbers, text without regard to case, nulls first.
    let compare = |a: &Value, b: &Value| match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => std::cmp::Ordering::Less,
        (_, Value::Null) => std::cmp::Ordering::Greater,
        (x, y) => x.to_string().cmp(&y.to_string()),
    };
    rows.sort_by(|a, b| {
        let order =
            compare(&a[field], &b[field]).then_with(|| compare(&a[default_sort], &b[default_sort]));
        if desc { order.reverse() } else { order }
    });
    let total = rows.len() as i64;
    let data: Vec<Value> = rows
        .into_iter()
        .skip(params.offset() as usize)
        .take(params.per_page as usize)
        .collect();
    Ok(page(data, params.page, params.per_page, total))
}

fn text_field(body: &Map<String, Value>, name: &str, errors: &mut Map<String, Value>) -> String {
    match body.get(name) {
        Some(Value::String(s)) if s.contains('\0') => {
            errors.insert(name.into(), json!("must not contain a NUL character"));
            String::new()
        }
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None => {
            errors.insert(name.into(), json!("is required"));
            String::new()
        }
        Some(_) => {
            errors.insert(name.into(), json!("must be text"));
            String::new()
        }
    }
}

fn role_field(body: &Map<String, Value>, errors: &mut Map<String, Value>) -> Role {
    let raw = text_field(body, "role", errors);
    Role::parse(&raw).unwrap_or_else(|| {
        if !raw.is_empty() {
            errors.insert("role".into(), json!("must be viewer, editor or admin"));
        }
        Role::Viewer
    })
}

fn reject_unknown(body: &Map<String, Value>, allowed: &[&str], errors: &mut Map<String, Value>) {
    for key in body.keys().filter(|k| !allowed.contains(&k.as_str())) {
        errors.insert(key.clone(), json!("unknown field"));
    }
}

/// POST /api/users {"username", "role", "password"}
pub async fn create_user_route(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let mut errors = Map::new();
    reject_unknown(&body, &["username", "role", "password"], &mut errors);
    let username = text_field(&body, "username", &mut errors);
    if username != username.trim() {
        errors.insert(
            "username".into(),
            json!("must not start or end with white space"),
        );
    }
    let password = text_field(&body, "password", &mut errors);
    let role = role_field(&body, &mut errors);
    if !errors.is_empty() {
        return Err(DomainError::validation(errors).into());
    }
    let id = create_user(&state.db, &actor, &username, role, &password)
        .await
        .map_err(|e| match e {
            CreateUserError::BadName(m) => DomainError::field("username", m),
            CreateUserError::BadPassword(m) => DomainError::field("password", m),
            CreateUserError::Exists(_) => DomainError::field("username", "is already taken"),
            CreateUserError::Database(e) => e.into(),
            CreateUserError::Other(e) => e.into(),
        })?;
    Ok(created(
        json!({"userid": id, "username": crate::users::normalize_username(&username), "role": role}),
    ))
}

/// PUT /api/users/{id} {"displayname"?, "role"?, "isactive"?, "password"?}
pub async fn update_user_route(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let mut errors = Map::new();
    reject_unknown(
        &body,
        &["displayname", "role", "isactive", "password"],
        &mut errors,
    );
    let mut change = UserChange::default();
    match body.get("displayname") {
        None => {}
        Some(Value::Null) => change.displayname = Some(None),
        Some(Value::String(s)) if s.chars().count() <= 200 => {
            change.displayname = Some(Some(s.trim().to_string()).filter(|s| !s.is_empty()))
        }
        Some(_) => {
            errors.insert(
                "displayname".into(),
                json!("must be text of at most 200 characters"),
            );
        }
    }
    if body.contains_key("role") {
        change.role = Some(role_field(&body, &mut errors));
    }
    match body.get("isactive") {
        None => {}
        Some(Value::Bool(b)) => change.isactive = Some(*b),
        Some(_) => {
            errors.insert("isactive".into(), json!("must be true or false"));
        }
    }
    if body.contains_key("password") {
        change.password = Some(text_field(&body, "password", &mut errors));
    }
    if let Some((field, problem)) = self_change_problem(&actor, id, &change) {
        errors.insert(field.into(), json!(problem));
    }
    if !errors.is_empty() {
        return Err(DomainError::validation(errors).into());
    }
    change_user(&state, &actor, id, change).await?;
    Ok(ok(json!({"userid": id, "updated": true})))
}

/// GET /api/tokens — a list like any other: page, per_page, sort, q (name or plugin).
pub async fn tokens(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let params = ListParams::parse(q.as_deref())?;
    small_list(
        list_tokens(&state.db).await?,
        &params,
        "tokenid",
        TOKEN_SORTS,
        &["name", "plugin"],
    )
}

/// POST /api/tokens {"name", "role"?, "plugin"?} — the secret is in this answer only.
pub async fn create_token_route(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let mut errors = Map::new();
    reject_unknown(&body, &["name", "role", "plugin"], &mut errors);
    let name = text_field(&body, "name", &mut errors);
    let role = if body.contains_key("role") {
        role_field(&body, &mut errors)
    } else {
        Role::Viewer
    };
    let plugin = match body.get("plugin") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if state.registry.get(p).is_some() => Some(p.clone()),
        Some(Value::String(p)) => {
            let known: Vec<&str> = state
                .registry
                .loaded
                .iter()
                .map(|l| l.manifest.name.as_str())
                .collect();
            errors.insert(
                "plugin".into(),
                json!(format!(
                    "no plugin named '{p}': use one of {}",
                    known.join(", ")
                )),
            );
            None
        }
        Some(_) => {
            errors.insert("plugin".into(), json!("must be a plugin name"));
            None
        }
    };
    if name.chars().count() > 100 {
        errors.insert("name".into(), json!("must be at most 100 characters"));
    }
    if !errors.is_empty() {
        return Err(DomainError::validation(errors).into());
    }
    let token = create_token(&state.db, &actor, name.trim(), role, plugin.as_deref()).await?;
    Ok(created(json!({
        "tokenid": token.tokenid,
        "name": name.trim(),
        "role": role,
        "plugin": plugin,
        "token": token.secret,
        "note": "copy this token now: it is not shown again",
    })))
}

pub async fn revoke_token_route(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let revoked = revoke_token(&state.db, &actor, id).await?;
    state.verified.clear();
    if !revoked {
        return Err(DomainError::not_found(format!("no live API token with id {id}")).into());
    }
    Ok(ok(json!({"revoked": id})))
}

/// GET /api/audit?entitytype=&entityid=&actorname=&action=
pub async fn audit_log(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = ListParams::parse(q.as_deref())?;
    params.fixed_order("the audit log")?;
    let mut filter = AuditQuery::default();
    for (k, v) in &params.filters {
        match k.as_str() {
            "entitytype" => filter.entitytype = Some(v.clone()),
            "entityid" => filter.entityid = Some(parse_id(v)?),
            "actorname" => filter.actorname = Some(v.clone()),
            "action" if ["created", "updated", "deleted"].contains(&v.as_str()) => {
                filter.action = Some(v.clone())
            }
            "action" => {
                return Err(DomainError::bad_request(format!(
                    "action must be created, updated or deleted, not '{v}'"
                ))
                .into());
            }
            other => {
                return Err(DomainError::bad_request(format!(
                    "unknown parameter '{other}': filter by entitytype, entityid, actorname or action"
                )).into());
            }
        }
    }
    let (entries, total) =
        audit::list(&state.db, &filter, params.per_page, params.offset()).await?;
    Ok(page(entries, params.page, params.per_page, total))
}
