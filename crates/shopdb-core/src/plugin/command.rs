//! Commands a plugin adds to the command line (`shopdb <plugin> <name>`).

use futures_util::future::BoxFuture;

use super::context::PluginContext;

/// A command contributed under `shopdb <plugin> <name>`, declared with clap like the core's
/// commands: its name, help line and arguments are a [`clap::Command`], so `shopdb --help`
/// lists it, `shopdb <plugin> <name> --help` describes it and a bad argument is refused
/// before the database is opened.
pub struct CliCommand {
    /// Name, help line (`about`, required) and arguments.
    pub command: clap::Command,
    /// Runs with the parsed arguments; returns what to print.
    pub run: fn(PluginContext, clap::ArgMatches) -> BoxFuture<'static, anyhow::Result<String>>,
}

impl CliCommand {
    /// A command declared by `command` and carried out by `run`.
    pub fn new(
        command: clap::Command,
        run: fn(PluginContext, clap::ArgMatches) -> BoxFuture<'static, anyhow::Result<String>>,
    ) -> CliCommand {
        CliCommand { command, run }
    }

    /// The word after `shopdb <plugin>`.
    pub fn name(&self) -> &str {
        self.command.get_name()
    }

    /// Parses `args` (what follows `shopdb <plugin> <name>`) as the command line does and
    /// runs the command: for tests and for callers other than the binary.
    pub async fn call(&self, ctx: PluginContext, args: &[&str]) -> anyhow::Result<String> {
        let matches = self
            .command
            .clone()
            .no_binary_name(true)
            .try_get_matches_from(args)?;
        (self.run)(ctx, matches).await
    }
}

impl std::fmt::Debug for CliCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliCommand")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}
