//! Dataset verification before training: every kind of damage is one error naming the file,
//! and the cache skips hashing only shards whose size, mtime and ctime are unchanged.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::*;
use indicatif::ProgressBar;
use lfm_data::loader::{Loader, LoaderConfig};
use lfm_data::shards::Manifest;
use lfm_data::verify::{verify_dataset, Cache, Expect, Verified, CACHE_FILE, SETTLE};

fn verify(dir: &Path, expect: &Expect) -> anyhow::Result<Verified> {
    verify_dataset(dir, expect, &ProgressBar::hidden())
}

/// The error of `verify`, checked to be one line naming `file` and containing `what`.
fn fails(dir: &Path, expect: &Expect, file: &Path, what: &str) -> String {
    let e = format!("{:#}", verify(dir, expect).expect_err("verification should fail"));
    assert!(!e.contains('\n'), "multi-line: {e}");
    assert!(e.contains(&file.display().to_string()), "does not name {}: {e}", file.display());
    assert!(e.contains(what), "lacks {what:?}: {e}");
    e
}

/// A dataset of several train shards and a validation split.
fn dataset(dir: &Path) -> (PathBuf, Manifest) {
    let src = jargon_head(dir, 300);
    let out = dir.join("ds");
    let m = build_small(&[&src], &out, 20_000, 4_000, 0.1);
    assert!(m.train.shards.len() >= 3 && !m.val.shards.is_empty());
    (out, m)
}

/// xorshift64*: the test's own offsets, reproducible.
fn next(x: &mut u64) -> u64 {
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn a_flipped_bit_anywhere_in_any_shard_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (ds, m) = dataset(tmp.path());
    verify(&ds, &Expect::default()).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..12 {
        let shards: Vec<_> = m.shards().collect();
        let s = shards[next(&mut x) as usize % shards.len()];
        let path = ds.join(&s.file);
        let good = std::fs::read(&path).unwrap();
        let mut bad = good.clone();
        let at = next(&mut x) as usize % bad.len();
        bad[at] ^= 1 << (next(&mut x) % 8);
        std::fs::write(&path, &bad).unwrap();
        let e = fails(&ds, &Expect::default(), &path, "checksum mismatch");
        println!("round {round}: bit flipped in {} at byte {at}: {e}", s.file);
        std::fs::write(&path, &good).unwrap();
        verify(&ds, &Expect::default()).unwrap();
    }
}

#[test]
fn missing_truncated_and_replaced_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (ds, m) = dataset(tmp.path());
    // A deleted shard (the last one of train, and the validation split's).
    for s in [m.train.shards.last().unwrap(), &m.val.shards[0]] {
        let p = ds.join(&s.file);
        let keep = std::fs::read(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        fails(&ds, &Expect::default(), &p, "missing");
        std::fs::write(&p, &keep).unwrap();
    }
    // Truncated: the size differs from the manifest's.
    let p = ds.join(&m.train.shards[1].file);
    let keep = std::fs::read(&p).unwrap();
    std::fs::write(&p, &keep[..keep.len() - 1]).unwrap();
    fails(&ds, &Expect::default(), &p, "bytes");
    std::fs::write(&p, &keep).unwrap();
    // The dataset's tokenizer swapped for another one (here: one token's text changed).
    let tok = ds.join("tokenizer.json");
    let keep = std::fs::read(&tok).unwrap();
    let other = tmp.path().join("other/tokenizer.json");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    let text = String::from_utf8(keep.clone()).unwrap();
    assert!(text.contains("\"<|fim_pre|>\""));
    std::fs::write(&other, text.replace("\"<|fim_pre|>\"", "\"<|fim_prefix|>\"")).unwrap();
    std::fs::copy(&other, &tok).unwrap();
    let e = fails(&ds, &Expect::default(), &tok, "manifest.json");
    assert!(e.contains("sha256"), "{e}");
    std::fs::write(&tok, &keep).unwrap();
    // The model's tokenizer is not the dataset's: both are named.
    let expect = Expect { model_tokenizer: Some(other.clone()), ..Default::default() };
    let e = fails(&ds, &expect, &other, "not the one the dataset was tokenized with");
    assert!(e.contains(&tok.display().to_string()), "{e}");
    let same = Expect { model_tokenizer: Some(fixture_tokenizer()), ..Default::default() };
    verify(&ds, &same).unwrap();
}

