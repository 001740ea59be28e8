//! Makes sure uPlot (from npm, never committed) is in `node_modules` before the assets are
//! embedded: a fresh clone runs `npm ci` here once.
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=package-lock.json");
    println!("cargo:rerun-if-changed=assets");
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let crate_dir = Path::new(&manifest_dir);
    if crate_dir
        .join("node_modules/uplot/dist/uPlot.iife.min.js")
        .exists()
    {
        return;
    }
    let installed = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(crate_dir)
        .status();
    match installed {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`npm ci` in {} failed ({status}); the dashboard embeds uPlot from npm",
            crate_dir.display()
        ),
        Err(e) => panic!(
            "running npm in {}: {e}; install Node.js and npm to build the dashboard",
            crate_dir.display()
        ),
    }
}
