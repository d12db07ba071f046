//! CLI commands of the language-model engine: `fetch-model`, `generate`, `bench llm`.
use clap::Args;

#[derive(Debug, Args)]
pub struct FetchModelArgs {}

#[derive(Debug, Args)]
pub struct GenerateArgs {}

#[derive(Debug, Args)]
pub struct BenchLlmArgs {}

pub fn fetch_model(_args: FetchModelArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}

pub fn generate(_args: GenerateArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}

pub fn bench_llm(_args: BenchLlmArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
