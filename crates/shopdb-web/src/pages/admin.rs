//! Admin pages: plugins (with confirmation), users and roles, API tokens (shown once),
//! plugin settings, and the audit log. Each uses the same core functions as its API route.

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value, json};
use shopdb_core::audit::{self, AuditQuery};
use shopdb_core::auth::Role;
use shopdb_core::plugin::SettingKind;
use shopdb_core::plugin::lifecycle::{self, LifecycleAction};

use crate::Web;
use crate::form::FormData;
use crate::render::{error_page, failure_page, page_context};
use crate::session::PageUser;

async fn admin(web: &Web, user: &PageUser) -> Result<(), Response> {
    user.require(web, Role::Admin).await
}

/// An admin's form post with a valid CSRF token, decoded; else the page saying why not.
async fn admin_form(web: &Web, user: &PageUser, body: &[u8]) -> Result<FormData, Response> {
    admin(web, user).await?;
    let form = FormData::parse(body);
    user.check_form(web, &form).await?;
    Ok(form)
}

/// GET /admin/plugins
pub async fn plugins(
    State(web): State<Web>,
    user: PageUser,
    OriginalUri(uri): OriginalUri,
) -> Response {
    if let Err(page) = admin(&web, &user).await {
        return page;
    }
    let list = match lifecycle::list(&web.app.db, &web.app.registry).await {
        Ok(l) => l,
        Err(e) => {
            return error_page(
                &web,
                Some(&user),
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            )
            .await;
        }
    };
    let rows: Vec<Value> = list
        .iter()
        .map(|p| {
            let actions = LifecycleAction::open_to(p.state);
            let description = web.app.registry.get(&p.name).map(|l| l.manifest.description.clone());
            json!({"name": p.name, "version": p.version, "state": p.state, "reason": p.reason, "actions": actions, "description": description})
        })
        .collect();
    let done = FormData::parse(uri.query().unwrap_or_default().as_bytes());
    let mut ctx = page_context(&web, Some(&user), "Plugins").await;
    ctx.insert("plugins".into(), json!(rows));
    ctx.insert("done".into(), json!(done.get("done")));
    web.templates
        .render("admin/plugins.html", &Value::Object(ctx))
}

fn describe_action(name: &str, action: LifecycleAction) -> String {
    match action {
        LifecycleAction::Install => {
            format!("Install the {name} plugin? Its tables are created and it is enabled at once.")
        }
        LifecycleAction::Enable => format!(
            "Enable the {name} plugin? Its pages, routes, widgets and search results come back."
        ),
        LifecycleAction::Disable => format!(
            "Disable the {name} plugin? Its pages and routes stop answering and its navigation, widgets and search results are hidden; its data is kept."
        ),
        LifecycleAction::Uninstall => format!(
            "Uninstall the {name} plugin? A JSON backup of its rows is written first, then its tables and settings are removed. Assets stay."
        ),
    }
}

/// GET /admin/plugins/{name}/{action} — the confirmation.
pub async fn confirm_plugin_action(
    State(web): State<Web>,
    user: PageUser,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    if let Err(page) = admin(&web, &user).await {
        return page;
    }
    let Ok(action) = action.parse::<LifecycleAction>() else {
        return error_page(
            &web,
            Some(&user),
            StatusCode::NOT_FOUND,
            "There is no such action.",
        )
        .await;
    };
    let mut ctx = page_context(&web, Some(&user), &format!("{action} {name}")).await;
    ctx.insert("question".into(), json!(describe_action(&name, action)));
    ctx.insert(
        "action".into(),
        json!(format!("/admin/plugins/{name}/{action}")),
    );
    ctx.insert("cancel".into(), json!("/admin/plugins"));
    ctx.insert(
        "button".into(),
        json!(format!(
            "{}{}",
            action.as_str()[..1].to_uppercase(),
            &action.as_str()[1..]
        )),
    );
    web.templates.render("confirm.html", &Value::Object(ctx))
}

