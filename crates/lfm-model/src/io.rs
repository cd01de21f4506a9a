//! File writes that must never leave a half-written file behind.

use std::path::Path;

use crate::error::LfmError;

/// Writes `bytes` to `path` through a temporary sibling, flushed to disk, then renamed over
/// `path`: readers see the old file or the whole new one, never a prefix. Every crate writes
/// its result files (configs, manifests, summaries, metrics) through this one function.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LfmError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| LfmError::io(dir, format!("cannot create a temporary file: {e}")))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| LfmError::io(path, format!("write failed: {e}")))?;
    tmp.as_file().sync_all().map_err(|e| LfmError::io(path, format!("sync failed: {e}")))?;
    tmp.persist(path).map_err(|e| LfmError::io(path, format!("rename failed: {}", e.error)))?;
    Ok(())
}
