//! `shopdb`: the command line and the server in one binary.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use shopdb::app;
use shopdb::backup;
use shopdb::cli::{
    Command, ConfigCommand, DbCommand, ImportCommand, Parsed, PluginCommand, TokenCommand,
    UserCommand,
};
use shopdb::progress::Progress;
use shopdb_core::auth::tokens::create_token;
use shopdb_core::auth::{Actor, Role};
use shopdb_core::config::{Config, unknown_variables};
use shopdb_core::core_schema::core_chain;
use shopdb_core::migrate;
use shopdb_core::users::{create_user, ensure_first_admin};

/// The allocator: mimalloc instead of the system's. With glibc's, every thread that
/// allocates (the runtime's workers, one thread per SQLite connection) gets an arena of its
/// own and freed memory stays in them; under 16 collectors at once the JSON of their
/// batches made allocation a bottleneck and left the process larger than what it used
/// (docs/PERFORMANCE.md, "Allocator"). Transparent huge pages are off for it (`no_thp`):
/// they would round the server's memory up in 2 MiB steps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Logs to stderr at `SHOPDB_LOG`'s level. A command other than `serve` reports its own
/// failure in one line, so the server's "request failed" log of the same error is left out,
/// and so are sqlx's slow-statement warnings (unless at debug level).
fn init_logging(serving: bool) {
    use tracing_subscriber::prelude::*;
    let level = match std::env::var("SHOPDB_LOG").unwrap_or_default().as_str() {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        _ => tracing::Level::INFO,
    };
    // sqlx's "slow statement" warning is for the server; a backup reads whole tables on purpose.
    let filter = tracing_subscriber::filter::filter_fn(move |meta| {
        // The request span is kept at every level: a failure logged inside it names the
        // request's id (`request{id=…}`), whatever SHOPDB_LOG says.
        (meta.is_span() && meta.name() == "request")
            || (meta.level() <= &level
                && (serving
                    || level == tracing::Level::DEBUG
                    || (meta.target() != "shopdb_core::error" && meta.target() != "sqlx::query")))
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_filter(filter),
        )
        .init();
}

/// Reads the configuration; production refuses to go on with any problem.
fn load_config() -> anyhow::Result<Config> {
    let (config, problems) = Config::from_env();
    for name in unknown_variables() {
        tracing::warn!("unknown variable {name} is ignored (a typo?)");
    }
    if problems.is_empty() {
        return Ok(config);
    }
    if config.is_production() {
        bail!("refusing to start in production: {}", problems.join("; "));
    }
    // A misspelt SHOPDB_ENV must not quietly give a development server, and an unusable
    // DATABASE_URL cannot work in any mode.
    if problems
        .iter()
        .any(|p| p.starts_with("SHOPDB_ENV") || p.starts_with("DATABASE_URL"))
    {
        bail!("{}", problems.join("; "));
    }
    for p in &problems {
        tracing::warn!("configuration: {p}");
    }
    Ok(config)
}

fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    // A bad command line, --help and completions end here, before any database is opened.
    let parsed = shopdb::cli::parse();
    if let Parsed::Core(Command::Completions { shell }) = parsed {
        // A reader that stops early (`| head`) is not an error.
        let _ = std::io::stdout().write_all(&shopdb::cli::completions(shell));
        return ExitCode::SUCCESS;
    }
    init_logging(matches!(parsed, Parsed::Core(Command::Serve { .. })));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shopdb: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match parsed {
        Parsed::Core(command) => runtime.block_on(run(command)),
        Parsed::Plugin {
            plugin,
            command,
            args,
        } => runtime.block_on(plugin_cli_command(&plugin, &command, args)),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            let message = shopdb_core::db::one_line(&format!("{e:#}"));
            eprintln!("shopdb: {}", shopdb_core::db::redact_urls(&message));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { bind, strict } => serve(&bind, strict).await,
        Command::Plugin { command } => plugin_command(command).await,
        Command::Completions { .. } => unreachable!("answered before the runtime starts"),
        Command::ReindexSearch => {
            let app = app::start(load_config()?).await?;
            let progress = Progress::new("reindex-search", None);
            let total = app::reindex_search(&app.state, &progress).await?;
            progress.finish();
            println!("search index rebuilt: {total} entries");
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { file } => {
            let db = app::open_database(&load_config()?).await?;
            let progress = Progress::new("backup", None);
            let done = backup::backup(&db, &app::registry(), &file, &progress).await?;
            progress.finish();
            println!(
                "backup written to {}: {} tables, {} rows",
                file.display(),
                done.tables,
                done.rows
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file } => {
            let db = app::open_database(&load_config()?).await?;
            let progress = Progress::new("restore", None);
            let done = backup::restore(&db, &app::registry(), &file, &progress).await?;
            progress.finish();
            println!(
                "restored {} into {}: {} tables, {} rows",
                file.display(),
                db.display_url(),
                done.tables,
                done.rows
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            let (config, problems) = Config::from_env();
            for p in &problems {
                println!("{p}");
            }
            for name in unknown_variables() {
                println!("note: {name} is not a ShopDB variable and is ignored (a typo?)");
            }
            if problems.is_empty() {
                println!(
                    "configuration OK ({} mode, database {})",
                    if config.is_production() {
                        "production"
                    } else {
                        "development"
                    },
                    shopdb_core::db::redact_url(&config.database_url)
                );
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Healthcheck { url } => healthcheck(&url),
        Command::Routes => {
            let config = load_config()?;
            let app = app::start(config).await?;
            let mut out = std::io::stdout().lock();
            for r in &app.state.routes {
                let access = match r.access {
                    shopdb_core::api::Access::Public => "public".to_string(),
                    shopdb_core::api::Access::Role(role) => role.to_string(),
                    shopdb_core::api::Access::Collector(role) => format!("collector/{role}"),
                };
                // A reader that stops early (`shopdb routes | head`) is not an error.
                if writeln!(
                    out,
                    "{:<7} {:<40} {:<7} {}",
                    r.method.as_str(),
                    r.path,
                    access,
                    r.summary
                )
                .is_err()
                {
                    break;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Db { command } => {
            let config = load_config()?;
            let db = app::open_database(&config).await?;
            match command {
                DbCommand::Upgrade => {
                    let mut ran = app::upgrade(&db).await?;
                    let registry = app::registry();
                    let mut failed = false;
                    for (name, outcome) in
                        shopdb_core::plugin::lifecycle::upgrade_all(&db, &registry).await?
                    {
                        match outcome {
                            Ok(migrated) => {
                                print_waiting(&name, &migrated.waiting);
                                ran.extend(migrated.ran)
                            }
                            Err(e) => {
                                failed = true;
                                eprintln!("{name}: {e}");
                            }
                        }
                    }
                    if ran.is_empty() && !failed {
                        println!("database is up to date");
                    }
                    for (chain, v, name) in ran {
                        println!("applied {chain} {v} {name}");
                    }
                    if failed {
                        return Ok(ExitCode::FAILURE);
                    }
                }
                DbCommand::Status => {
                    let mut chains = vec![core_chain()];
                    let mut models = Vec::new();
                    let core = migrate::status(&db, &chains[0]).await?;
                    if core.current_version() > 0 {
                        let installed = shopdb_core::plugin::lifecycle::installed(&db).await?;
                        let registry = app::registry();
                        for p in registry
                            .loaded
                            .iter()
                            .filter(|p| installed.contains_key(&p.manifest.name))
                        {
                            chains.push(shopdb_core::plugin::lifecycle::chain_of(p));
                            models.push((p.manifest.name.clone(), p.tables.clone()));
                        }
                        for (name, tables) in folder_models(&db, &config).await? {
                            chains.push(migrate::Chain {
                                name: name.clone(),
                                migrations: Vec::new(),
                            });
                            models.push((name, tables));
                        }
                    }
                    let mut changed = false;
                    for chain in &chains {
                        let status = migrate::status(&db, chain).await?;
                        // A plugin without hand-written migrations shows its model chain only.
                        if !chain.migrations.is_empty() || !status.applied.is_empty() {
                            print_status(&status);
                        }
                        changed |= !status.changed.is_empty();
                        if let Some((plugin, tables)) =
                            models.iter().find(|(n, _)| *n == chain.name)
                        {
                            let status = shopdb_core::evolve::status(&db, plugin, tables).await?;
                            print_status(&status);
                            changed |= status.refused.is_some();
                        }
                    }
                    if changed {
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::User {
            command:
                UserCommand::Create {
                    name,
                    role,
                    password_stdin,
                },
        } => {
            let config = load_config()?;
            let db = app::open_database(&config).await?;
            app::upgrade(&db).await?;
            let role = Role::parse(&role).context("unknown role")?;
            let (password, generated) = if password_stdin {
                let mut input = String::new();
                std::io::stdin()
                    .read_to_string(&mut input)
                    .context("cannot read the password from stdin")?;
                (input.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (shopdb_core::util::random_token(15), true)
            };
            create_user(&db, &Actor::system("command line"), &name, role, &password).await?;
            println!(
                "created user {} ({role})",
                shopdb_core::users::normalize_username(&name)
            );
            if generated {
                println!("password: {password}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            command: TokenCommand::Create { name, plugin, role },
        } => {
            if name.trim().is_empty() {
                bail!("--name must not be empty");
            }
            let config = load_config()?;
            let db = app::open_database(&config).await?;
            app::upgrade(&db).await?;
            if let Some(p) = &plugin {
                // The bundled plugins, and the folder plugins installed or in the folder.
                let mut known: Vec<String> = shopdb::plugins::bundled()
                    .into_iter()
                    .filter_map(|c| c.ok())
                    .map(|c| c.manifest().name.clone())
                    .collect();
                use shopdb_core::plugin::folder;
                known.extend(
                    folder::store::stored(&db)
                        .await?
                        .into_iter()
                        .map(|(n, _)| n),
                );
                known.extend(folder::scan(&config.plugin_dir).into_iter().map(|(n, _)| n));
                if !known.contains(p) {
                    bail!("no plugin named '{p}': use one of {}", known.join(", "));
                }
            }
            let role = Role::parse(&role).context("unknown role")?;
            let token = create_token(
                &db,
                &Actor::system("command line"),
                name.trim(),
                role,
                plugin.as_deref(),
            )
            .await?;
            println!("{}", token.secret);
            eprintln!(
                "token {} created; copy it now, it is not shown again",
                token.tokenid
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            command: Some(ImportCommand::Undo { batch }),
            ..
        } => {
            let app = app::start(load_config()?).await?;
            shopdb::transfer::undo(&app.state, &batch).await
        }
        Command::Import {
            command: None,
            resource,
            file,
            key,
            dry_run,
            create_missing,
            all_or_nothing,
            mapping,
        } => {
            let (Some(resource), Some(file), Some(key)) = (resource, file, key) else {
                bail!("shopdb import needs RESOURCE FILE --key FIELD (or: import undo BATCH)");
            };
            let app = app::start(load_config()?).await?;
            let args = shopdb::transfer::ImportArgs {
                resource,
                file,
                mapping,
                options: shopdb_core::transfer::ImportOptions {
                    key,
                    dry_run,
                    create_missing,
                    all_or_nothing,
                    mapping: None,
                },
            };
            shopdb::transfer::import(&app.state, args).await
        }
        Command::Export {
            resource,
            format,
            filters,
            output,
        } => {
            let app = app::start(load_config()?).await?;
            shopdb::transfer::export(&app.state, &resource, &format, &filters, output.as_deref())
                .await
        }
        Command::DemoData { assets } => {
            let app = app::start(load_config()?).await?;
            let progress = Progress::new("demo-data", Some(assets as u64));
            shopdb::demo::seed_with_progress(&app.state, assets, &progress).await?;
            progress.finish();
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn plugin_command(command: PluginCommand) -> anyhow::Result<ExitCode> {
    use shopdb_core::plugin::{edit, lifecycle};
    let plugin_dir = || Config::from_env().0.plugin_dir;
    match &command {
        PluginCommand::New {
            name,
            description,
            overwrite,
            rust: false,
            ..
        } => {
            let dir = shopdb::folders::scaffold(&plugin_dir(), name, description, *overwrite)?;
            println!("created folder plugin {name} in {}", dir.display());
            println!("next steps:");
            println!(
                "  1. edit {}: replace the example fields with the fields a {name} record needs",
                dir.join("model.toml").display()
            );
            println!("  2. shopdb plugin check {name}");
            println!(
                "  3. shopdb plugin install {name}      (live on running servers within seconds)"
            );
            println!("  4. shopdb plugin list                ({name} 0.1.0 [Enabled])");
            return Ok(ExitCode::SUCCESS);
        }
        PluginCommand::Check { target } => {
            let ok = shopdb::folders::check_command(&plugin_dir(), target)?;
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        PluginCommand::Pack { target, output } => {
            let file = shopdb::folders::pack_command(&plugin_dir(), target, output.clone())?;
            println!("packed {target} into {}", file.display());
            println!(
                "install it on another site with: shopdb plugin install {}",
                file.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    if let PluginCommand::New {
        name,
        description,
        overwrite,
        dir,
        ..
    } = command
    {
        let checkout = shopdb::scaffold::find_checkout(&std::env::current_dir()?)?;
        let done = shopdb::scaffold::scaffold(&checkout, &name, &description, dir, overwrite)?;
        println!("created plugin {name} in {}", done.dir.display());
        println!("next steps:");
        println!(
            "  1. edit {}/src/lib.rs: replace examplefield with the fields a {name} record needs",
            done.dir.display()
        );
        if done.registered {
            println!(
                "  2. cargo test -p {name}            (the contract check passes as generated)"
            );
            println!("  3. cargo run -- plugin install {name}");
            println!("  4. cargo run -- plugin list         ({name} 0.1.0 [Enabled])");
        } else {
            println!(
                "  2. cargo test --manifest-path {}/Cargo.toml",
                done.dir.display()
            );
            println!(
                "  3. to bundle it into shopdb: put it under plugins/{name}, add `{name} = {{ path = \"../../plugins/{name}\" }}` to crates/shopdb/Cargo.toml and `{name}::plugin(),` to crates/shopdb/src/plugins.rs"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = load_config()?;
    // A packed file is checked and unpacked into the plugin folder, then installed by name.
    let command = match command {
        PluginCommand::Install { name } if Path::new(&name).is_file() => {
            let unpacked = shopdb::folders::unpack_file(&config.plugin_dir, Path::new(&name))?;
            println!(
                "unpacked {name} into {}",
                config.plugin_dir.join(&unpacked).display()
            );
            PluginCommand::Install { name: unpacked }
        }
        other => other,
    };
    let app = app::start_without_plugin_migrations(config).await?;
    let (db, registry) = (&app.state.db, &app.state.registry);
    match command {
        PluginCommand::List => {
            for p in lifecycle::list(db, registry).await? {
                let state = p.state.title();
                match &p.reason {
                    Some(reason) => println!("{} {} [{state}] {reason}", p.name, p.version),
                    None => println!("{} {} [{state}]", p.name, p.version),
                }
            }
        }
        PluginCommand::Install { name } => {
            let ran = lifecycle::install(db, registry, &cli_actor(), &name).await?;
            for (chain, v, n) in ran {
                println!("applied {chain} {v} {n}");
            }
            println!("installed {name} [Enabled]");
            if registry
                .get(&name)
                .is_some_and(|p| p.plugin.folder().is_some())
            {
                println!("running servers load {name} within a few seconds");
            }
        }
        PluginCommand::Uninstall { name, keep_data } => {
            let done = lifecycle::uninstall(
                db,
                registry,
                &cli_actor(),
                &name,
                keep_data,
                &shopdb_core::services::plugins::backup_dir(),
            )
            .await?;
            match done.backup {
                Some(file) => println!(
                    "uninstalled {name}; {} rows backed up to {}",
                    done.rows,
                    file.display()
                ),
                None => println!("uninstalled {name}; its tables and rows were kept"),
            }
        }
        PluginCommand::Enable { name } => {
            lifecycle::set_enabled(db, registry, &cli_actor(), &name, true).await?;
            println!("{name} [Enabled]");
        }
        PluginCommand::Disable { name } => {
            lifecycle::set_enabled(db, registry, &cli_actor(), &name, false).await?;
            println!("{name} [Disabled]");
        }
        PluginCommand::Migrate { name, plan: true } => {
            let edited = shopdb::folders::edited(&app.state.config.plugin_dir, registry, &name)?;
            print_plan(db, registry, &name, edited.as_ref()).await?
        }
        PluginCommand::Migrate { name, plan: false } => {
            let mode = shopdb_core::evolve::Mode::Explicit {
                backup_dir: shopdb_core::services::plugins::backup_dir(),
            };
            let edited = shopdb::folders::edited(&app.state.config.plugin_dir, registry, &name)?;
            // A folder whose files differ from the stored copy (a template edited, say) is
            // stored even when its tables need no step.
            let files_changed = edited.as_ref().is_some_and(|e| {
                registry
                    .get(&name)
                    .and_then(|p| p.plugin.folder())
                    .is_none_or(|served| served.sources() != e.sources())
            });
            let migrated = match &edited {
                Some(edited) => edit::migrate(db, registry, edited, &mode).await?,
                None => lifecycle::migrate_plugin(db, registry, &name, &mode).await?,
            };
            if migrated.ran.is_empty() && files_changed {
                println!("{name}: the tables need no change; stored the edited files");
            } else if migrated.ran.is_empty() {
                println!("{name} is up to date");
            }
            for file in &migrated.backups {
                println!("backed up to {}", file.display());
            }
            for (chain, v, n) in migrated.ran {
                println!("applied {chain} {v} {n}");
            }
        }
        PluginCommand::New { .. } | PluginCommand::Check { .. } | PluginCommand::Pack { .. } => {
            unreachable!("handled above")
        }
        PluginCommand::Restore { file } => {
            let done =
                shopdb_core::plugin::restore::restore_plugin(db, registry, &cli_actor(), &file)
                    .await?;
            let how = if done.installed {
                " (installed it first)"
            } else {
                ""
            };
            println!("restored {} rows of {}{how}", done.rows, done.plugin);
        }
        PluginCommand::UpgradeAll => {
            let mut failed = false;
            for (name, outcome) in lifecycle::upgrade_all(db, registry).await? {
                match outcome {
                    Ok(m) if m.ran.is_empty() && m.waiting.is_empty() => {
                        println!("{name}: up to date")
                    }
                    Ok(m) => {
                        if !m.ran.is_empty() {
                            println!(
                                "{name}: applied {}",
                                m.ran
                                    .iter()
                                    .map(|(c, v, n)| format!("{c} {v} {n}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            );
                        }
                        print_waiting(&name, &m.waiting);
                    }
                    Err(e) => {
                        failed = true;
                        println!("{name}: FAILED {e}");
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Who the audit trail names for changes made with the command line.
fn cli_actor() -> shopdb_core::auth::Actor {
    shopdb_core::auth::Actor::system("command line")
}

/// `shopdb <plugin> <command> [args]`: runs a command a plugin contributes, with the
/// arguments clap has already checked.
async fn plugin_cli_command(
    plugin: &str,
    name: &str,
    args: clap::ArgMatches,
) -> anyhow::Result<ExitCode> {
    let app = app::start(load_config()?).await?;
    let Some(loaded) = app.state.registry.get(plugin) else {
        let reason = app
            .state
            .registry
            .quarantined(plugin)
            .map(|q| q.error.to_string())
            .unwrap_or_else(|| "it is not loaded".into());
        bail!("plugin {plugin} cannot run commands: {reason}");
    };
    // Its tables exist once it is installed; a disabled plugin's data can still be read.
    if !shopdb_core::plugin::lifecycle::installed(&app.state.db)
        .await?
        .contains_key(plugin)
    {
        bail!(
            "plugin {plugin} is not installed: install it first (shopdb plugin install {plugin})"
        );
    }
    let command = loaded
        .plugin
        .cli_commands()
        .into_iter()
        .find(|c| c.name() == name)
        .with_context(|| format!("plugin {plugin} has no command '{name}'"))?;
    let ctx = shopdb_core::plugin::lifecycle::context(&app.state.db, &app.state.registry, loaded);
    let output = (command.run)(ctx, args).await?;
    print!("{output}");
    Ok(ExitCode::SUCCESS)
}

/// The installed folder plugins' models for `db status`: the one in the plugin folder when
/// it passes the check (what `plugin migrate` would apply), else the stored one.
async fn folder_models(
    db: &shopdb_core::db::Db,
    config: &Config,
) -> anyhow::Result<Vec<(String, Vec<shopdb_core::schema::Table>)>> {
    use shopdb_core::plugin::Plugin;
    use shopdb_core::plugin::folder::{FolderPlugin, store};
    let mut out = Vec::new();
    for (name, sources) in store::stored(db).await? {
        let edited = FolderPlugin::load(&config.plugin_dir.join(&name)).ok();
        if let Some(p) = edited.or_else(|| FolderPlugin::from_sources(&name, sources).ok()) {
            out.push((name, p.models()));
        }
    }
    Ok(out)
}

/// `shopdb plugin migrate NAME --plan`: the steps, numbered as they would be recorded; for a
/// folder plugin, to the model its folder holds (`edited`).
async fn print_plan(
    db: &shopdb_core::db::Db,
    registry: &shopdb_core::plugin::Registry,
    name: &str,
    edited: Option<&shopdb_core::plugin::folder::FolderPlugin>,
) -> anyhow::Result<()> {
    let (pending, plan) = match edited {
        Some(edited) => (
            Vec::new(),
            shopdb_core::plugin::edit::plan(db, registry, edited).await?,
        ),
        None => shopdb_core::plugin::lifecycle::plan_plugin(db, registry, name).await?,
    };
    if pending.is_empty() && plan.steps.is_empty() {
        println!("{name} is up to date");
        return Ok(());
    }
    for (v, n) in &pending {
        println!("{name} {v} {n}");
    }
    let chain = shopdb_core::evolve::model_chain(name);
    let next = migrate::applied(db, &chain)
        .await?
        .iter()
        .map(|a| a.version)
        .max()
        .unwrap_or(0);
    for (v, step) in (next + 1..).zip(&plan.steps) {
        let when = if step.is_lossless() {
            ""
        } else {
            "  (only by `shopdb plugin migrate`)"
        };
        println!("{chain} {v} {}{when}", step.describe());
    }
    Ok(())
}

/// Declared renames and drops an upgrade left for `shopdb plugin migrate NAME`.
fn print_waiting(name: &str, waiting: &[String]) {
    if !waiting.is_empty() {
        println!(
            "{name}: {} declared step(s) wait for `shopdb plugin migrate {name}`: {}",
            waiting.len(),
            waiting.join(", ")
        );
    }
}

fn print_status(status: &migrate::ChainStatus) {
    println!(
        "chain {}: version {}",
        status.chain,
        status.current_version()
    );
    for a in &status.applied {
        let flag = if status.changed.iter().any(|(v, _)| *v == a.version) {
            "  CHANGED since applied (not re-run)"
        } else {
            ""
        };
        println!(
            "  applied  {:>3} {:<24} {}{flag}",
            a.version, a.name, a.appliedat
        );
    }
    for (v, n) in &status.pending {
        println!("  pending  {v:>3} {n}");
    }
    for (v, n) in &status.unknown {
        println!("  unknown  {v:>3} {n} (recorded in the database, not known to this build)");
    }
    if let Some(reason) = &status.refused {
        println!("  refused  {reason}");
    }
}

async fn serve(bind: &str, strict: bool) -> anyhow::Result<ExitCode> {
    let config = load_config()?;
    let addr: SocketAddr = bind
        .parse()
        .with_context(|| format!("--bind {bind} is not an address like 127.0.0.1:5001"))?;
    let app = app::start(config).await?;
    let problems = app.state.registry.problems();
    if strict && !problems.is_empty() {
        bail!("--strict: quarantined plugins: {}", problems.join("; "));
    }
    for p in &problems {
        tracing::warn!("plugin quarantined: {p}");
    }
    if let Some(password) = ensure_first_admin(&app.state.db).await? {
        // Written to stdout only (never the log); a closed stdout must not stop the server.
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "No users yet: created user 'admin' with password: {password}"
        );
        let _ = writeln!(out, "This password is shown once. Log in and keep it safe.");
        let _ = out.flush();
    }
    // Planner statistics for SQLite, kept current while the server runs.
    tokio::spawn(app.state.db.clone().keep_statistics());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(
        "ShopDB listening on http://{addr} (database {})",
        app.state.db.display_url()
    );
    axum::serve(listener, app.router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    app.state.db.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

/// A minimal HTTP/1.1 GET of `<url>/api/health`, enough for a container health check.
fn healthcheck(url: &str) -> anyhow::Result<ExitCode> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must start with http://")?;
    let host = rest.split('/').next().unwrap_or(rest);
    let addr = host
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .with_context(|| format!("cannot resolve {host}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .with_context(|| format!("no server at {url}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET /api/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split_whitespace().nth(1).unwrap_or("none");
    if status == "200" {
        println!("healthy");
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("{url} answered status {status}: unhealthy")
    }
}