#[test]
fn manifest_paths_cannot_leave_the_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let (ds, m) = dataset(tmp.path());
    let manifest = ds.join("manifest.json");
    let original = std::fs::read_to_string(&manifest).unwrap();
    let with_shard =
        |name: &str| original.replacen(&format!("\"{}\"", m.train.shards[0].file), &format!("{name:?}"), 1);
    for bad in ["../../../etc/passwd", "/etc/passwd", "sub/../../x.parquet"] {
        std::fs::write(&manifest, with_shard(bad)).unwrap();
        let e = fails(&ds, &Expect::default(), &manifest, "leaves the dataset directory");
        assert!(e.contains(bad), "{e}");
        // Every reader of the manifest refuses it, the loader included.
        let e = Loader::new(&ds, LoaderConfig::train(1, 8, 0), None).err().unwrap().to_string();
        assert!(e.contains("leaves the dataset directory"), "{e}");
    }
    // The tokenizer path too.
    std::fs::write(&manifest, original.replacen("\"tokenizer.json\"", "\"../tok/tokenizer.json\"", 1)).unwrap();
    fails(&ds, &Expect::default(), &manifest, "leaves the dataset directory");
    // A symlink inside the directory that points outside it.
    #[cfg(unix)]
    {
        let outside = tmp.path().join("outside.parquet");
        std::fs::copy(ds.join(&m.train.shards[0].file), &outside).unwrap();
        std::os::unix::fs::symlink(&outside, ds.join("link.parquet")).unwrap();
        std::fs::write(&manifest, with_shard("link.parquet")).unwrap();
        fails(&ds, &Expect::default(), &ds.join("link.parquet"), "outside the dataset directory");
    }
    std::fs::write(&manifest, &original).unwrap();
    verify(&ds, &Expect::default()).unwrap();
}

#[test]
fn a_required_validation_split_must_be_there() {
    let tmp = tempfile::tempdir().unwrap();
    let src = jargon_head(tmp.path(), 60);
    let ds = tmp.path().join("noval");
    let m = build_small(&[&src], &ds, 1 << 40, 4_000, 0.0);
    assert_eq!(m.val.tokens, 0);
    let need = Expect { val_tokens: Some((65, "[run] eval_every = 5".into())), ..Default::default() };
    let e = fails(&ds, &need, &ds.join("manifest.json"), "[run] eval_every = 5");
    assert!(e.contains("validation split"), "{e}");
    verify(&ds, &Expect::default()).unwrap();
}

#[test]
fn token_ids_beyond_the_vocabulary_are_an_error_naming_the_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let src = jargon_head(tmp.path(), 60);
    let ds = tmp.path().join("ds");
    let m = build_small(&[&src], &ds, 1 << 40, 1 << 40, 0.0);
    // The fixture tokenizer (vocab 512: 270 specials and bytes, then merges) uses ids above 300.
    let cfg = LoaderConfig { vocab_size: Some(300), ..LoaderConfig::train(2, 16, 0) };
    let mut l = Loader::new(&ds, cfg, None).unwrap();
    let e = l.next_batch().unwrap_err().to_string();
    assert!(e.contains(&m.train.shards[0].file) && e.contains("vocab_size 300") && !e.contains('\n'), "{e}");
    // With the real vocabulary the same shard loads.
    let cfg = LoaderConfig { vocab_size: Some(512), ..LoaderConfig::train(2, 16, 0) };
    Loader::new(&ds, cfg, None).unwrap().next_batch().unwrap().unwrap();
}

