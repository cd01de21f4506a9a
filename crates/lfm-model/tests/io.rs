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
    // Checkpoints (model.safetensors, adapter_model.safetensors): safetensors replaces our
    // temporary with its own private one; the result still gets the umask's mode.
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny");
    let (cfg, model) = lfm_model::hf::load_dir(&tiny, &lfm_model::device::parse_device("cpu").unwrap()).unwrap();
    let ck = dir.path().join("ck");
    lfm_model::hf::save_dir(&model, &cfg, &ck).unwrap();
    assert_eq!(mode(&ck.join("model.safetensors")), mode(&plain));
    assert_eq!(mode(&ck.join("config.json")), mode(&plain));
}

#[test]
fn temporaries_are_named_after_their_output_and_stale_ones_swept_by_the_lock_holder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.gguf");
    let t = lfm_model::io::temp_file_for(&out).unwrap();
    let name = t.path().file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with(".m.gguf.tmp") && name.len() == ".m.gguf.tmp".len() + 6, "{name}");
    assert_eq!(t.path().parent(), Some(dir.path()));
    let kept = t.path().to_path_buf();
    drop(t);
    assert!(!kept.exists(), "a dropped temporary is deleted");

    // What killed writers of m.gguf left, and look-alikes that are not theirs.
    let stale = [".m.gguf.tmpAbC123", ".m.gguf.tmp000000"];
    let others = [".m.gguf.tmpfoo", ".m.gguf.tmpAbC1234", ".n.gguf.tmpAbC123", "m.gguf.tmpAbC123", ".m.gguf.tmp-x_y.z"];
    for n in stale.iter().chain(&others) {
        std::fs::write(dir.path().join(n), b"x").unwrap();
    }
    std::fs::create_dir(dir.path().join(".m.gguf.tmpDIR999")).unwrap();
    std::fs::write(dir.path().join(".m.gguf.tmpDIR999/inner"), b"x").unwrap();
    let lock = OutputLock::acquire(&out, "lfm export").unwrap();
    assert_eq!(lock.remove_stale_temps().unwrap(), 3);
    let mut left: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    left.sort();
    let mut want: Vec<String> = others.iter().map(|s| s.to_string()).chain([".m.gguf.lock".to_string()]).collect();
    want.sort();
    assert_eq!(left, want);
    // A live temporary of the lock holder's own write is the holder's business: written and
    // renamed into place, it leaves nothing behind.
    write_atomic(&out, b"data").unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"data");
    assert_eq!(lock.remove_stale_temps().unwrap(), 0);
}
