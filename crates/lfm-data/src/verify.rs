//! Checking a dataset before anything trains on it: a flipped bit, a deleted shard, a swapped
//! tokenizer or a manifest that points outside its directory is one error naming the file,
//! before step 1, instead of a wrong token, a panic deep in the model or a failure at step 61.
//!
//! [`verify_dataset`] checks, in order:
//! 1. `manifest.json` parses and every path in it is relative without `..` ([`Manifest::load`]);
//! 2. the dataset's `tokenizer.json` has the sha256 the manifest recorded, and, when the caller
//!    knows the tokenizer its model was trained with, that one has it too;
//! 3. every shard of both splits resolves (symlinks followed) to a file inside the dataset
//!    directory, exists, has the manifest's size and the manifest's sha256 (streamed);
//! 4. the validation split holds enough tokens when the caller needs one.
//!
//! **Cache.** Hashing a large dataset takes minutes, so a shard whose (size, mtime, ctime) are
//! those recorded when it last hashed to the manifest's checksum is not hashed again. The
//! ctime is in the key because no ordinary tool can set it back: rewriting a shard and
//! restoring its mtime (`touch -r`) still changes its ctime, so the shard is hashed again. A
//! shard changed less than [`SETTLE`] before it was hashed is not cached (as git treats "racy"
//! index entries): a file system's clock is coarse, and a write right after the hash could
//! leave all three unchanged. The
//! cache is `<dataset>/.lfm-verified.json`; where the dataset directory is not writable (a
//! shared read-only copy) it is [`Expect::cache_fallback`] instead (the trainer passes
//! `<run>/dataset-verified.json`). Either is written atomically and records the dataset's
//! canonical path, so a cache copied along with a dataset, or left in a run directory that now
//! trains on another dataset, is ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::shards::{sha256_file, Manifest};

/// Name of the cache file inside the dataset directory.
pub const CACHE_FILE: &str = ".lfm-verified.json";
const CACHE_FORMAT: &str = "lfm-data/verified-v1";
/// A shard whose mtime or ctime is this close to the moment it was hashed is not cached.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// What the caller needs of the dataset beyond its own consistency.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// The tokenizer the model was trained with (a checkpoint's `tokenizer.json`): its sha256
    /// must equal the manifest's.
    pub model_tokenizer: Option<PathBuf>,
    /// The validation split must hold at least this many tokens; the string says why (named in
    /// the error, e.g. "[run] eval_every = 50").
    pub val_tokens: Option<(u64, String)>,
    /// Where the cache goes when the dataset directory is not writable.
    pub cache_fallback: Option<PathBuf>,
    /// Hash every shard, and neither read nor write a cache (`lfm data inspect`).
    pub no_cache: bool,
}

/// What [`verify_dataset`] did.
#[derive(Clone, Debug)]
pub struct Verified {
    pub manifest: Manifest,
    /// Shards hashed this time (the others were in the cache).
    pub hashed: Vec<String>,
    /// Where the cache was read from or written to, if anywhere.
    pub cache: Option<PathBuf>,
}

/// One cache entry: the shard's identity when it last hashed to `sha256`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub bytes: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub sha256: String,
}

/// The cache file's contents.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Cache {
    pub format: String,
    /// Canonical path of the dataset directory the entries are about.
    pub dataset: String,
    /// Shard file (as in the manifest) → entry.
    pub shards: BTreeMap<String, CacheEntry>,
}

impl Cache {
    /// Reads a cache file; a missing, unreadable or foreign one is an empty cache.
    pub fn read(path: &Path, dataset: &Path) -> Cache {
        let fresh = Cache { format: CACHE_FORMAT.into(), dataset: dataset.display().to_string(), ..Default::default() };
        let Ok(text) = std::fs::read_to_string(path) else { return fresh };
        match serde_json::from_str::<Cache>(&text) {
            Ok(c) if c.format == CACHE_FORMAT && c.dataset == fresh.dataset => c,
            _ => fresh,
        }
    }
}

fn identity_time(t: std::time::SystemTime) -> i128 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(-1, |d| d.as_nanos() as i128)
}

/// (size, mtime, ctime) of a file, times in ns since the epoch (-1: unknown).
fn identity(meta: &std::fs::Metadata) -> (u64, i128, i128) {
    let ns = |t: std::io::Result<std::time::SystemTime>| t.map_or(-1, identity_time);
    #[cfg(unix)]
    let ctime = {
        use std::os::unix::fs::MetadataExt;
        meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128
    };
    #[cfg(not(unix))]
    let ctime = -1;
    (meta.len(), ns(meta.modified()), ctime)
}

fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}