#[test]
fn the_cache_records_shards_and_rehashes_a_changed_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (ds, m) = dataset(tmp.path());
    let all: Vec<String> = m.shards().map(|s| s.file.clone()).collect();
    // Shards written moments ago are not cached (a coarse clock could hide a later write).
    let v = verify(&ds, &Expect::default()).unwrap();
    assert_eq!(v.hashed, all);
    std::thread::sleep(SETTLE + Duration::from_millis(200));
    let v = verify(&ds, &Expect::default()).unwrap();
    assert_eq!(v.hashed, all, "nothing was cached yet");
    assert_eq!(v.cache.as_deref(), Some(ds.join(CACHE_FILE).as_path()));
    // The cache file records every shard with its size, mtime and checksum.
    let canon = ds.canonicalize().unwrap();
    let cache = Cache::read(&ds.join(CACHE_FILE), &canon);
    assert_eq!(cache.shards.keys().cloned().collect::<std::collections::BTreeSet<_>>(), all.iter().cloned().collect());
    for s in m.shards() {
        let e = &cache.shards[&s.file];
        let meta = std::fs::metadata(ds.join(&s.file)).unwrap();
        assert_eq!(e.bytes, meta.len());
        assert_eq!(Some(e.bytes), s.bytes);
        assert_eq!(e.sha256, s.sha256);
        let mtime = meta.modified().unwrap().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as i128;
        assert_eq!(e.mtime_ns, mtime);
    }
    // Nothing changed: nothing is hashed.
    let v = verify(&ds, &Expect::default()).unwrap();
    assert!(v.hashed.is_empty(), "{:?}", v.hashed);
    // A new mtime (same bytes): that shard alone is hashed again.
    let touched = ds.join(&all[1]);
    let f = std::fs::File::options().write(true).open(&touched).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600)).unwrap();
    drop(f);
    let v = verify(&ds, &Expect::default()).unwrap();
    assert_eq!(v.hashed, vec![all[1].clone()]);
    // A flipped bit with the old mtime put back is still found (the ctime changed).
    std::thread::sleep(SETTLE + Duration::from_millis(200));
    verify(&ds, &Expect::default()).unwrap();
    assert!(verify(&ds, &Expect::default()).unwrap().hashed.is_empty());
    let target = ds.join(&all[0]);
    let mtime = std::fs::metadata(&target).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&target).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&target, &bytes).unwrap();
    std::fs::File::options().write(true).open(&target).unwrap().set_modified(mtime).unwrap();
    fails(&ds, &Expect::default(), &target, "checksum mismatch");
    // A different size is refused before any hashing.
    bytes[mid] ^= 0x10;
    bytes.push(0);
    std::fs::write(&target, &bytes).unwrap();
    fails(&ds, &Expect::default(), &target, "bytes");
}

#[test]
fn an_unwritable_dataset_directory_caches_in_the_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let (ds, m) = dataset(tmp.path());
    std::thread::sleep(SETTLE + Duration::from_millis(200));
    // The cache cannot be written in the dataset (a directory stands at its name; a mode
    // would not stop root), so it goes to the fallback and is used from there.
    std::fs::create_dir(ds.join(CACHE_FILE)).unwrap();
    let fallback = tmp.path().join("run/dataset-verified.json");
    std::fs::create_dir_all(fallback.parent().unwrap()).unwrap();
    let expect = Expect { cache_fallback: Some(fallback.clone()), ..Default::default() };
    let v = verify(&ds, &expect).unwrap();
    assert_eq!(v.hashed.len(), m.shards().count());
    assert_eq!(v.cache.as_deref(), Some(fallback.as_path()));
    let again = verify(&ds, &expect).unwrap();
    assert!(again.hashed.is_empty(), "{:?}", again.hashed);
    // Without the fallback nothing is cached, and verification still works.
    assert_eq!(verify(&ds, &Expect::default()).unwrap().hashed.len(), m.shards().count());
}
