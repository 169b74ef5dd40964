//! Atomic plan-file writes: temporary name, fsync, rename, fsync of the directory, so a reader
//! sees the old state or the whole new file, never a torn one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `write_atomically` for a relative path of plain components (`report.html`, `zwo/a.zwo`),
/// its folders created first.
pub fn write_atomically_at(dir: &Path, relative: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    match relative.rsplit_once('/') {
        Some((folder, file_name)) => write_atomically(&dir.join(folder), file_name, bytes),
        None => write_atomically(dir, relative, bytes),
    }
}

pub fn write_atomically(dir: &Path, file_name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let final_path = dir.join(file_name);
    // Temporary files of this plan left by a process killed mid-write are removed first: the
    // run is still Finalizing, so this write is the one that completes it.
    let stale_prefix = format!(".{file_name}.");
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&stale_prefix) && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    // A name of its own per write: two writers of the same plan (a resumed driver while an
    // abandoned one finishes) never rename each other's file; both hold identical bytes.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = dir.join(format!(".{file_name}.{}.{write}.tmp", std::process::id()));
    {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, &final_path)?;
    // The rename is durable only once the directory entry is.
    fs::File::open(dir)?.sync_all()?;
    Ok(final_path)
}