/// Verifies the dataset in `dir` (see the module doc) and returns its manifest. `progress`
/// gets the number of shards to hash as its length, one position per shard hashed, and the
/// shard's name as its message.
pub fn verify_dataset(dir: &Path, expect: &Expect, progress: &ProgressBar) -> Result<Verified> {
    let manifest = Manifest::load(dir)?;
    let manifest_path = dir.join("manifest.json");
    let root = dir.canonicalize().with_context(|| format!("{}: cannot resolve", dir.display()))?;

    // A manifest path, resolved through symlinks, must stay inside the dataset directory.
    let resolve = |rel: &str, what: &str| -> Result<PathBuf> {
        let p = dir.join(rel);
        let real = p.canonicalize().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                anyhow!("{}: {what} listed in {} is missing", p.display(), manifest_path.display())
            }
            _ => anyhow!("{}: cannot resolve: {e}", p.display()),
        })?;
        if !real.starts_with(&root) {
            bail!("{}: {what} resolves to {}, outside the dataset directory", p.display(), real.display());
        }
        Ok(real)
    };

    // The tokenizer: the dataset's copy, and the model's.
    let tok = resolve(&manifest.tokenizer.path, "tokenizer")?;
    let tok_sha = sha256_file(&tok)?;
    if tok_sha != manifest.tokenizer.sha256 {
        bail!(
            "{}: sha256 {}… differs from the tokenizer sha256 {}… recorded in {} (the dataset's tokenizer was replaced; restore it or rebuild the dataset)",
            dir.join(&manifest.tokenizer.path).display(),
            short(&tok_sha),
            short(&manifest.tokenizer.sha256),
            manifest_path.display()
        );
    }
    if let Some(model_tok) = &expect.model_tokenizer {
        let sha = sha256_file(model_tok)?;
        if sha != manifest.tokenizer.sha256 {
            bail!(
                "{}: the model's tokenizer (sha256 {}…) is not the one the dataset was tokenized with ({}, sha256 {}…); rebuild the dataset with this tokenizer or train a model that uses the dataset's",
                model_tok.display(),
                short(&sha),
                dir.join(&manifest.tokenizer.path).display(),
                short(&manifest.tokenizer.sha256)
            );
        }
    }
    if let Some((need, why)) = &expect.val_tokens {
        if manifest.val.tokens < *need {
            bail!(
                "{}: {why} needs a validation split of at least {need} tokens, the dataset has {} (rebuild with --val-fraction > 0, or turn evaluation off)",
                manifest_path.display(),
                manifest.val.tokens
            );
        }
    }

    // Shards: where they are, their size, then the cache or their checksum.
    let own_cache = dir.join(CACHE_FILE);
    let (mut cache, mut cache_at) = if expect.no_cache {
        (Cache::default(), None)
    } else {
        (Cache::read(&own_cache, &root), own_cache.is_file().then(|| own_cache.clone()))
    };
    if cache.shards.is_empty() && !expect.no_cache {
        if let Some(f) = &expect.cache_fallback {
            cache = Cache::read(f, &root);
            cache_at = f.is_file().then(|| f.clone());
        }
    }
    let now_ns = identity_time(std::time::SystemTime::now());
    let settled = |e: &CacheEntry| e.mtime_ns.max(e.ctime_ns) + (SETTLE.as_nanos() as i128) < now_ns;
    let mut todo = Vec::new();
    let mut fresh = BTreeMap::new();
    for s in manifest.shards() {
        let real = resolve(&s.file, "shard")?;
        let p = dir.join(&s.file);
        let meta = std::fs::metadata(&real).with_context(|| format!("{}: cannot stat", p.display()))?;
        if !meta.is_file() {
            bail!("{}: not a file", p.display());
        }
        let (bytes, mtime_ns, ctime_ns) = identity(&meta);
        if let Some(want) = s.bytes {
            if bytes != want {
                bail!(
                    "{}: {bytes} bytes, {} records {want} (truncated or replaced)",
                    p.display(),
                    manifest_path.display()
                );
            }
        }
        let entry = CacheEntry { bytes, mtime_ns, ctime_ns, sha256: s.sha256.clone() };
        if cache.shards.get(&s.file) == Some(&entry) {
            fresh.insert(s.file.clone(), entry);
        } else {
            todo.push((s, real, entry));
        }
    }
    progress.set_length(todo.len() as u64);
    progress.set_position(0);
    let mut hashed = Vec::new();
    for (s, real, entry) in todo {
        let p = dir.join(&s.file);
        progress.set_message(format!("verifying {}", p.display()));
        let got = sha256_file(&real)?;
        if got != s.sha256 {
            bail!(
                "{}: checksum mismatch: sha256 {}…, {} records {}… (the shard is damaged; rebuild the dataset)",
                p.display(),
                short(&got),
                manifest_path.display(),
                short(&s.sha256)
            );
        }
        progress.inc(1);
        hashed.push(s.file.clone());
        if settled(&entry) {
            fresh.insert(s.file.clone(), entry);
        }
    }

    // Record what is now known good: in the dataset directory, else the fallback.
    if !expect.no_cache && (!hashed.is_empty() || cache.shards != fresh) {
        let body = Cache { format: CACHE_FORMAT.into(), dataset: root.display().to_string(), shards: fresh };
        let json = serde_json::to_string_pretty(&body)?;
        cache_at = match lfm_model::io::write_atomic(&own_cache, json.as_bytes()) {
            Ok(()) => Some(own_cache),
            Err(_) => match &expect.cache_fallback {
                Some(f) if lfm_model::io::write_atomic(f, json.as_bytes()).is_ok() => Some(f.clone()),
                _ => None,
            },
        };
    }
    Ok(Verified { manifest, hashed, cache: cache_at })
}
