//! The command line: the core's commands declared with clap, and the commands bundled
//! plugins contribute (`shopdb <plugin> <command>`), joined into one [`clap::Command`] so that
//! `shopdb --help`, completions and errors cover both. Parsing touches no database.

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use shopdb_core::plugin::Plugin;

pub const DEFAULT_BIND: &str = "127.0.0.1:5001";

#[derive(Debug, Parser)]
#[command(
    name = "shopdb",
    version,
    about = "Shop-floor asset database",
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (API and pages); applies pending migrations first.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "SHOPDB_BIND", default_value = DEFAULT_BIND)]
        bind: String,
        /// Refuse to start when any plugin is quarantined (for CI).
        #[arg(long)]
        strict: bool,
    },
    /// Plugins: list, install, enable, disable, uninstall, migrate.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Database schema.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// User accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API tokens for scripts and collectors.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Exit 0 when a running server answers healthy (for container health checks).
    Healthcheck {
        /// Where the server listens.
        #[arg(long, default_value = "http://127.0.0.1:5001")]
        url: String,
    },
    /// Print every HTTP route with who may call it.
    Routes,
    /// Add a demo plant and N assets that fill every installed plugin.
    ///
    /// A plant with four bays and their floor plans, and N assets that fill every installed
    /// plugin (PCs, machines, network, printers, USB loans, announcements). Running it again
    /// adds N more.
    DemoData {
        /// How many assets to add.
        #[arg(long, default_value_t = 200)]
        assets: usize,
    },
    /// Rebuild the search index from the records (core and installed plugins).
    ReindexSearch,
    /// Write the whole database to one archive while the server keeps running.
    ///
    /// Every table of the core and of the plugins (floor plans, plugin states and settings
    /// included) and the migration records, read in one consistent snapshot. The archive
    /// restores into any kind of database (`shopdb restore`). See docs/BACKUP.md.
    Backup {
        /// The archive to write (a zip file); it must not exist yet.
        file: std::path::PathBuf,
    },
    /// Load an archive written by `shopdb backup` into an empty database of any kind.
    Restore {
        /// The archive to read.
        file: std::path::PathBuf,
    },
    /// Import a CSV or .xlsx file into assets or a plugin's records (`import undo BATCH`).
    ///
    /// Each row is matched by --key: found rows are updated with the fields that differ, the
    /// others created. Rows with problems are reported and left out (all rows are, with
    /// --all-or-nothing). Prints each created, updated or refused row, the totals and the batch
    /// id that `shopdb import undo` takes. See docs/IMPORT-EXPORT.md.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Import {
        #[command(subcommand)]
        command: Option<ImportCommand>,
        /// `assets` or a plugin resource by its API path (`computers`, `network/subnets`).
        #[arg(required = true)]
        resource: Option<String>,
        /// The file: .csv (UTF-8 or Windows-1252; comma, semicolon or tab separated) or .xlsx.
        #[arg(required = true)]
        file: Option<std::path::PathBuf>,
        /// The field rows are matched by (assetnumber, hostname, serialnumber, ...).
        #[arg(long, required = true)]
        key: Option<String>,
        /// Say what each row would do, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Create locations, statuses, vendors ... named in the file that do not exist yet.
        #[arg(long)]
        create_missing: bool,
        /// Write nothing when any row has a problem.
        #[arg(long)]
        all_or_nothing: bool,
        /// A saved column mapping (JSON: {"columns": {"header": "field"}}).
        #[arg(long)]
        mapping: Option<std::path::PathBuf>,
    },
    /// Export a list as CSV or .xlsx (FIELD=VALUE filters as the list API takes them).
    Export {
        /// `assets` or a plugin resource by its API path (`computers`, `network/subnets`).
        resource: String,
        /// csv or xlsx.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Filters as the list API takes them: `statusid=2`, `locationid=3`, `q=lathe`, `sort=name`.
        filters: Vec<String>,
        /// Where to write (default: standard output).
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// Print a shell completion script.
    ///
    /// For example `shopdb completions bash > /etc/bash_completion.d/shopdb`, or
    /// `shopdb completions zsh > "${fpath[1]}/_shopdb"`.
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Take back an applied import batch, while no later change touched its records.
    Undo {
        /// The batch id the import printed.
        batch: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// One line per plugin: name, version, state (and why, when quarantined).
    List,
    /// Run the plugin's migrations and on_install; it starts enabled (on running servers too).
    Install {
        /// The plugin's name, as `shopdb plugin list` shows it, or a file `shopdb plugin pack`
        /// wrote (it is checked and unpacked into the plugin folder first).
        name: String,
    },
    /// Check a folder plugin: every problem with its file, line and key; exit 1 if any.
    Check {
        /// The plugin's name (a folder in SHOPDB_PLUGIN_DIR) or the path of its folder.
        target: String,
    },
    /// Pack a folder plugin into one file that another site installs.
    Pack {
        /// The plugin's name (a folder in SHOPDB_PLUGIN_DIR) or the path of its folder.
        target: String,
        /// Where to write it; default NAME-VERSION.zip here.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// Remove the plugin's tables (after writing a backup), migrations, settings and search entries.
    Uninstall {
        /// The plugin's name.
        name: String,
        /// Keep the plugin's tables and rows.
        #[arg(long)]
        keep_data: bool,
    },
    /// Turn an installed plugin on: its routes, pages, search entries and widgets return.
    Enable {
        /// The plugin's name.
        name: String,
    },
    /// Turn an installed plugin off; its tables and rows are kept.
    Disable {
        /// The plugin's name.
        name: String,
    },
    /// Run one installed plugin's pending migrations and the planned steps of its model
    /// edits, declared renames and drops included.
    Migrate {
        /// The plugin's name.
        name: String,
        /// Only list the steps; change nothing.
        #[arg(long)]
        plan: bool,
    },
    /// Run every installed plugin's pending migrations and lossless model steps (safe to
    /// repeat).
    UpgradeAll,
    /// Bring back a plugin's rows from the backup its uninstall wrote (installs it if needed).
    Restore {
        /// The backup file uninstall named (under data/backups/).
        file: std::path::PathBuf,
    },
    /// Generate a folder plugin in SHOPDB_PLUGIN_DIR that passes `plugin check` (or, with
    /// --rust, a plugin crate under plugins/NAME).
    New {
        /// Lowercase letters and digits, starting with a letter.
        name: String,
        /// One line saying what the plugin tracks (goes into its manifest).
        #[arg(long)]
        description: String,
        /// Replace an existing plugin of that name.
        #[arg(long)]
        overwrite: bool,
        /// Generate a Rust plugin crate (needs a ShopDB checkout and a rebuild).
        #[arg(long)]
        rust: bool,
        /// With --rust: generate a standalone crate in DIR instead (not added to the binary).
        #[arg(long, requires = "rust")]
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations (safe to run again).
    Upgrade,
    /// Show applied and pending migrations of every chain.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints a generated password unless --password-stdin is given.
    Create {
        /// Login name.
        name: String,
        /// What the user may do.
        #[arg(long, value_parser = ["admin", "editor", "viewer"])]
        role: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once.
    Create {
        /// Says what the token is for (shown in the admin pages and the audit log).
        #[arg(long)]
        name: String,
        /// Make it a collector token that may only post to this plugin's collector.
        #[arg(long)]
        plugin: Option<String>,
        /// What the token may do.
        #[arg(long, value_parser = ["admin", "editor", "viewer"], default_value = "viewer")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every problem with the configuration; exit 1 if there is any.
    Check,
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Parsed {
    /// One of the core's commands.
    Core(Command),
    /// `shopdb <plugin> <command> [args]`: a command a bundled plugin contributes.
    Plugin {
        plugin: String,
        command: String,
        args: ArgMatches,
    },
}

/// The whole command line: the core's commands and, after them, one command per bundled
/// plugin that contributes any, holding those as its subcommands. A plugin named like a core
/// command is left out (the core's command wins).
pub fn command() -> clap::Command {
    let mut cli = Cli::command();
    let mut plugins: Vec<_> = crate::plugins::bundled()
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    plugins.sort_by(|a, b| a.manifest().name.cmp(&b.manifest().name));
    for plugin in plugins {
        if let Some(sub) = plugin_command(plugin.as_ref())
            && cli.find_subcommand(sub.get_name()).is_none()
        {
            cli = cli.subcommand(sub);
        }
    }
    cli
}

/// `shopdb <plugin>`, with the plugin's commands under it; None when it has none.
fn plugin_command(plugin: &dyn Plugin) -> Option<clap::Command> {
    let commands = plugin.cli_commands();
    if commands.is_empty() {
        return None;
    }
    let manifest = plugin.manifest();
    Some(
        clap::Command::new(manifest.name.clone())
            .about(format!(
                "Plugin {}: {}",
                manifest.name, manifest.description
            ))
            .subcommand_required(true)
            .arg_required_else_help(true)
            .subcommands(commands.into_iter().map(|c| c.command)),
    )
}

/// Reads the command line; on a bad one (or `--help`, `--version`) prints what clap prints
/// and exits, before anything opens a database.
pub fn parse() -> Parsed {
    let matches = command().get_matches();
    from_matches(matches).unwrap_or_else(|e| e.exit())
}

fn from_matches(matches: ArgMatches) -> Result<Parsed, clap::Error> {
    if let Some((name, sub)) = matches.subcommand()
        && Cli::command().find_subcommand(name).is_none()
    {
        let (command, args) = sub
            .subcommand()
            .expect("plugin commands require a subcommand");
        return Ok(Parsed::Plugin {
            plugin: name.to_string(),
            command: command.to_string(),
            args: args.clone(),
        });
    }
    Ok(Parsed::Core(Cli::from_arg_matches(&matches)?.command))
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "shopdb", &mut script);
    script
}
