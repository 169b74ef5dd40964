//! The store directory outside sled: the checks made before sled may open it, the manifest that
//! remembers what the store held, and the private copy read-only commands open when reading in
//! place could make sled write.
//!
//! sled 0.34 has three failure modes this guards against. A snapshot left half-written by a
//! full disk (`snap.*.generating`, often zero bytes) is picked as the newest snapshot and makes
//! every open fail as corrupt. A store whose snapshot (or log) was lost opens as an empty store
//! and sled truncates the log on that open, so the loss becomes permanent. And any open after
//! writes catches the snapshot up, which is a write: on a full disk it leaves the first failure
//! mode behind, on a read-only mount it cannot happen at all.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::Error;

/// The manifest's file name, in the state directory.
pub const MANIFEST: &str = "periodize-store.json";
/// Where a new store keeps sled's files, under the state directory. Compaction writes the next
/// one (`data-2`, …) beside it and switches the manifest over; a store of format 1 has sled's
/// files in the state directory itself (`.`).
pub const FIRST_DATA: &str = "data-1";
/// The suffix of a data directory being written; one left behind is an unfinished compaction.
pub const UNFINISHED_SUFFIX: &str = ".tmp";
/// sled's log file and configuration, which every opened store has.
const DB_FILE: &str = "db";
const CONF_FILE: &str = "conf";
/// A snapshot sled wrote completely ends with its length (8 bytes) and CRC-32 (4 bytes).
const SNAPSHOT_TRAILER_BYTES: u64 = 12;

/// What periodize remembers about a store, outside the store: enough to tell a store that lost
/// its files from a new one. Its counts are lower bounds: they are written only after the
/// records they count are durable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The manifest's own format.
    pub manifest_version: u16,
    /// Runs and transitions the store held durably at the last update.
    pub runs: u64,
    pub commits: u64,
    /// The newest complete snapshot file sled had written at the last update, if any.
    pub snapshot: Option<String>,
    /// True when the last writer closed the store and left the snapshot caught up, so that
    /// opening it again writes nothing.
    pub clean: bool,
    pub updated_at_ms: u64,
    /// The directory of sled's files, relative to the state directory.
    #[serde(default = "legacy_data")]
    pub data: String,
}

fn legacy_data() -> String {
    ".".to_string()
}

pub const MANIFEST_VERSION: u16 = 1;

/// What the directory holds before sled opens it.
#[derive(Debug, Clone, PartialEq)]
pub struct DirState {
    pub dir: PathBuf,
    /// The data directory's name (as the manifest records it) and path.
    pub data: String,
    pub data_dir: PathBuf,
    /// Data directories that are not the active one: an old one a compaction did not get to
    /// remove, or an unfinished one.
    pub leftovers: Vec<String>,
    /// No sled files: a new store.
    pub empty: bool,
    pub manifest: Option<Manifest>,
    /// Snapshot files sled would read, newest last.
    pub snapshots: Vec<String>,
    /// Unfinished snapshot files that would make sled fail (a full disk leaves them).
    pub stale_snapshots: Vec<(String, u64)>,
}

fn io_error(dir: &Path, what: &str, source: std::io::Error) -> Error {
    Error::Files {
        dir: dir.to_path_buf(),
        what: what.to_string(),
        source,
    }
}

