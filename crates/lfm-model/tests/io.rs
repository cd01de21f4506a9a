//! Output files: the run lock and file modes.

use std::path::Path;

use lfm_model::io::{write_atomic, OutputLock};

#[test]
fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let first = OutputLock::acquire(&out, "lfm train").unwrap();
    // flock locks belong to an open file description, so a second open in this process
    // conflicts exactly as a second process would.
    let err = OutputLock::acquire(&out, "lfm train").unwrap_err().to_string();
    assert!(err.contains("another lfm train is writing here"), "{err}");
    assert!(err.contains(&out.display().to_string()), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Another output next to it is independent.
    let _other = OutputLock::acquire(&dir.path().join("run2"), "lfm train").unwrap();
    drop(first);
    // The lock file stays behind; it does not block once nobody holds it.
    assert!(dir.path().join(".run.lock").exists());
    OutputLock::acquire(&out, "lfm train").unwrap();
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn atomic_writes_get_the_same_mode_as_a_plain_create() {
    let dir = tempfile::tempdir().unwrap();
    // The reference: whatever File::create gives under this process's umask.
    let plain = dir.path().join("plain");
    std::fs::File::create(&plain).unwrap();
    let atomic = dir.path().join("atomic.json");
    write_atomic(&atomic, b"{}").unwrap();
    assert_eq!(mode(&atomic), mode(&plain));
    let sub = lfm_model::io::temp_dir_in(dir.path(), ".x-").unwrap();
    let made = dir.path().join("made");
    std::fs::create_dir(&made).unwrap();
    assert_eq!(mode(sub.path()), mode(&made));
}
