//! Reading the files a user names (profiles, manifests, prompt templates): regular files only,
//! bounded, UTF-8 with an optional byte-order mark.
//!
//! A path on the command line can name anything: a FIFO (`<(cat profile.json)`, or a pipe nobody
//! writes to), `/dev/zero`, a directory, a multi-gigabyte log. Reading such a path with
//! `std::fs::read` blocks forever or exhausts memory; here each is refused with an error naming
//! the path, and a file is never read past its limit.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest athlete profile read (a real one is a few hundred bytes).
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;
/// The largest prompt template read (the built-in ones are a few kilobytes).
pub const MAX_TEMPLATE_BYTES: u64 = 256 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const UTF16_LE_BOM: &[u8] = b"\xFF\xFE";
const UTF16_BE_BOM: &[u8] = b"\xFE\xFF";

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{} does not exist", path.display())]
    NotFound {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is {kind}, not a regular file", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{} is {len} bytes, above the limit of {max} bytes", path.display())]
    TooLarge { path: PathBuf, len: u64, max: u64 },
    #[error("{} is UTF-16 ({endian} byte-order mark); save it as UTF-8", path.display())]
    Utf16 { path: PathBuf, endian: &'static str },
    #[error("{} is not UTF-8 (invalid byte at offset {offset})", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
}

impl ReadError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::NotFound { path, .. }
            | ReadError::Io { path, .. }
            | ReadError::NotRegular { path, .. }
            | ReadError::TooLarge { path, .. }
            | ReadError::Utf16 { path, .. }
            | ReadError::NotUtf8 { path, .. } => path,
        }
    }

    /// What is wrong, without the path and with the IO error's text, for a message that names
    /// the file its own way (and for error types that cannot carry an `io::Error`).
    pub fn reason(&self) -> String {
        match self {
            ReadError::NotFound { .. } => "it does not exist".to_string(),
            ReadError::Io { source, .. } => format!("cannot read it: {source}"),
            ReadError::NotRegular { kind, .. } => format!("it is {kind}, not a regular file"),
            ReadError::TooLarge { len, max, .. } => {
                format!("it is {len} bytes, above the limit of {max} bytes")
            }
            ReadError::Utf16 { endian, .. } => {
                format!("it is UTF-16 ({endian} byte-order mark); save it as UTF-8")
            }
            ReadError::NotUtf8 { offset, .. } => {
                format!("it is not UTF-8 (invalid byte at offset {offset})")
            }
        }
    }
}

/// Reads the regular file at `path` as text: at most `max_bytes` bytes, UTF-8, one leading
/// byte-order mark dropped. Never blocks on a FIFO or device and never reads more than
/// `max_bytes + 1` bytes, whatever `path` turns out to be.
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String, ReadError> {
    // Checked before opening: opening a FIFO for reading without O_NONBLOCK waits for a writer.
    let metadata = std::fs::metadata(path).map_err(|err| io_error(path, err))?;
    check_regular(path, &metadata)?;
    let bytes = read_opened(path, max_bytes)?;
    decode(path, bytes)
}

/// Opens `path` without blocking and reads it, checking the opened handle again: the path may
/// have been swapped for a FIFO or a device since `read_text` looked at it.
fn read_opened(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    // O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer (regular
    // files ignore the flag, so reading them is unchanged); O_NOCTTY keeps a terminal device
    // swapped in from becoming our controlling terminal.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|err| io_error(path, err))?;
    let metadata = file.metadata().map_err(|err| io_error(path, err))?;
    check_regular(path, &metadata)?;
    // A cheap refusal for a file already known to be too large; the bounded read below also
    // catches one that grows while it is read (or reports a size of 0, like /proc files).
    if metadata.len() > max_bytes {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            len: metadata.len(),
            max: max_bytes,
        });
    }
    let bytes = read_bounded(path, file, max_bytes, metadata.len())?;
    // u64 always holds a usize on the targets this crate builds for.
    let read = bytes.len() as u64;
    if read > max_bytes {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            len: read.max(metadata.len()),
            max: max_bytes,
        });
    }
    Ok(bytes)
}

/// Reads at most `max_bytes + 1` bytes: one byte more than allowed is enough to know the file is
/// too large, without reading all of a huge one.
fn read_bounded(
    path: &Path,
    file: File,
    max_bytes: u64,
    expected: u64,
) -> Result<Vec<u8>, ReadError> {
    let limit = max_bytes.saturating_add(1);
    // The capacity is only a hint; a file that reports a wrong size still reads correctly.
    let capacity = usize::try_from(expected.min(limit)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|err| io_error(path, err))?;
    Ok(bytes)
}

fn decode(path: &Path, mut bytes: Vec<u8>) -> Result<String, ReadError> {
    // Editors on Windows save "Unicode" text as UTF-16; say so instead of reporting byte 0.
    for (bom, endian) in [
        (UTF16_LE_BOM, "little-endian"),
        (UTF16_BE_BOM, "big-endian"),
    ] {
        if bytes.starts_with(bom) {
            return Err(ReadError::Utf16 {
                path: path.to_path_buf(),
                endian,
            });
        }
    }
    // Notepad and some exporters start UTF-8 files with a byte-order mark; it is not content.
    let bom_len = if bytes.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    bytes.drain(..bom_len);
    String::from_utf8(bytes).map_err(|err| ReadError::NotUtf8 {
        path: path.to_path_buf(),
        // The offset in the file as it is on disk, byte-order mark included.
        offset: err.utf8_error().valid_up_to() + bom_len,
    })
}

fn check_regular(path: &Path, metadata: &Metadata) -> Result<(), ReadError> {
    let file_type = metadata.file_type();
    if file_type.is_file() {
        return Ok(());
    }
    let kind = if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else {
        "a special file"
    };
    Err(ReadError::NotRegular {
        path: path.to_path_buf(),
        kind,
    })
}

