//! `openqoe rca --csv FILE --time-col C --numerator N --denominator D [--at T]`: root-cause
//! localisation on an operator's own data. Every other column is a dimension; rows before `T`
//! are the baseline, rows at `T` (default: the last time in the file) the window to explain.
use anyhow::Context;
use clap::Args;
use openqoe_rca::table::{split_at, TimedRow};
use openqoe_rca::{localise, Input, Row};

/// `openqoe rca`
#[derive(Args)]
pub struct RcaArgs {
    /// The CSV file (a header line, then one row per time and leaf).
    #[arg(long)]
    csv: String,
    /// The column holding the time (numbers, or text that sorts in time order such as RFC 3339).
    #[arg(long)]
    time_col: String,
    /// The column holding the ratio's numerator (e.g. failed views).
    #[arg(long)]
    numerator: String,
    /// The column holding the ratio's denominator (e.g. attempts).
    #[arg(long)]
    denominator: String,
    /// The time to explain; default the last time in the file.
    #[arg(long)]
    at: Option<String>,
    /// Elements with less denominator than this at `T` are not named as causes.
    #[arg(long, default_value_t = 25.0)]
    min_support: f64,
}

/// Reads the file, localises the excess at `T`, prints `{"causes": [...], ...}`.
pub fn run(args: RcaArgs) -> anyhow::Result<()> {
    let mut reader =
        csv::Reader::from_path(&args.csv).with_context(|| format!("reading {}", args.csv))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let column = |name: &str| {
        header.iter().position(|h| h == name).with_context(|| {
            format!(
                "no column {name:?} in {} (columns: {})",
                args.csv,
                header.join(", ")
            )
        })
    };
    let (time, numerator, denominator) = (
        column(&args.time_col)?,
        column(&args.numerator)?,
        column(&args.denominator)?,
    );
    let dimensions: Vec<usize> = (0..header.len())
        .filter(|i| ![time, numerator, denominator].contains(i))
        .collect();
    let mut rows: Vec<TimedRow> = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: row {}", args.csv, line + 2))?;
        let number = |i: usize| -> anyhow::Result<f64> {
            let text = record.get(i).unwrap_or("").trim();
            text.parse().with_context(|| {
                format!(
                    "{}: row {}, column {:?}: {text:?} is not a number",
                    args.csv,
                    line + 2,
                    header[i]
                )
            })
        };
        rows.push(TimedRow {
            time: record.get(time).unwrap_or("").trim().to_owned(),
            row: Row {
                leaf: dimensions
                    .iter()
                    .map(|&i| record.get(i).unwrap_or("").to_owned())
                    .collect(),
                numerator: number(numerator)?,
                denominator: number(denominator)?,
            },
        });
    }
    let (baseline, current) =
        split_at(rows, args.at.as_deref()).with_context(|| args.csv.clone())?;
    let input = Input {
        dimensions: dimensions.iter().map(|&i| header[i].clone()).collect(),
        baseline,
        current,
        min_support: args.min_support,
    };
    let metric = format!("{}/{}", args.numerator, args.denominator);
    println!(
        "{}",
        serde_json::to_string_pretty(&localise(&input, &metric))?
    );
    Ok(())
}
