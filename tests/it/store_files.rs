//! sled's failure modes, through the binary: an unfinished snapshot left by a full disk, a lost
//! snapshot or log, a full disk in the middle of a batch (on a small tmpfs), and a store on a
//! read-only mount. Each ends in a clear message naming the file, or a recovered store with
//! nothing lost; read-only commands never write to the store. The mount tests need root; without
//! it they say so, and fail when `CI` is set.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{fixture, stderr, stdout, Sandbox};

/// Every file under a directory, with its bytes.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                files.push((entry.path(), std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn generate(sandbox: &Sandbox, args: &[&str]) -> String {
    let profile = fixture("profiles/athlete.json").display().to_string();
    let mut all = vec!["generate", "--profile", &profile, "--weeks", "2", "--json"];
    all.extend_from_slice(args);
    let output = sandbox.run(&all);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let last: Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
    last["run_id"].as_str().unwrap().to_string()
}

fn data_dir(sandbox: &Sandbox) -> PathBuf {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.path("state/periodize-store.json")).unwrap(),
    )
    .unwrap();
    sandbox
        .path("state")
        .join(manifest["data"].as_str().unwrap())
}

fn snapshots(data: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(data)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("snap.")
        })
        .collect();
    found.sort();
    found
}

/// A full disk leaves a zero-byte `snap.*.generating`, which sled picks as the newest snapshot
/// and then fails on ("Read corrupted data"). Readers skip it, `doctor` names it, and the next
/// writer removes it and says so.
#[test]
fn an_unfinished_snapshot_is_skipped_by_readers_named_by_doctor_and_removed_by_resume() {
    let sandbox = Sandbox::new();
    let run_id = generate(&sandbox, &[]);
    let data = data_dir(&sandbox);
    let stale = data.join("snap.FFFFFFFFFFFFFFFF.generating");
    std::fs::write(&stale, b"").unwrap();

    // The premise: sled itself cannot open the store now.
    {
        let copy = Sandbox::new();
        for (path, bytes) in contents(&data) {
            let target = copy.dir.path().join(path.strip_prefix(&data).unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, bytes).unwrap();
        }
        let opened = sled::Config::new().path(copy.dir.path()).open();
        assert!(
            opened.is_err(),
            "sled opens a store with a zero-byte snapshot"
        );
    }

    let before = contents(&sandbox.path("state"));
    let listed = sandbox.run(&["list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert!(stdout(&listed).contains(&run_id[..8]));
    assert_eq!(
        contents(&sandbox.path("state")),
        before,
        "list wrote to the store"
    );

    let checked = sandbox.run(&["doctor"]);
    assert_eq!(checked.status.code(), Some(1));
    assert!(
        stdout(&checked).contains("snap.FFFFFFFFFFFFFFFF.generating")
            && stdout(&checked).contains("unfinished snapshot"),
        "{}",
        stdout(&checked)
    );
    assert!(stale.exists(), "doctor repairs nothing");

    let resumed = sandbox.run(&["resume"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("removed") && stderr(&resumed).contains(".generating"),
        "{}",
        stderr(&resumed)
    );
    assert!(!stale.exists());
    let checked = sandbox.run(&["doctor"]);
    assert_eq!(stdout(&checked), "0 error(s), 0 warning(s) in state\n");
}

/// A store that went through a crash and a recovery, then lost its snapshot (or its log):
/// opening it would find it empty and truncate the log for good. It is refused, naming the
/// missing file, and nothing is changed; with the file back it reads whole.
#[test]
fn a_store_that_lost_its_snapshot_or_log_is_refused_by_name_and_left_untouched() {
    let sandbox = Sandbox::new();
    let profile = fixture("profiles/athlete.json").display().to_string();
    let crashed = sandbox
        .command()
        .args(["generate", "--profile", &profile, "--weeks", "3"])
        .env("PERIODIZE_CRASH_POINT", "after-flush:week-1")
        .output()
        .unwrap();
    assert_eq!(crashed.status.code(), None, "aborted at the crash point");
    let resumed = sandbox.run(&["resume"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let data = data_dir(&sandbox);
    let kept = sandbox.path("kept");
    std::fs::create_dir(&kept).unwrap();
    let snaps = snapshots(&data);
    assert!(!snaps.is_empty(), "a recovered store has a snapshot");
    for snap in &snaps {
        std::fs::rename(snap, kept.join(snap.file_name().unwrap())).unwrap();
    }
    let before = contents(&sandbox.path("state"));
    let snap_name = snaps[0].file_name().unwrap().to_string_lossy().into_owned();
    for args in [
        &["list"][..],
        &["status"][..],
        &["resume"][..],
        &["doctor"][..],
    ] {
        let output = sandbox.run(args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
        let said = format!("{}{}", stdout(&output), stderr(&output));
        assert!(
            said.contains(&snap_name) && said.contains("lost") && said.contains("restore"),
            "{args:?}: {said}"
        );
    }
    assert_eq!(
        contents(&sandbox.path("state")),
        before,
        "a store with a missing file is not opened"
    );
    for snap in &snaps {
        std::fs::rename(kept.join(snap.file_name().unwrap()), snap).unwrap();
    }
    let listed = sandbox.run(&["list", "--json"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let runs: Vec<Value> = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["state"], "done");

    // The log itself.
    std::fs::rename(data.join("db"), kept.join("db")).unwrap();
    let output = sandbox.run(&["list"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("lost") && stderr(&output).contains("/db"),
        "{}",
        stderr(&output)
    );
    assert!(!data.join("db").exists(), "no empty log was made");
}

/// A mount point the test made, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// Mounts with `mount ARGS… DIR`; `None` (after saying why) when this machine cannot.
    fn new(dir: &Path, args: &[&str]) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        let output = Command::new("mount").args(args).arg(dir).output();
        match output {
            Ok(output) if output.status.success() => Some(Mount(dir.to_path_buf())),
            failed => {
                let why = match failed {
                    Ok(output) => stderr(&output),
                    Err(err) => err.to_string(),
                };
                assert!(
                    std::env::var_os("CI").is_none(),
                    "mount {args:?} failed under CI: {why}"
                );
                eprintln!("skipped: cannot mount {args:?} here (needs root): {why}");
                None
            }
        }
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", options])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills a file system until it refuses; returns the filler to remove later.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let _ = file.sync_all();
    path
}

/// A disk that fills up in the middle of a batch: the batch stops cleanly (exit 1, the
/// disk named), readers still read the store while it is full and leave nothing behind, and
/// once there is room `resume` finishes every run with nothing lost.
#[test]
fn a_full_disk_stops_a_batch_cleanly_and_resume_finishes_it() {
    let sandbox = Sandbox::new();
    let state = sandbox.path("state");
    let Some(mount) = Mount::new(&state, &["-t", "tmpfs", "-o", "size=8m", "tmpfs"]) else {
        return;
    };
    let mut args: Vec<String> = vec!["generate".into()];
    for index in 0..8 {
        let text = std::fs::read_to_string(fixture("profiles/athlete.json"))
            .unwrap()
            .replace("Marta Ruiz", &format!("Rider {index}"));
        let path = sandbox.write(&format!("rider_{index}.json"), &text);
        args.push("--profile".into());
        args.push(path.display().to_string());
    }
    args.extend(
        [
            "--weeks",
            "12",
            "--run-concurrency",
            "2",
            "--latency-ms",
            "5",
            "--json",
        ]
        .map(String::from),
    );
    let mut child = sandbox
        .command()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Fill the disk once the batch is stored and its first week is durable.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut filler = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("\"week_complete\"") {
            filler = Some(fill(&state));
            break;
        }
    }
    for _ in lines {}
    let output = child.wait_with_output().unwrap();
    let filler = filler.expect("a week completed before the disk filled");
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains("is full") && message.contains("periodize resume"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");

    // While full: readers work and write nothing (no unfinished snapshot appears).
    let before = contents(&state);
    let listed = sandbox.run(&["list", "--json"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let runs: Vec<Value> = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(runs.len(), 8, "every run was stored before the disk filled");
    let checked = sandbox.run(&["doctor"]);
    assert!(!stdout(&checked).contains("error:"), "{}", stdout(&checked));
    assert_eq!(contents(&state), before, "readers wrote to a full store");

    std::fs::remove_file(filler).unwrap();
    mount.remount("remount,size=32m");
    let resumed = sandbox.run(&["resume", "--json"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let listed = sandbox.run(&["list", "--json"]);
    let runs: Vec<Value> = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(runs.len(), 8);
    assert!(runs.iter().all(|run| run["state"] == "done"), "{runs:?}");
    let checked = sandbox.run(&["doctor"]);
    assert_eq!(stdout(&checked), "0 error(s), 0 warning(s) in state\n");
}

/// A store on a read-only mount: every read command works (from a private copy), and a
/// command that must write says why it cannot.
#[test]
fn a_store_on_a_read_only_mount_can_be_read() {
    let sandbox = Sandbox::new();
    let run_id = generate(&sandbox, &[]);
    let read_only = sandbox.path("ro");
    let Some(mount) = Mount::new(
        &read_only,
        &["--bind", &sandbox.path("state").display().to_string()],
    ) else {
        return;
    };
    mount.remount("remount,bind,ro");
    let dir = read_only.display().to_string();
    for args in [
        vec!["list"],
        vec!["status", &run_id[..8]],
        vec!["show", &run_id[..8]],
        vec!["doctor"],
    ] {
        let mut full = args.clone();
        full.extend(["--state-dir", &dir]);
        let output = sandbox.run(&full);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stdout(&output).contains(&run_id[..8]) || args[0] == "doctor",
            "{args:?}: {}",
            stdout(&output)
        );
    }
    let output = sandbox.run(&["resume", "--state-dir", &dir]);
    assert_ne!(output.status.code(), Some(0));
    assert!(stderr(&output).contains("read-only"), "{}", stderr(&output));
}