/// Looks at a store directory without changing it. A missing directory, or a path that is not
/// a directory, is an error; so is a store that lost a file its manifest says it had.
pub fn inspect(dir: &Path) -> Result<DirState, Error> {
    let metadata = fs::metadata(dir).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::NoStore {
            dir: dir.to_path_buf(),
        },
        _ => io_error(dir, "the state directory", source),
    })?;
    if !metadata.is_dir() {
        return Err(Error::NotADirectory {
            dir: dir.to_path_buf(),
        });
    }
    let manifest = read_manifest(dir)?;
    let mut leftovers = Vec::new();
    let mut top_level_sled = false;
    let entries =
        fs::read_dir(dir).map_err(|source| io_error(dir, "the state directory", source))?;
    for entry in entries {
        let entry = entry.map_err(|source| io_error(dir, "the state directory", source))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == DB_FILE || name == CONF_FILE {
            top_level_sled = true;
        } else if name.starts_with("data-") && entry.path().is_dir() {
            leftovers.push(name);
        }
    }
    let data = match &manifest {
        Some(manifest) => manifest.data.clone(),
        None if top_level_sled => legacy_data(),
        None => FIRST_DATA.to_string(),
    };
    leftovers.retain(|name| *name != data);
    leftovers.sort();
    let data_dir = if data == "." {
        dir.to_path_buf()
    } else {
        dir.join(&data)
    };
    let mut snapshots = Vec::new();
    let mut stale_snapshots = Vec::new();
    let mut has_db = false;
    let mut has_conf = false;
    let listing = match fs::read_dir(&data_dir) {
        Ok(listing) => Some(listing),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(io_error(dir, &data, source)),
    };
    for entry in listing.into_iter().flatten() {
        let entry = entry.map_err(|source| io_error(dir, &data, source))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        match name.as_str() {
            DB_FILE => has_db = true,
            CONF_FILE => has_conf = true,
            _ if name.starts_with("snap.") && name.ends_with(".generating") => {
                let path = entry.path();
                if !snapshot_is_complete(&path) {
                    let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
                    stale_snapshots.push((name, len));
                } else {
                    snapshots.push(name);
                }
            }
            _ if name.starts_with("snap.") && !name.ends_with(".in___motion") => {
                snapshots.push(name)
            }
            _ => {}
        }
    }
    snapshots.sort();
    stale_snapshots.sort();
    if let Some(manifest) = &manifest {
        let in_data = |file: &str| {
            if data == "." {
                file.to_string()
            } else {
                format!("{data}/{file}")
            }
        };
        let lost = |file: &str, why: String| Error::Lost {
            dir: dir.to_path_buf(),
            file: in_data(file),
            why,
        };
        if !has_db {
            return Err(lost(
                DB_FILE,
                format!(
                    "the store held {} run(s) and has no log file; restore {} from a backup",
                    manifest.runs,
                    in_data(DB_FILE)
                ),
            ));
        }
        if !has_conf {
            return Err(lost(
                CONF_FILE,
                format!(
                    "sled's configuration file is gone; restore {} from a backup (a store \
                     written by periodize holds `segment_size: 524288`, `use_compression: false`, \
                     `version: 0.34`)",
                    in_data(CONF_FILE)
                ),
            ));
        }
        if let (Some(expected), true) = (&manifest.snapshot, snapshots.is_empty()) {
            return Err(lost(
                expected,
                format!(
                    "the store's snapshot is gone; opening it now would find {} run(s) missing and \
                     truncate the log for good, so it is not opened; restore {} from a backup",
                    manifest.runs,
                    in_data(expected)
                ),
            ));
        }
    }
    Ok(DirState {
        dir: dir.to_path_buf(),
        data,
        data_dir,
        leftovers,
        empty: !has_db && !has_conf && manifest.is_none(),
        manifest,
        snapshots,
        stale_snapshots,
    })
}

/// Whether a snapshot file is whole: longer than its trailer, with a matching CRC-32.
fn snapshot_is_complete(path: &Path) -> bool {
    let mut bytes = Vec::new();
    let read = fs::File::open(path).and_then(|mut file| file.read_to_end(&mut bytes));
    if read.is_err() || (bytes.len() as u64) <= SNAPSHOT_TRAILER_BYTES {
        return false;
    }
    let body_len = bytes.len() - SNAPSHOT_TRAILER_BYTES as usize;
    let stored = u32::from_le_bytes(
        bytes[bytes.len() - 4..]
            .try_into()
            .expect("four bytes were taken"),
    );
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[..body_len]);
    hasher.finalize() == stored
}

/// Removes the unfinished snapshots sled would fail on; returns one notice per file removed.
pub fn remove_stale_snapshots(state: &DirState) -> Result<Vec<String>, Error> {
    let mut notices = Vec::new();
    for (name, len) in &state.stale_snapshots {
        let path = state.data_dir.join(name);
        fs::remove_file(&path).map_err(|source| io_error(&state.dir, name, source))?;
        notices.push(format!(
            "removed {} ({len} bytes), an unfinished snapshot (a full disk leaves one); the store \
             is read from the snapshot before it",
            path.display()
        ));
    }
    Ok(notices)
}

pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, Error> {
    let path = dir.join(MANIFEST);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_error(dir, MANIFEST, source)),
    };
    let manifest: Manifest = serde_json::from_str(&text).map_err(|err| Error::BadManifest {
        path: path.clone(),
        reason: err.to_string(),
    })?;
    if manifest.manifest_version != MANIFEST_VERSION {
        return Err(Error::BadManifest {
            path,
            reason: format!(
                "manifest version {} (this build reads {MANIFEST_VERSION}); a newer periodize wrote it",
                manifest.manifest_version
            ),
        });
    }
    Ok(Some(manifest))
}

/// Writes the manifest atomically: a temporary file, fsync, rename, directory fsync.
pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), Error> {
    let path = dir.join(MANIFEST);
    let temporary = dir.join(format!(".{MANIFEST}.{}", std::process::id()));
    let text = serde_json::to_string_pretty(manifest).expect("a manifest serializes");
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&temporary, &path)?;
        fs::File::open(dir)?.sync_all()
    };
    write().map_err(|source| {
        let _ = fs::remove_file(&temporary);
        io_error(dir, MANIFEST, source)
    })
}

