//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferry::contract::ImportBody;

pub mod full_dump;
pub mod spec;

/// The `ferry` binary built for these tests.
pub fn ferry() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.env_remove("FERRY_LOG")
        .env_remove("FERRY_CLIENT_SECRET");
    cmd
}

/// Runs `ferry` with `args` in `dir`, returning its output.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    match ferry().current_dir(dir).args(args).output() {
        Ok(output) => output,
        Err(e) => panic!("cannot run ferry: {e}"),
    }
}

/// The repository's `samples/` directory.
pub fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// Standard output and error of a run, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The user records of a body, sorted by id, for comparisons.
pub fn sorted(mut body: ImportBody) -> ImportBody {
    body.pools.clear();
    body.users.sort_by_key(|r| r.id);
    body.user_credentials.sort_by_key(|r| r.id);
    body.user_identifiers.sort_by_key(|r| r.id);
    body.user_verifiable_addresses.sort_by_key(|r| r.id);
    body
}

/// Sets the process umask to 022, the usual default, under which a file
/// created without an explicit mode is readable by everyone. Tests run one
/// process each (cargo-nextest), so this reaches only the calling test and
/// the `ferry` children it starts.
pub fn umask_022() {
    // SAFETY: umask only swaps the process's file-mode creation mask.
    unsafe {
        libc::umask(0o022);
    }
}

/// The permission bits of `path`.
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o777,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}
