//! Standard input for the commands that take `-` in place of their input.
use std::io::Read;

use anyhow::Context;

/// All of standard input as text.
pub fn read_all() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading standard input")?;
    Ok(text)
}
