//! Tidy checks over the source tree, after rust-analyzer's: every file says what it owns,
//! dependencies stay with their one owner, and the pure core does no IO.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

fn sources(under: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join(under), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read a source file");
            (
                path.strip_prefix(root)
                    .expect("under the root")
                    .display()
                    .to_string(),
                text,
            )
        })
        .collect()
}

/// Code without `#[cfg(test)]` modules and comments, for dependency checks.
fn production_code(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_file_starts_with_a_module_doc_line() {
    for under in ["src", "tests", "benches"] {
        for (path, text) in sources(under) {
            assert!(
                text.starts_with("//!"),
                "{path} must start with a `//!` line saying what it owns"
            );
        }
    }
}

#[test]
fn outside_dependencies_have_one_owner() {
    for (path, text) in sources("src") {
        let code = production_code(&text);
        if code.contains("sled::") {
            assert!(
                path.starts_with("src/store/"),
                "{path} uses sled; only src/store/ may"
            );
        }
        if code.contains("postgres::") {
            assert!(
                path.starts_with("src/store/"),
                "{path} uses the database client; only src/store/ may"
            );
        }
        if code.contains("clap::") {
            assert!(
                path.starts_with("src/cli/") || path == "src/main.rs",
                "{path} uses clap; only the CLI may"
            );
        }
        if code.contains("anyhow") {
            assert_eq!(path, "src/main.rs", "{path} uses anyhow; only main may");
        }
        if code.contains("hyper::") || code.contains("hyper_util") {
            assert!(
                path.starts_with("src/mock_llm/"),
                "{path} uses hyper; only the mock server may"
            );
        }
        if code.contains("reqwest") {
            assert!(
                path.starts_with("src/providers/"),
                "{path} uses reqwest; only providers may"
            );
        }
        if code.contains("std::process::exit") || code.contains("ExitCode") {
            assert!(
                path.starts_with("src/cli/")
                    || path == "src/main.rs"
                    || path.starts_with("src/engine/"),
                "{path} chooses an exit code"
            );
        }
    }
}

/// A plain build links no HTTP server: hyper's server comes only with the `mock-llm` feature,
/// which no default turns on, and the code that uses it is compiled only with the feature.
#[test]
fn the_product_build_has_no_mock_server() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("read Cargo.toml");
    for dependency in ["hyper", "hyper-util", "http-body-util"] {
        let line = manifest
            .lines()
            .find(|line| line.starts_with(&format!("{dependency} = ")))
            .unwrap_or_else(|| panic!("{dependency} is a dependency"));
        assert!(
            line.contains("optional = true"),
            "{dependency} must be optional: {line}"
        );
    }
    assert!(
        !manifest
            .lines()
            .any(|line| line.trim_start().starts_with("default =")),
        "no default features: the mock stays out of plain builds"
    );
    for (path, text) in sources("src") {
        if path.starts_with("src/mock_llm/") {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let declares = line.trim() == "pub mod mock_llm;" || line.trim() == "mod mock;";
            let gated = index > 0 && lines[index - 1].contains("#[cfg(feature = \"mock-llm\")]");
            assert!(
                !declares || gated,
                "{path}:{}: `{line}` needs the mock-llm feature",
                index + 1
            );
        }
    }
}

#[test]
fn the_pure_core_does_no_io() {
    let forbidden = [
        "std::fs",
        "tokio",
        "sled",
        "postgres",
        "reqwest",
        "SystemTime",
        "Instant::now",
        "std::env",
        "println!",
        "eprintln!",
        "Local::now",
        "Utc::now",
    ];
    for (path, text) in sources("src") {
        let pure = path.starts_with("src/domain/")
            || path.starts_with("src/workflow/")
            || path.starts_with("src/coach/")
            || path.starts_with("src/export/")
            || [
                "src/llm.rs",
                "src/tools.rs",
                "src/planfile.rs",
                "src/pricing.rs",
            ]
            .contains(&path.as_str());
        if !pure {
            continue;
        }
        let code = production_code(&text);
        for needle in forbidden {
            assert!(
                !code.contains(needle),
                "{path} is pure but mentions {needle}"
            );
        }
    }
}

#[test]
fn no_ignored_or_should_panic_tests() {
    for under in ["src", "tests"] {
        for (path, text) in sources(under) {
            if path.ends_with("tidy.rs") {
                continue;
            }
            assert!(!text.contains("#[ignore"), "{path} ignores a test");
            assert!(!text.contains("#[should_panic"), "{path} uses should_panic");
        }
    }
}
