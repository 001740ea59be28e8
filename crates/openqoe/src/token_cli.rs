//! `openqoe token new`: a fresh API token, shown once, and the `[[access.tokens]]` entry that
//! makes a server accept it (its hash; the token itself is never stored).
use clap::{Args, Subcommand};
use openqoe_access::token::Secret;
use openqoe_access::Role;

/// API tokens for the query API and dashboard.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Prints a new token and the openqoe.toml entry for it.
    New(NewArgs),
}

/// `openqoe token new`.
#[derive(Args)]
pub struct NewArgs {
    /// Who or what holds it (`grafana`, `alice`), shown in audit lines.
    #[arg(long)]
    name: String,
    /// `read` (queries, exports, dashboard) or `admin` (also steering changes and tokens).
    #[arg(long, value_parser = parse_role)]
    role: Role,
}

fn parse_role(text: &str) -> Result<Role, String> {
    match text {
        "read" => Ok(Role::Read),
        "admin" => Ok(Role::Admin),
        other => Err(format!("{other:?}: expected read or admin")),
    }
}

/// Runs `openqoe token …`.
pub fn run(command: TokenCommand) {
    let TokenCommand::New(NewArgs { name, role }) = command;
    let secret = Secret::generate();
    let hash: String = secret.hash().into();
    println!("token (shown once; give it to {name}): {}", secret.expose());
    println!();
    println!("# openqoe.toml");
    println!("[[access.tokens]]");
    println!("name = {}", toml_string(&name));
    println!("role = \"{role}\"");
    println!("sha256 = \"{hash}\"");
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}
