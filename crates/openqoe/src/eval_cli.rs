//! `openqoe eval …`: accuracy harnesses with known answers. `eval rca` scores root-cause
//! localisation on semi-synthetic Squeeze-style cases, or with `--real DIR` on real incidents
//! that operators labelled (docs/rca.md); `eval alerts` runs the detector over a simulated week
//! with injected incidents (docs/alerts.md).
use std::path::Path;

use anyhow::Context;
use clap::Subcommand;

/// `openqoe eval …`
#[derive(Subcommand)]
pub enum EvalCommand {
    /// Root cause on generated cases (1–3 injected elements of layers 1–3, binomial noise), or
    /// on labelled real incidents with `--real DIR`.
    Rca {
        /// A directory of labelled incidents (`labels.yaml` and `cases/<data>.csv`, the layout of
        /// the RS data set): prints exact top-1, top-3, lenient top-1 and each case's answer.
        #[arg(long)]
        real: Option<String>,
        /// How many cases.
        #[arg(long, default_value_t = 200)]
        cases: u64,
        /// Seed of the series (the same seed gives the same cases).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// `derived` (a ratio: failed / attempts) or `additive` (a count against its forecast).
        #[arg(long, default_value = "derived", value_parser = ["derived", "additive"])]
        measure: String,
        /// Forecast error: σ of the log-normal factor every leaf's rate wanders by (0, 0.1, 0.2…).
        #[arg(long, default_value_t = 0.0)]
        noise: f64,
    },
    /// Detection and root cause over a simulated week with daily seasonality and incidents.
    Alerts {
        /// Simulated days.
        #[arg(long, default_value_t = 7.0)]
        days: f64,
        /// Viewers at the evening peak.
        #[arg(long, default_value_t = 6_000)]
        viewers: usize,
        /// Injected incidents.
        #[arg(long, default_value_t = 24)]
        incidents: usize,
        /// Seed of population and incidents.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// Runs the harness and prints its figures as JSON.
pub fn run(command: EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Rca {
            real: Some(dir), ..
        } => {
            let result = openqoe_rca::labelled::evaluate(&labelled_incidents(Path::new(&dir))?);
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        EvalCommand::Rca {
            real: None,
            cases,
            seed,
            measure,
            noise,
        } => {
            use openqoe_rca::synthetic::{evaluate, Measure};
            let measure = if measure == "additive" {
                Measure::Additive
            } else {
                Measure::Derived
            };
            let result = evaluate(seed, cases, measure, noise.max(0.0));
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        EvalCommand::Alerts {
            days,
            viewers,
            incidents,
            seed,
        } => crate::eval_alerts::run(crate::eval_alerts::AlertEval {
            days,
            viewers,
            incidents,
            seed,
        }),
    }
}

/// Reads `DIR/labels.yaml` and every case it names from `DIR/cases/`.
fn labelled_incidents(dir: &Path) -> anyhow::Result<Vec<openqoe_rca::labelled::Incident>> {
    use openqoe_rca::labelled::{parse_case, parse_labels};
    let path = dir.join("labels.yaml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let labels = parse_labels(&text).map_err(anyhow::Error::msg)?;
    labels
        .iter()
        .map(|label| {
            let path = dir.join("cases").join(format!("{}.csv", label.data));
            let csv = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            // The server's and `openqoe rca`'s floor: 25 viewers in the minute.
            parse_case(label, &csv, 25.0).map_err(anyhow::Error::msg)
        })
        .collect()
}
