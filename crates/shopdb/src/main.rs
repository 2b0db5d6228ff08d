//! `shopdb`: the command line and the server in one binary.

mod commands;

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use shopdb::app;
use shopdb::backup;
use shopdb::cli::{Command, ConfigCommand, ImportCommand, Parsed, TokenCommand, UserCommand};
use shopdb::progress::Progress;
use shopdb_core::auth::tokens::create_token;
use shopdb_core::auth::{Actor, Role};
use shopdb_core::config::{Config, unknown_variables};
use shopdb_core::users::create_user;

/// The allocator: mimalloc instead of the system's. With glibc's, every thread that
/// allocates (the runtime's workers, one thread per SQLite connection) gets an arena of its
/// own and freed memory stays in them; under 16 collectors at once the JSON of their
/// batches made allocation a bottleneck and left the process larger than what it used
/// (docs/PERFORMANCE.md, item 11). Transparent huge pages are off for it (`no_thp`):
/// they would round the server's memory up in 2 MiB steps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A server returns memory it has freed to the system at once: mimalloc's default is to keep
/// it for a second in case it is needed again, and under bursts of collector batches and
/// searches those seconds added up to a fifth more resident memory (docs/PERFORMANCE.md,
/// item 11). mimalloc reads its settings from the environment when the process starts,
/// so `serve` starts itself again (same process id, same arguments) with
/// `MIMALLOC_PURGE_DELAY=0`, unless the environment already sets it.
fn return_memory_at_once() {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        // Only returns when the new image could not be started; the defaults then stay.
        let _ = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("MIMALLOC_PURGE_DELAY", "0")
            .exec();
    }
}

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
pub(crate) fn load_config() -> anyhow::Result<Config> {
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
    let serving = matches!(parsed, Parsed::Core(Command::Serve { .. }));
    if serving {
        return_memory_at_once();
    }
    init_logging(serving);
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
        } => runtime.block_on(commands::plugin::plugin_cli_command(
            &plugin, &command, args,
        )),
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
        Command::Serve { bind, strict } => commands::server::serve(&bind, strict).await,
        Command::Plugin { command } => commands::plugin::plugin_command(command).await,
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
        Command::Healthcheck { url } => commands::server::healthcheck(&url),
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
        Command::Db { command } => commands::db::db_command(command).await,
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

/// Who the audit trail names for changes made with the command line.
pub(crate) fn cli_actor() -> shopdb_core::auth::Actor {
    shopdb_core::auth::Actor::system("command line")
}