/// POST /admin/plugins/{name}/{action}
pub async fn plugin_action(
    State(web): State<Web>,
    user: PageUser,
    Path((name, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(page) = admin_form(&web, &user, &body).await {
        return page;
    }
    let action = match action.parse::<LifecycleAction>() {
        Ok(action) => action,
        Err(message) => {
            return error_page(&web, Some(&user), StatusCode::NOT_FOUND, &message).await;
        }
    };
    match shopdb_core::services::plugins::perform(&web.app, &user.actor, &name, action, false).await
    {
        Ok(done) => {
            let mut message = format!(
                "{name}: {}",
                done["state"].as_str().unwrap_or(action.as_str())
            );
            if let Some(backup) = done["backup"].as_str() {
                message.push_str(&format!(
                    " — backup of {} rows written to {backup}",
                    done["rows"]
                ));
            }
            let q: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
            Redirect::to(&format!("/admin/plugins?done={q}")).into_response()
        }
        Err(e) => failure_page(&web, Some(&user), &e).await,
    }
}

/// GET /admin/users
pub async fn users(State(web): State<Web>, user: PageUser) -> Response {
    render_users(&web, &user, None, Map::new()).await
}

async fn render_users(
    web: &Web,
    user: &PageUser,
    message: Option<String>,
    errors: Map<String, Value>,
) -> Response {
    if let Err(page) = admin(web, user).await {
        return page;
    }
    let list = shopdb_core::users::list_users(&web.app.db)
        .await
        .unwrap_or_default();
    let mut ctx = page_context(web, Some(user), "Users").await;
    ctx.insert("users".into(), json!(list));
    ctx.insert("current_userid".into(), json!(user.actor.id));
    ctx.insert("message".into(), json!(message));
    ctx.insert("errors".into(), Value::Object(errors));
    web.templates
        .render("admin/users.html", &Value::Object(ctx))
}

/// The role a users form names, or the users page saying which roles there are.
async fn form_role(web: &Web, user: &PageUser, form: &FormData) -> Result<Role, Response> {
    match Role::parse(form.get("role").unwrap_or_default()) {
        Some(role) => Ok(role),
        None => {
            let mut errors = Map::new();
            errors.insert("role".into(), json!("choose viewer, editor or admin"));
            Err(render_users(web, user, None, errors).await)
        }
    }
}

/// POST /admin/users — a new user with a role.
pub async fn create_user(
    State(web): State<Web>,
    user: PageUser,
    body: axum::body::Bytes,
) -> Response {
    let form = match admin_form(&web, &user, &body).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    let role = match form_role(&web, &user, &form).await {
        Ok(role) => role,
        Err(page) => return page,
    };
    let username = form.get("username").unwrap_or_default();
    match shopdb_core::users::create_user(
        &web.app.db,
        &user.actor,
        username,
        role,
        form.get("password").unwrap_or_default(),
    )
    .await
    {
        Ok(_) => {
            render_users(
                &web,
                &user,
                Some(format!("User {username} created as {role}.")),
                Map::new(),
            )
            .await
        }
        Err(e) => {
            let field = match e {
                shopdb_core::users::CreateUserError::BadPassword(_) => "password",
                _ => "username",
            };
            let mut errors = Map::new();
            errors.insert(field.into(), json!(e.to_string()));
            render_users(&web, &user, None, errors).await
        }
    }
}

/// POST /admin/users/{id} — a user's role, active flag and (when filled in) a new password,
/// through the same checks as `PUT /api/users/{id}`.
pub async fn update_user(
    State(web): State<Web>,
    user: PageUser,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    let form = match admin_form(&web, &user, &body).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    let role = match form_role(&web, &user, &form).await {
        Ok(role) => role,
        Err(page) => return page,
    };
    let password = form.get("password").unwrap_or_default();
    let change = shopdb_core::users::UserChange {
        role: Some(role),
        isactive: Some(form.get("isactive") == Some("true")),
        password: (!password.is_empty()).then(|| password.to_string()),
        ..Default::default()
    };
    let fail = |field: &str, message: String| {
        let mut errors = Map::new();
        errors.insert(field.into(), json!(message));
        errors.insert("userid".into(), json!(id));
        errors
    };
    if let Some((field, problem)) =
        shopdb_core::services::users::self_change_problem(&user.actor, id, &change)
    {
        return render_users(&web, &user, None, fail(field, problem.into())).await;
    }
    let name = form.get("username").unwrap_or("the user").to_string();
    match shopdb_core::services::users::change_user(&web.app, &user.actor, id, change).await {
        Ok(()) => {
            let message = format!(
                "Saved {name}: {role}, {}.",
                if form.get("isactive") == Some("true") {
                    "active"
                } else {
                    "deactivated (cannot log in)"
                }
            );
            render_users(&web, &user, Some(message), Map::new()).await
        }
        Err(e) if e.kind == shopdb_core::error::ErrorKind::Invalid => {
            // A field error (the new password): shown next to that user's row.
            let (field, message) = e
                .details
                .as_object()
                .and_then(|d| d.iter().next())
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or(&e.message).to_string()))
                .unwrap_or_else(|| ("role".into(), e.message.clone()));
            render_users(&web, &user, None, fail(&field, message)).await
        }
        Err(e) => failure_page(&web, Some(&user), &e).await,
    }
}

