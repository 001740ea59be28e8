//! `openqoe eval …`: accuracy harnesses with known answers. `eval rca` scores root-cause
//! localisation on semi-synthetic Squeeze-style cases (docs/rca.md).
use clap::Subcommand;

/// `openqoe eval …`
#[derive(Subcommand)]
pub enum EvalCommand {
    /// Root cause on generated cases: 1–3 injected elements of layers 1–3, binomial noise.
    Rca {
        /// How many cases.
        #[arg(long, default_value_t = 200)]
        cases: u64,
        /// Seed of the series (the same seed gives the same cases).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// Runs the harness and prints its figures as JSON.
pub fn run(command: EvalCommand) -> anyhow::Result<()> {
    let EvalCommand::Rca { cases, seed } = command;
    let result = openqoe_rca::synthetic::evaluate(seed, cases);
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}
