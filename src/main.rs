//! The `lastmile` binary: parse the command line, start logging and tracing, run the command.

use clap::Parser;

use lastmile::app::{self, Application};
use lastmile::config::{Cli, Command};
use lastmile::metrics::Metrics;
use lastmile::{demo, graphql, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Err(message) = cli.settings.validate() {
        eprintln!("lastmile: configuration error: {message}");
        std::process::exit(2);
    }
    let telemetry = telemetry::init(&cli.settings)?;
    let result = run(cli).await;
    telemetry.shutdown().await;
    result
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Schema => print!("{}", graphql::sdl()),
        Command::Migrate => {
            app::connect_and_migrate(&cli.settings, Metrics::default()).await?;
            tracing::info!("migrations applied");
        }
        Command::Serve { demo: with_demo } => {
            let application = Application::build(cli.settings).await?;
            if with_demo {
                demo::load_if_empty(application.state()).await?;
            }
            let address = application.local_addr()?;
            tracing::info!(%address, "serving GraphQL at /graphql");
            if application.state().settings.dashboard_enabled() {
                tracing::info!("the dashboard is at http://{address}/");
            }
            application.run_until_stopped().await?;
        }
    }
    Ok(())
}