/// GET /admin/tokens
pub async fn tokens(State(web): State<Web>, user: PageUser) -> Response {
    render_tokens(&web, &user, None, None).await
}

async fn render_tokens(
    web: &Web,
    user: &PageUser,
    new_token: Option<Value>,
    error: Option<String>,
) -> Response {
    if let Err(page) = admin(web, user).await {
        return page;
    }
    let list = shopdb_core::auth::tokens::list_tokens(&web.app.db)
        .await
        .unwrap_or_default();
    let plugins: Vec<String> = web
        .app
        .registry
        .loaded
        .iter()
        .map(|p| p.manifest.name.clone())
        .collect();
    let mut ctx = page_context(web, Some(user), "API tokens").await;
    ctx.insert("tokens".into(), json!(list));
    ctx.insert("new_token".into(), json!(new_token));
    ctx.insert("error".into(), json!(error));
    ctx.insert("plugins".into(), json!(plugins));
    web.templates
        .render("admin/tokens.html", &Value::Object(ctx))
}

/// POST /admin/tokens — the secret is shown on the answer page only.
pub async fn create_token(
    State(web): State<Web>,
    user: PageUser,
    body: axum::body::Bytes,
) -> Response {
    let form = match admin_form(&web, &user, &body).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    let name = form.get("name").unwrap_or_default().trim();
    let role = Role::parse(form.get("role").unwrap_or("viewer")).unwrap_or(Role::Viewer);
    let plugin = form.get("plugin").filter(|p| !p.is_empty());
    if name.is_empty() || name.chars().count() > 100 {
        return render_tokens(&web, &user, None, Some("Give the token a name (at most 100 characters), e.g. the script or PC that uses it.".into())).await;
    }
    match shopdb_core::auth::tokens::create_token(&web.app.db, &user.actor, name, role, plugin)
        .await
    {
        Ok(t) => {
            render_tokens(
                &web,
                &user,
                Some(json!({"name": name, "secret": t.secret})),
                None,
            )
            .await
        }
        Err(e) => {
            error_page(
                &web,
                Some(&user),
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the token could not be stored: {e}"),
            )
            .await
        }
    }
}

/// POST /admin/tokens/{id}/revoke
pub async fn revoke_token(
    State(web): State<Web>,
    user: PageUser,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(page) = admin_form(&web, &user, &body).await {
        return page;
    }
    if let Err(e) = shopdb_core::auth::tokens::revoke_token(&web.app.db, &user.actor, id).await {
        return error_page(
            &web,
            Some(&user),
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the token could not be revoked: {e}"),
        )
        .await;
    }
    web.app.verified.clear();
    Redirect::to("/admin/tokens").into_response()
}

/// GET /admin/settings — every plugin's settings as typed fields.
pub async fn settings(State(web): State<Web>, user: PageUser) -> Response {
    render_settings(&web, &user, None, None).await
}

