//! File writes that must never leave a half-written file behind.

use std::path::Path;

use crate::error::LfmError;

/// Writes `bytes` to `path` through a temporary sibling, flushed to disk, then renamed over
/// `path`: readers see the old file or the whole new one, never a prefix. Every crate writes
/// its result files (configs, manifests, summaries, metrics) through this one function.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LfmError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = temp_file_in(dir).map_err(|e| LfmError::io(dir, format!("cannot create a temporary file: {e}")))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| LfmError::io(path, format!("write failed: {e}")))?;
    tmp.as_file().sync_all().map_err(|e| LfmError::io(path, format!("sync failed: {e}")))?;
    tmp.persist(path).map_err(|e| LfmError::io(path, format!("rename failed: {}", e.error)))?;
    Ok(())
}

/// A temporary file in `dir` for a write-then-rename. Created with mode 0666 minus the
/// process umask, as `File::create` would, not tempfile's private 0600: the renamed result
/// must be readable by whoever the user's umask lets read their other files.
pub fn temp_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".lfm-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b.tempfile_in(dir)
}

/// A temporary directory in `dir` (name starting with `prefix`) that is renamed into place
/// when complete. Mode 0777 minus the umask, as `create_dir` gives, not 0700.
pub fn temp_dir_in(dir: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o777));
    }
    b.tempdir_in(dir)
}

/// An exclusive advisory lock (`flock`) guarding one output path against a second writer.
///
/// The lock file is `.<name>.lock` beside the output (a sibling, so it works the same for a
/// file, a directory that does not exist yet, or one that is built as `<name>.partial` and
/// renamed). The kernel drops the lock when the holder exits in any way, `kill -9` included,
/// so a lock file left behind never blocks the next run: only a live holder does. The file
/// itself is left in place; deleting it would let two runs hold locks on different inodes.
#[derive(Debug)]
pub struct OutputLock {
    _file: std::fs::File,
    path: std::path::PathBuf,
}

impl OutputLock {
    /// Takes the lock for `output` or fails at once (no waiting) with one line naming the
    /// output and the lock file. `what` names the command for the message ("lfm train").
    pub fn acquire(output: &Path, what: &str) -> Result<Self, LfmError> {
        let name = output
            .file_name()
            .ok_or_else(|| LfmError::Invalid(format!("{}: not a file or directory name", output.display())))?;
        let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| LfmError::io(dir, format!("cannot create: {e}")))?;
        let path = dir.join(format!(".{}.lock", name.to_string_lossy()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LfmError::io(&path, format!("cannot open the lock file: {e}")))?;
        match file.try_lock() {
            Ok(()) => Ok(OutputLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LfmError::Io {
                file: output.display().to_string(),
                msg: format!(
                    "another {what} is writing here (lock {} is held); wait for it or choose another output",
                    path.display()
                ),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(LfmError::io(&path, format!("cannot lock: {e}"))),
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
