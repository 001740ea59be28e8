//! Builds the web SDK from `sdk/web` (TypeScript, esbuild and tsc from npm, never committed) and
//! puts its script-tag bundle in OUT_DIR for the binary to serve.
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let sdk = Path::new(&manifest_dir).join("../../sdk/web");
    for input in ["src", "build.mjs", "package-lock.json", "tsconfig.json"] {
        println!("cargo:rerun-if-changed={}", sdk.join(input).display());
    }
    if !sdk.join("node_modules/.bin/esbuild").exists() {
        run(
            &sdk,
            "npm",
            &["ci", "--no-audit", "--no-fund", "--loglevel=error"],
        );
    }
    run(&sdk, "node", &["build.mjs"]);
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy(sdk.join("dist/openqoe.js"), out.join("openqoe.js"))
        .expect("the SDK build writes dist/openqoe.js");
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    match Command::new(program).args(args).current_dir(dir).status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`{program} {}` in {} failed ({status})",
            args.join(" "),
            dir.display()
        ),
        Err(e) => panic!(
            "running {program} in {}: {e}; the SDK needs Node.js and npm to build",
            dir.display()
        ),
    }
}
