//! File writes that must never leave a half-written file behind, and the temporary files
//! they go through: named after their output, removed on SIGINT/SIGTERM/SIGHUP, and swept up
//! by the next writer of the same output after a SIGKILL.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::error::LfmError;

/// Writes `bytes` to `path` through a temporary sibling, flushed to disk, then renamed over
/// `path`: readers see the old file or the whole new one, never a prefix. Every crate writes
/// its result files (configs, manifests, summaries, metrics) through this one function.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LfmError> {
    let mut tmp = temp_file_for(path)?;
    std::io::Write::write_all(tmp.file_mut(), bytes).map_err(|e| LfmError::io(path, format!("write failed: {e}")))?;
    tmp.persist(path)
}

/// Paths to remove if the process is stopped by SIGINT, SIGTERM or SIGHUP (see
/// [`remove_registered_temps`]), each with the id of its [`TempRegistration`].
static TEMPS: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// A path registered by [`register_temp`]; dropping it unregisters the path.
#[must_use = "the path is unregistered when this is dropped"]
#[derive(Debug)]
pub struct TempRegistration(u64);

impl Drop for TempRegistration {
    fn drop(&mut self) {
        TEMPS.lock().unwrap_or_else(PoisonError::into_inner).retain(|(id, _)| *id != self.0);
    }
}

/// Registers a temporary file or directory for removal by [`remove_registered_temps`], which
/// the `lfm` binary calls when SIGINT, SIGTERM or SIGHUP stops it, until the registration is
/// dropped (after the temporary was renamed into place or removed).
pub fn register_temp(path: &Path) -> TempRegistration {
    let id = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
    TEMPS.lock().unwrap_or_else(PoisonError::into_inner).push((id, path.to_path_buf()));
    TempRegistration(id)
}

/// Removes every registered temporary (errors ignored: a path may already be gone). For a
/// signal handler's thread, just before the process exits.
pub fn remove_registered_temps() {
    let paths: Vec<PathBuf> = TEMPS.lock().unwrap_or_else(PoisonError::into_inner).drain(..).map(|(_, p)| p).collect();
    for p in paths {
        let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
    }
}

/// The directory `output` lives in and the prefix of its temporaries (`.NAME.tmp`).
fn temp_prefix(output: &Path) -> Result<(&Path, String), LfmError> {
    let name = output
        .file_name()
        .ok_or_else(|| LfmError::Invalid(format!("{}: not a file or directory name", output.display())))?;
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok((dir, format!(".{}.tmp", name.to_string_lossy())))
}

/// A temporary sibling of an output file, from [`temp_file_for`].
#[derive(Debug)]
pub struct OutputTemp {
    // Dropped in this order: the file is deleted before its registration goes.
    file: tempfile::NamedTempFile,
    _registration: TempRegistration,
    /// The mode the temporary was created with (0666 minus the umask).
    mode: Option<std::fs::Permissions>,
}

impl OutputTemp {
    pub fn file(&self) -> &std::fs::File {
        self.file.as_file()
    }

    pub fn file_mut(&mut self) -> &mut std::fs::File {
        self.file.as_file_mut()
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Flushes the file to disk and renames it over `output`. A writer may have replaced the
    /// file at [`OutputTemp::path`] (safetensors' `serialize_to_file` writes its own private
    /// 0600 temporary and renames it over ours): what is there gets this temporary's mode and
    /// is synced before the rename.
    pub fn persist(self, output: &Path) -> Result<(), LfmError> {
        let sync_err = |e: std::io::Error| LfmError::io(output, format!("sync failed: {e}"));
        if let Some(mode) = &self.mode {
            std::fs::set_permissions(self.path(), mode.clone())
                .map_err(|e| LfmError::io(output, format!("cannot set the mode: {e}")))?;
        }
        std::fs::File::open(self.path()).and_then(|f| f.sync_all()).map_err(sync_err)?;
        self.file.as_file().sync_all().map_err(sync_err)?;
        self.file.persist(output).map_err(|e| LfmError::io(output, format!("rename failed: {}", e.error)))?;
        Ok(())
    }
}

/// A temporary file for writing `output` and renaming it into place: `.NAME.tmpXXXXXX` in
/// `output`'s directory, mode 0666 minus the umask (see [`temp_file_in`]). It is deleted when
/// dropped, removed on SIGINT/SIGTERM/SIGHUP while it exists ([`register_temp`]), and, named
/// after its output, one left by a SIGKILL is removed by the next writer that holds the
/// output's [`OutputLock`] ([`OutputLock::remove_stale_temps`]).
pub fn temp_file_for(output: &Path) -> Result<OutputTemp, LfmError> {
    let (dir, prefix) = temp_prefix(output)?;
    let file = temp_builder(&prefix)
        .tempfile_in(dir)
        .map_err(|e| LfmError::io(output, format!("cannot create a temporary file in {}: {e}", dir.display())))?;
    let registration = register_temp(file.path());
    let mode = file.as_file().metadata().ok().map(|m| m.permissions());
    Ok(OutputTemp { file, _registration: registration, mode })
}

/// Random characters after a temporary's prefix.
const TEMP_RAND: usize = 6;

/// Whether `name` is `prefix` followed by the random part of [`temp_file_for`]'s names, and
/// nothing else (so `.a.gguf.tmp` does not match the temporaries of `a.gguf.tmpx`).
fn is_temp_name(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|r| r.len() == TEMP_RAND && r.bytes().all(|c| c.is_ascii_alphanumeric()))
}

fn temp_builder(prefix: &str) -> tempfile::Builder<'_, '_> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix).rand_bytes(TEMP_RAND);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b
}

/// A temporary file in `dir` for a write-then-rename. Created with mode 0666 minus the
/// process umask, as `File::create` would, not tempfile's private 0600: the renamed result
/// must be readable by whoever the user's umask lets read their other files.
pub fn temp_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    temp_builder(".lfm-tmp-").tempfile_in(dir)
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
    path: PathBuf,
    output: PathBuf,
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
            Ok(()) => Ok(OutputLock { _file: file, path, output: output.to_path_buf() }),
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

    /// Removes the temporaries of this output ([`temp_file_for`]'s `.NAME.tmpXXXXXX`) that a
    /// killed writer left behind; returns how many. Only the lock holder may: any other
    /// writer of this output would hold the lock, so none of them is in use.
    pub fn remove_stale_temps(&self) -> Result<usize, LfmError> {
        let (dir, prefix) = temp_prefix(&self.output)?;
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(LfmError::io(dir, format!("cannot list: {e}"))),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| LfmError::io(dir, format!("cannot list: {e}")))?;
            if !is_temp_name(&entry.file_name().to_string_lossy(), &prefix) {
                continue;
            }
            let p = entry.path();
            let r = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            match r {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LfmError::io(&p, format!("cannot remove a stale temporary file: {e}"))),
            }
        }
        Ok(removed)
    }
}