/// Removes data directories that are not the active one (a compaction's old or unfinished
/// copy); returns one notice per directory removed.
pub fn remove_leftovers(state: &DirState) -> Result<Vec<String>, Error> {
    let mut notices = Vec::new();
    for name in &state.leftovers {
        let path = state.dir.join(name);
        fs::remove_dir_all(&path).map_err(|source| io_error(&state.dir, name, source))?;
        let what = if name.ends_with(UNFINISHED_SUFFIX) {
            "an unfinished compaction"
        } else {
            "the copy a compaction replaced"
        };
        notices.push(format!("removed {}, {what}", path.display()));
    }
    Ok(notices)
}

/// Newest complete snapshot in a data directory (after sled opened it).
pub fn newest_snapshot(data_dir: &Path) -> Option<String> {
    let mut snapshots: Vec<String> = fs::read_dir(data_dir)
        .ok()?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("snap.") && !name.ends_with(".generating"))
        .collect();
    snapshots.sort();
    snapshots.pop()
}

/// Removes sled's files from a data directory (the state directory itself, for format 1).
pub fn remove_sled_files(data_dir: &Path, whole_dir: bool) -> std::io::Result<()> {
    if whole_dir {
        return fs::remove_dir_all(data_dir);
    }
    for entry in fs::read_dir(data_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == DB_FILE || name == CONF_FILE || name.starts_with("snap.") {
            fs::remove_file(entry.path())?;
        } else if name == "blobs" {
            fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// The size of sled's log file in a data directory.
pub fn log_bytes(data_dir: &Path) -> u64 {
    fs::metadata(data_dir.join(DB_FILE)).map_or(0, |metadata| metadata.len())
}

/// Makes a directory entry (a rename into `dir`) durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Bytes free for an unprivileged writer on the file system of `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid NUL-terminated string and `stats` points to writable memory of
    // the right type; statvfs only writes into it.
    let result = unsafe { libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) };
    if result != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the structure.
    let stats = unsafe { stats.assume_init() };
    // The field types differ between platforms; widening is lossless.
    #[allow(clippy::unnecessary_cast)]
    let free = (stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64);
    Some(free)
}

/// Whether this process may create files in `dir` (false on a read-only mount).
pub fn is_writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `path` is a valid NUL-terminated string.
    let permitted = unsafe { libc::access(path.as_ptr(), libc::W_OK) } == 0;
    permitted && !is_read_only_mount(dir)
}

fn is_read_only_mount(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: as in `free_bytes`.
    let result = unsafe { libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) };
    if result != 0 {
        return false;
    }
    // SAFETY: statvfs returned 0.
    let stats = unsafe { stats.assume_init() };
    stats.f_flag & libc::ST_RDONLY != 0
}

/// Whether another process holds sled's lock on the store (sled takes an exclusive `flock` on
/// its log file while it has the store open).
pub fn is_locked(dir: &Path) -> bool {
    use std::os::unix::io::AsRawFd;
    let Ok(file) = fs::File::open(dir.join(DB_FILE)) else {
        return false;
    };
    // SAFETY: the descriptor is open for the duration of both calls.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0;
    if !locked {
        // SAFETY: as above; releases the lock just taken.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
    }
    locked
}

/// A private copy of a store, for reading it without writing to it; removed when dropped.
#[derive(Debug)]
pub struct View {
    pub dir: PathBuf,
}

impl View {
    /// Copies sled's files (never an unfinished snapshot) into a new directory under the
    /// system's temporary directory.
    pub fn copy_of(state: &DirState) -> Result<View, Error> {
        let base = std::env::temp_dir();
        let dir = base.join(format!(
            "periodize-view-{}-{:x}",
            std::process::id(),
            crate::store::unique_suffix()
        ));
        let view = View { dir };
        let copy = || -> std::io::Result<()> {
            fs::create_dir(&view.dir)?;
            for name in [DB_FILE, CONF_FILE]
                .into_iter()
                .map(str::to_string)
                .chain(state.snapshots.iter().cloned())
            {
                let from = state.data_dir.join(&name);
                if from.exists() {
                    fs::copy(&from, view.dir.join(&name))?;
                }
            }
            let blobs = state.data_dir.join("blobs");
            if blobs.is_dir() {
                fs::create_dir(view.dir.join("blobs"))?;
                for entry in fs::read_dir(&blobs)? {
                    let entry = entry?;
                    fs::copy(entry.path(), view.dir.join("blobs").join(entry.file_name()))?;
                }
            }
            Ok(())
        };
        copy().map_err(|source| Error::View {
            dir: state.dir.clone(),
            view: view.dir.clone(),
            source,
        })?;
        Ok(view)
    }
}

impl Drop for View {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
