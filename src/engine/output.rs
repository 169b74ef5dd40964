//! Atomic plan-file writes: temporary name, fsync, rename, fsync of the directory, so a reader
//! sees the old state or the whole new file, never a torn one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn write_atomically(dir: &Path, file_name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let final_path = dir.join(file_name);
    let temporary = dir.join(format!(".{file_name}.tmp"));
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
