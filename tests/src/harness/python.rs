//! The test virtualenv (`scripts/test.sh` creates it): the official SDKs, PyNaCl and
//! `cryptography` for independent encryption checks, and LiteLLM's migration files.

use std::path::PathBuf;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The virtualenv's python: `HAIMAKER_TEST_VENV/bin/python`, default `<repo>/.venv-test`.
pub fn venv_python() -> PathBuf {
    let venv = std::env::var("HAIMAKER_TEST_VENV")
        .map_or_else(|_| repo_root().join(".venv-test"), PathBuf::from);
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: create the test virtualenv with `scripts/test.sh` (or `python3 -m venv .venv-test && .venv-test/bin/pip install -r tests/python/requirements.txt`)",
        python.display()
    );
    python
}

/// Runs `code` with the virtualenv's python; returns stdout (panics with stderr on failure).
pub fn run(code: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(venv_python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// LiteLLM's migration directories, in the order `prisma migrate deploy` applies them.
pub fn litellm_migrations() -> Vec<PathBuf> {
    let dir = std::env::var("HAIMAKER_LITELLM_MIGRATIONS").map_or_else(
        |_| {
            PathBuf::from(run(
                "import litellm_proxy_extras, os; print(os.path.join(os.path.dirname(litellm_proxy_extras.__file__), 'migrations'))",
                &[],
            ))
        },
        PathBuf::from,
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read LiteLLM's migrations at {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("migration.sql").exists())
        .collect();
    dirs.sort();
    dirs
}
