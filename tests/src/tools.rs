//! Where the server binaries are. `scripts/lib/tools.sh` installs them under `.tools/`;
//! the environment can point elsewhere.

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf()
}

fn tools_dir() -> PathBuf {
    std::env::var_os("MEDIADOCS_TOOLS").map_or_else(|| repo_root().join(".tools"), PathBuf::from)
}

/// A binary under `.tools/bin`, with a hint when it is missing.
pub fn binary(name: &str) -> PathBuf {
    let path = tools_dir().join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `scripts/test` (or `scripts/lib/tools.sh install`) to install the tools",
        path.display()
    );
    path
}

/// The unprivileged user PostgreSQL runs as when the tests run as root (`initdb` refuses root).
pub fn postgres_user() -> Option<String> {
    if !crate::process::running_as_root() {
        return None;
    }
    Some(std::env::var("MEDIADOCS_PG_USER").unwrap_or_else(|_| "mediadocs-pg".into()))
}

/// A scratch directory for one server, inside this process's scratch root.
pub fn scratch_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("{label}-"))
        .tempdir_in(scratch_root())
        .expect("creating a scratch directory")
}

/// `$TMPDIR/mediadocs-e2e-{pid}`, world-traversable so the unprivileged PostgreSQL user can
/// reach its own data directory inside it. Shared servers live until the process exits and
/// so never clean up after themselves; roots left by dead test processes are removed here.
fn scratch_root() -> &'static std::path::Path {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let tmp = std::env::temp_dir();
        sweep_stale_roots(&tmp);
        let root = tmp.join(format!("mediadocs-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("creating the scratch root");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))
            .expect("opening the scratch root to the PostgreSQL user");
        root
    })
}

fn sweep_stale_roots(tmp: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("mediadocs-e2e-")) else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The path of one of the workspace's binaries in the debug profile, built first if needed.
/// The build is a no-op when `scripts/test` has already built them.
pub fn workspace_binary(name: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| build_binaries(&[]));
    target_dir().join("debug").join(name)
}

/// The same in the release profile, for benchmarks.
pub fn release_binary(name: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| build_binaries(&["--release"]));
    target_dir().join("release").join(name)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo_root().join("target"), PathBuf::from)
}

fn build_binaries(extra: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    // Cargo sets CARGO_* variables for the test process; build scripts see them, and
    // a different environment means a different fingerprint and a full rebuild.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
            command.env_remove(key.as_ref());
        }
    }
    let status = command
        .current_dir(repo_root())
        .args(["build", "--quiet", "--workspace", "--bins"])
        .args(extra)
        .status()
        .expect("running cargo build");
    assert!(status.success(), "building the workspace binaries failed");
}
