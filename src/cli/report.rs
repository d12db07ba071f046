//! `report`: the editors' report from the store (what readers ask, what the articles do not
//! cover, what readers found not useful).
use ama::store::Store;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The store to read: `postgres://…` (shared by replicas). Default: the data folder's
    /// SQLite file.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// The data folder whose `ama.sqlite` is read when no --database-url is given.
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Rows per list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn report(args: ReportArgs) -> anyhow::Result<()> {
    let store = match &args.database_url {
        Some(url) => Store::open(url)?,
        None => {
            let file = args.data.join(ama::store::SQLITE_FILE);
            anyhow::ensure!(
                file.is_file(),
                "no store at {} (run `ama serve` first, or give --database-url)",
                file.display()
            );
            Store::sqlite_in(&args.data)?
        }
    };
    let report = store
        .report(args.limit.max(1))
        .context("reading the report from the store")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