fn io_error(path: &Path, source: io::Error) -> ReadError {
    let path = path.to_path_buf();
    if source.kind() == io::ErrorKind::NotFound {
        ReadError::NotFound { path, source }
    } else {
        ReadError::Io { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `read` on another thread and fails the test instead of hanging if it blocks.
    fn without_blocking<T: Send + 'static>(read: impl FnOnce() -> T + Send + 'static) -> T {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            // The receiver is gone only if the test already failed.
            let _ = sender.send(read());
        });
        receiver
            .recv_timeout(Duration::from_secs(10))
            .expect("reading a FIFO must not block")
    }

    fn make_fifo(dir: &Path) -> PathBuf {
        let path = dir.join("profile.json");
        let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
        let status = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
        assert_eq!(status, 0, "mkfifo: {}", io::Error::last_os_error());
        path
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = make_fifo(dir.path());
        let read_path = path.clone();
        let err = without_blocking(move || read_text(&read_path, MAX_PROFILE_BYTES)).unwrap_err();
        assert!(
            matches!(err, ReadError::NotRegular { kind: "a FIFO", .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("{} is a FIFO, not a regular file", path.display())
        );
        assert_eq!(err.path(), path);
    }

    #[test]
    fn a_fifo_swapped_in_after_the_first_check_is_refused_at_once() {
        // The second line of defence on its own: opening the FIFO must not wait for a writer,
        // and the opened handle must be refused.
        let dir = tempfile::tempdir().unwrap();
        let path = make_fifo(dir.path());
        let err = without_blocking(move || read_opened(&path, MAX_PROFILE_BYTES)).unwrap_err();
        assert!(
            matches!(err, ReadError::NotRegular { kind: "a FIFO", .. }),
            "{err}"
        );
    }

    #[test]
    fn a_directory_and_a_device_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_text(dir.path(), MAX_PROFILE_BYTES).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::NotRegular {
                    kind: "a directory",
                    ..
                }
            ),
            "{err}"
        );
        // /dev/zero would never end; it is refused before a byte is read.
        let err = without_blocking(|| read_text(Path::new("/dev/zero"), 16)).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::NotRegular {
                    kind: "a character device",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.json");
        let err = read_text(&path, MAX_PROFILE_BYTES).unwrap_err();
        assert!(matches!(err, ReadError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("absent.json"), "{err}");
        assert_eq!(err.reason(), "it does not exist");
    }

    #[test]
    fn a_utf8_byte_order_mark_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "bom.json", b"\xEF\xBB\xBF{\"ftp_w\": 250}");
        assert_eq!(
            read_text(&path, MAX_PROFILE_BYTES).unwrap(),
            "{\"ftp_w\": 250}"
        );
        // Only one mark is dropped: a second is content (U+FEFF).
        let path = write(dir.path(), "two.json", b"\xEF\xBB\xBF\xEF\xBB\xBFx");
        assert_eq!(read_text(&path, MAX_PROFILE_BYTES).unwrap(), "\u{feff}x");
        let path = write(dir.path(), "plain.json", "é".as_bytes());
        assert_eq!(read_text(&path, MAX_PROFILE_BYTES).unwrap(), "é");
    }

    #[test]
    fn utf16_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        for (bytes, endian) in [
            (&b"\xFF\xFE{\x00}\x00"[..], "little-endian"),
            (&b"\xFE\xFF\x00{\x00}"[..], "big-endian"),
        ] {
            let path = write(dir.path(), "utf16.json", bytes);
            let err = read_text(&path, MAX_PROFILE_BYTES).unwrap_err();
            assert!(
                matches!(err, ReadError::Utf16 { endian: e, .. } if e == endian),
                "{err}"
            );
            let message = err.to_string();
            assert!(
                message.contains("is UTF-16") && message.contains("save it as UTF-8"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_file_above_the_limit_is_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "ten.json", b"0123456789");
        assert_eq!(read_text(&path, 10).unwrap(), "0123456789");
        let err = read_text(&path, 9).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::TooLarge {
                    len: 10,
                    max: 9,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("10 bytes"), "{err}");

        // A huge (sparse) file is refused from its size, without reading it.
        let huge = dir.path().join("huge.json");
        File::create(&huge).unwrap().set_len(1 << 34).unwrap();
        let err = read_text(&huge, MAX_PROFILE_BYTES).unwrap_err();
        assert!(
            matches!(err, ReadError::TooLarge { len, max: MAX_PROFILE_BYTES, .. } if len == 1 << 34),
            "{err}"
        );
    }

    #[test]
    fn the_bounded_read_stops_one_byte_past_the_limit() {
        // A file that reports a smaller size than it has (a growing file) is still cut off.
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "grows.json", &[b'x'; 100]);
        let file = File::open(&path).unwrap();
        let bytes = read_bounded(&path, file, 9, 0).unwrap();
        assert_eq!(bytes.len(), 10);
    }

    #[test]
    fn invalid_utf8_gives_the_offset_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "latin1.json", b"ok \xff\xfe");
        let err = read_text(&path, MAX_PROFILE_BYTES).unwrap_err();
        assert!(matches!(err, ReadError::NotUtf8 { offset: 3, .. }), "{err}");
        // After a byte-order mark the offset still counts the file's bytes.
        let path = write(dir.path(), "bom-latin1.json", b"\xEF\xBB\xBFok \xe9");
        let err = read_text(&path, MAX_PROFILE_BYTES).unwrap_err();
        assert!(matches!(err, ReadError::NotUtf8 { offset: 6, .. }), "{err}");
        assert_eq!(err.reason(), "it is not UTF-8 (invalid byte at offset 6)");
    }
}