async fn render_settings(
    web: &Web,
    user: &PageUser,
    message: Option<String>,
    error: Option<(String, String)>,
) -> Response {
    if let Err(page) = admin(web, user).await {
        return page;
    }
    let mut list = shopdb_core::services::plugins::setting_list(&web.app)
        .await
        .unwrap_or_default();
    for s in &mut list {
        if s["secret"] == json!(true) {
            // A secret is never put back into the page; the field stays empty.
            s["value"] = json!("");
        }
        let id = format!(
            "{}.{}",
            s["plugin"].as_str().unwrap_or_default(),
            s["key"].as_str().unwrap_or_default()
        );
        s["error"] = json!(
            error
                .as_ref()
                .filter(|(k, _)| *k == id)
                .map(|(_, m)| m.clone())
        );
    }
    let mut ctx = page_context(web, Some(user), "Settings").await;
    ctx.insert("settings".into(), json!(list));
    ctx.insert("message".into(), json!(message));
    web.templates
        .render("admin/settings.html", &Value::Object(ctx))
}

/// POST /admin/settings — one setting, checked against its declared type.
pub async fn save_setting(
    State(web): State<Web>,
    user: PageUser,
    body: axum::body::Bytes,
) -> Response {
    let form = match admin_form(&web, &user, &body).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    let (plugin, key) = (
        form.get("plugin").unwrap_or_default(),
        form.get("key").unwrap_or_default(),
    );
    let Some(def) = web
        .app
        .registry
        .get(plugin)
        .and_then(|p| p.settings.iter().find(|d| d.key == key))
    else {
        return error_page(
            &web,
            Some(&user),
            StatusCode::NOT_FOUND,
            "There is no such setting.",
        )
        .await;
    };
    let id = format!("{plugin}.{key}");
    let raw = form.get("value").unwrap_or_default().trim();
    if raw.is_empty() && shopdb_core::settings::is_secret(key) {
        let message = format!("{key}: type the new value; the stored one is kept otherwise");
        return render_settings(&web, &user, None, Some((id, message))).await;
    }
    let value = match def.kind {
        SettingKind::Integer => raw.parse::<i64>().map(Value::from).unwrap_or(json!(raw)),
        SettingKind::Boolean => json!(raw == "true" || raw == "on"),
        SettingKind::Text => json!(raw),
    };
    match shopdb_core::services::plugins::save_setting(&web.app, &user.actor, plugin, key, value)
        .await
    {
        Ok(_) => render_settings(&web, &user, Some(format!("Saved {plugin} {key}.")), None).await,
        Err(e) if e.kind == shopdb_core::error::ErrorKind::Invalid => {
            let message = format!(
                "{key} {}",
                e.details["value"].as_str().unwrap_or(&e.message)
            );
            render_settings(&web, &user, None, Some((id, message))).await
        }
        Err(e) => failure_page(&web, Some(&user), &e).await,
    }
}

/// GET /admin/audit?entitytype=&actorname=&action=&page=
pub async fn audit(
    State(web): State<Web>,
    user: PageUser,
    OriginalUri(uri): OriginalUri,
) -> Response {
    if let Err(page) = admin(&web, &user).await {
        return page;
    }
    let form = FormData::parse(uri.query().unwrap_or_default().as_bytes());
    let text = |k: &str| {
        form.get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let filter = AuditQuery {
        entitytype: text("entitytype"),
        entityid: text("entityid").and_then(|v| v.parse().ok()),
        actorname: text("actorname"),
        action: text("action"),
    };
    let page: i64 = form
        .get("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let (entries, total) = audit::list(&web.app.db, &filter, 50, (page - 1) * 50)
        .await
        .unwrap_or_default();
    let mut ctx = page_context(&web, Some(&user), "Audit log").await;
    ctx.insert("entries".into(), json!(entries));
    ctx.insert("total".into(), json!(total));
    ctx.insert("page".into(), json!(page));
    ctx.insert("pages".into(), json!(((total + 49) / 50).max(1)));
    ctx.insert("filter".into(), json!({"entitytype": filter.entitytype, "entityid": filter.entityid, "actorname": filter.actorname, "action": filter.action}));
    web.templates
        .render("admin/audit.html", &Value::Object(ctx))
}
