//! Secrets: a canary key in the environment is sent to the provider, yet never appears in the
//! state directory, the plan file, `show`, or the logs at trace level; a missing key exits 2
//! naming the variable, before anything is written.

use std::path::Path;

use periodize::mock_llm::{MockConfig, MockServer};

use crate::http_providers::base_url;
use crate::support::{fixture, stderr, stdout, Sandbox};

const CANARY: &str = "sk-canary-3f9c2a7e-never-print-me";

fn files_containing(dir: &Path, needle: &[u8], found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_containing(&path, needle, found);
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|window| window == needle)
        {
            found.push(path.display().to_string());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_key_never_reaches_the_store_logs_or_output() {
    let mock = MockServer::start(MockConfig::default(), 0).await.unwrap();
    for (protocol, variable) in [
        (
            periodize::providers::Protocol::Anthropic,
            "ANTHROPIC_API_KEY",
        ),
        (periodize::providers::Protocol::OpenAi, "OPENAI_API_KEY"),
        (periodize::providers::Protocol::Gemini, "GEMINI_API_KEY"),
    ] {
        let sandbox = Sandbox::new();
        let profile = fixture("profiles/athlete.json").display().to_string();
        let url = base_url(&mock.url(), protocol);
        let args = [
            "generate",
            "--profile",
            &profile,
            "--weeks",
            "2",
            "--provider",
            protocol.name(),
            "--base-url",
            &url,
            "--json",
        ];
        let output = tokio::task::spawn_blocking({
            let mut command = sandbox.command();
            command
                .args(args)
                .env(variable, CANARY)
                .env("PERIODIZE_LOG", "trace");
            move || command.output().unwrap()
        })
        .await
        .unwrap();
        assert!(output.status.success(), "{protocol:?}: {}", stderr(&output));
        let logs = stderr(&output);
        assert!(
            logs.contains("TRACE") || logs.contains("DEBUG"),
            "{protocol:?}: trace logging was on"
        );
        assert!(
            !logs.contains(CANARY) && !stdout(&output).contains(CANARY),
            "{protocol:?}: the key leaked into the logs or stdout"
        );
        let show = sandbox.run(&[
            "show",
            "--json",
            serde_json::from_str::<serde_json::Value>(stdout(&output).lines().last().unwrap())
                .unwrap()["run_id"]
                .as_str()
                .unwrap(),
        ]);
        assert!(!stdout(&show).contains(CANARY));
        let mut found = Vec::new();
        files_containing(sandbox.dir.path(), CANARY.as_bytes(), &mut found);
        assert!(found.is_empty(), "{protocol:?}: the key is in {found:?}");
    }
    let stats = mock.stats();
    assert_eq!(stats.log.len(), 9, "three runs of three steps");
    assert!(
        stats.log.iter().all(|entry| entry.credentials),
        "every request carried the key"
    );
    mock.shutdown().await;
}

#[test]
fn a_missing_key_exits_2_naming_the_variable() {
    for (provider, variable) in [
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("openai", "OPENAI_API_KEY"),
        ("gemini", "GEMINI_API_KEY"),
    ] {
        let sandbox = Sandbox::new();
        let profile = fixture("profiles/athlete.json").display().to_string();
        let output = sandbox
            .command()
            .args(["generate", "--profile", &profile, "--provider", provider])
            .env_remove(variable)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{provider}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(variable),
            "{provider}: {}",
            stderr(&output)
        );
        assert!(!sandbox.path("state").exists() && !sandbox.path("output").exists());
    }
}
