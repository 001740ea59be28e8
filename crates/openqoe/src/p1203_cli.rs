//! `openqoe p1203 [FILE|-]`: scores a lab session in the P.1203 reference layout (`IGen`, `I11`,
//! `I13`, `I23`) and prints `{"O23", "O35", "O46", "O21": [...], "O22": [...], "O34": [...]}`.
use anyhow::Context;
use clap::Args;
use openqoe_p1203::{evaluate, parse_reference_json, Scores};

/// `openqoe p1203`
#[derive(Args)]
pub struct P1203Args {
    /// The session file; `-` (the default) reads standard input.
    #[arg(default_value = "-")]
    input: String,
}

/// Scores the session and prints the outputs as JSON.
pub fn run(args: P1203Args) -> anyhow::Result<()> {
    let text = if args.input == "-" {
        crate::stdin::read_all()?
    } else {
        std::fs::read_to_string(&args.input).with_context(|| format!("reading {}", args.input))?
    };
    let session = parse_reference_json(&text)?;
    let scores = Scores::from(evaluate(&session)?);
    println!("{}", serde_json::to_string(&scores)?);
    Ok(())
}
