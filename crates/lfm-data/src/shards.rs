//! Corpus → tokenized parquet shards + `manifest.json`.
//!
//! The build streams: a reader thread pulls documents from the sources into bounded batches,
//! the tokenizer encodes each batch on all cores (`encode_batch`, rayon), and the writer appends
//! them to the current shard, so memory is bounded by a few batches plus one row group.
//!
//! Shard layout: one row per document, one column `ids: list<uint32>` holding
//! `<|startoftext|> tokens.. <|endoftext|>`; row groups of about `row_group_tokens` tokens (the
//! loader's shuffle unit); a shard closes once it holds `shard_tokens` tokens.
//!
//! Validation split: a document goes to `val` when a hash of (seed, its index in the stream)
//! falls below `val_fraction` — deterministic, independent of batch sizes and thread counts.
//!
//! Atomicity: everything is written into `<out>.partial/`, each shard as `*.tmp` renamed when
//! closed and checksummed, a copy of `tokenizer.json`, `manifest.json` last; then `<out>.partial` is renamed to `<out>`.
//! An interrupted build leaves only `<out>.partial`, which no loader opens.
//!
//! Exclusivity: the build holds [`lfm_model::io::OutputLock`] on `<out>` from its first check
//! to the final rename, so a second build on the same `--out` fails at once instead of deleting
//! the first one's `<out>.partial`.
//!
//! Several processes ([`build_ranked`], e.g. the ranks of `mpirun -np N lfm data build`, on a
//! shared file system): input file `i` goes to rank `i % N`, which writes its own shards
//! (`train-rR-NNNNN.parquet`) and the record of them (`part-R.json`) into `<out>.partial`; rank 0
//! holds the lock, prepares the directory, and once every rank is done merges the records in rank
//! order into `manifest.json` (last, atomic) and renames the directory into place. The validation
//! split hashes each document's index in its rank's stream, so the split (like the shard layout)
//! depends on N: a dataset is the same for the same inputs and the same N.

use std::fs::File;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use arrow_array::{ArrayRef, ListArray, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use indicatif::ProgressBar;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokenizers::Tokenizer;

use crate::source::{expand_inputs, DocStream, Document, ReadOptions, SourceStats};
use crate::tokenizer::{self, hex, one_line, BOS, END_OF_TEXT};

/// The manifest's `format` value.
pub const FORMAT: &str = "lfm-data/shards-v1";
/// Name of the id column.
pub const IDS_COLUMN: &str = "ids";

#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub inputs: Vec<String>,
    pub tokenizer: PathBuf,
    pub out: PathBuf,
    pub read: ReadOptions,
    /// A shard is closed once it holds this many tokens.
    pub shard_tokens: u64,
    /// A row group is flushed once it holds this many tokens (the loader's shuffle unit).
    pub row_group_tokens: u64,
    /// Fraction of documents held back for validation.
    pub val_fraction: f64,
    pub seed: u64,
    /// Documents per tokenizer batch.
    pub batch_docs: usize,
}

impl BuildOptions {
    pub fn new(inputs: Vec<String>, tokenizer: PathBuf, out: PathBuf) -> Self {
        Self {
            inputs,
            tokenizer,
            out,
            read: ReadOptions::default(),
            shard_tokens: 100_000_000,
            row_group_tokens: 1 << 20,
            val_fraction: 0.01,
            seed: 0,
            batch_docs: 512,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ShardInfo {
    pub file: String,
    pub documents: u64,
    pub tokens: u64,
    pub row_groups: u64,
    pub sha256: String,
    /// File size in bytes (absent in manifests written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SplitInfo {
    pub documents: u64,
    pub tokens: u64,
    pub shards: Vec<ShardInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TokenizerInfo {
    /// The copy inside the dataset directory (datasets are self-contained).
    pub path: String,
    /// Where it was copied from.
    pub source: String,
    pub sha256: String,
    pub vocab_size: usize,
    pub bos_id: u32,
    pub eos_id: u32,
}

/// `manifest.json`: what was built from what.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub tokenizer: TokenizerInfo,
    pub sources: Vec<SourceStats>,
    pub seed: u64,
    pub val_fraction: f64,
    pub shard_tokens: u64,
    pub row_group_tokens: u64,
    pub train: SplitInfo,
    pub val: SplitInfo,
}

impl Manifest {
    /// Reads `<dir>/manifest.json`; a directory without one is not a (complete) dataset.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let p = dir.join("manifest.json");
        if !p.exists() {
            if dir.with_extension("partial").exists() || dir.to_string_lossy().ends_with(".partial") {
                bail!("{}: incomplete build (no manifest.json); rebuild it", dir.display());
            }
            bail!("{}: no manifest.json (not a dataset built by `lfm data build`)", dir.display());
        }
        let text = std::fs::read_to_string(&p).with_context(|| format!("{}: cannot read", p.display()))?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| anyhow!("{}: invalid manifest: {e}", p.display()))?;
        if m.format != FORMAT {
            bail!("{}: format {:?}, expected {FORMAT:?}", p.display(), m.format);
        }
        for (what, rel) in std::iter::once(("tokenizer", &m.tokenizer.path))
            .chain(m.train.shards.iter().chain(&m.val.shards).map(|s| ("shard", &s.file)))
        {
            if !is_inside(rel) {
                bail!(
                    "{}: {what} path {rel:?} leaves the dataset directory (paths must be relative, without `..`)",
                    p.display()
                );
            }
        }
        Ok(m)
    }

    /// Every shard of both splits, train first.
    pub fn shards(&self) -> impl Iterator<Item = &ShardInfo> {
        self.train.shards.iter().chain(&self.val.shards)
    }

    /// Checks the dataset in `dir` as [`crate::verify::verify_dataset`] does, hashing every
    /// shard (no cache).
    pub fn verify(&self, dir: &Path) -> Result<()> {
        let expect = crate::verify::Expect { no_cache: true, ..Default::default() };
        let v = crate::verify::verify_dataset(dir, &expect, &ProgressBar::hidden())?;
        if v.manifest != *self {
            bail!("{}: changed since it was loaded", dir.join("manifest.json").display());
        }
        Ok(())
    }
}

/// A manifest path stays inside the dataset directory by its spelling: relative, and made of
/// plain names only (no `..`, no root, no drive prefix). Symlinks are checked where the files
/// are opened for verification ([`crate::verify`]).
fn is_inside(rel: &str) -> bool {
    !rel.is_empty() && Path::new(rel).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// sha256 of a file, streamed (shards can be hundreds of MB).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("{}: read failed", path.display()))?;
    Ok(hex(&h.finalize()))
}

fn schema() -> Arc<Schema> {
    let item = Arc::new(Field::new("item", DataType::UInt32, false));
    Arc::new(Schema::new(vec![Field::new(IDS_COLUMN, DataType::List(item), false)]))
}

/// One row group's worth of documents as a record batch.
pub fn ids_batch(docs: &[Vec<u32>]) -> Result<RecordBatch> {
    let mut offsets = Vec::with_capacity(docs.len() + 1);
    offsets.push(0i32);
    let total: usize = docs.iter().map(Vec::len).sum();
    if total > i32::MAX as usize {
        bail!("row group too large");
    }
    let mut values = Vec::with_capacity(total);
    for d in docs {
        values.extend_from_slice(d);
        offsets.push(values.len() as i32);
    }
    let item = Arc::new(Field::new("item", DataType::UInt32, false));
    let list = ListArray::try_new(
        item,
        arrow_buffer::OffsetBuffer::new(arrow_buffer::ScalarBuffer::from(offsets)),
        Arc::new(UInt32Array::from(values)),
        None,
    )?;
    Ok(RecordBatch::try_new(schema(), vec![Arc::new(list) as ArrayRef])?)
}

/// Writes one split's shards.
struct SplitWriter {
    dir: PathBuf,
    prefix: String,
    shard_tokens: u64,
    row_group_tokens: u64,
    props: WriterProperties,
    writer: Option<(ArrowWriter<File>, PathBuf, ShardInfo)>,
    pending: Vec<Vec<u32>>,
    pending_tokens: u64,
    info: SplitInfo,
}

impl SplitWriter {
    fn new(dir: &Path, prefix: String, opts: &BuildOptions) -> Self {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_size(usize::MAX)
            .set_created_by(format!("lfm-data {}", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            dir: dir.to_path_buf(),
            prefix,
            shard_tokens: opts.shard_tokens.max(1),
            row_group_tokens: opts.row_group_tokens.max(1),
            props,
            writer: None,
            pending: Vec::new(),
            pending_tokens: 0,
            info: SplitInfo::default(),
        }
    }

    fn push(&mut self, ids: Vec<u32>) -> Result<()> {
        self.pending_tokens += ids.len() as u64;
        self.pending.push(ids);
        let in_shard = self.writer.as_ref().map_or(0, |w| w.2.tokens);
        if self.pending_tokens >= self.row_group_tokens || in_shard + self.pending_tokens >= self.shard_tokens {
            self.flush_row_group()?;
        }
        Ok(())
    }

    fn flush_row_group(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.writer.is_none() {
            let n = self.info.shards.len();
            let file = format!("{}-{n:05}.parquet", self.prefix);
            let tmp = self.dir.join(format!("{file}.tmp"));
            let h = File::create(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
            let w = ArrowWriter::try_new(h, schema(), Some(self.props.clone()))?;
            let info = ShardInfo { file, documents: 0, tokens: 0, row_groups: 0, sha256: String::new(), bytes: None };
            self.writer = Some((w, tmp, info));
        }
        let (w, tmp, info) = self.writer.as_mut().unwrap();
        let batch = ids_batch(&self.pending)?;
        w.write(&batch).with_context(|| format!("{}: write failed", tmp.display()))?;
        w.flush().with_context(|| format!("{}: write failed", tmp.display()))?;
        info.documents += self.pending.len() as u64;
        info.tokens += self.pending_tokens;
        info.row_groups += 1;
        self.pending.clear();
        self.pending_tokens = 0;
        if info.tokens >= self.shard_tokens {
            self.close_shard()?;
        }
        Ok(())
    }

    fn close_shard(&mut self) -> Result<()> {
        let Some((w, tmp, mut info)) = self.writer.take() else { return Ok(()) };
        let f = w.into_inner().with_context(|| format!("{}: closing failed", tmp.display()))?;
        f.sync_all().ok();
        drop(f);
        info.sha256 = sha256_file(&tmp)?;
        info.bytes = Some(std::fs::metadata(&tmp).with_context(|| format!("{}: cannot stat", tmp.display()))?.len());
        let fin = self.dir.join(&info.file);
        std::fs::rename(&tmp, &fin).with_context(|| format!("{}: rename failed", fin.display()))?;
        self.info.documents += info.documents;
        self.info.tokens += info.tokens;
        self.info.shards.push(info);
        Ok(())
    }

    fn finish(mut self) -> Result<SplitInfo> {
        self.flush_row_group()?;
        self.close_shard()?;
        Ok(self.info)
    }
}

/// splitmix64: the per-document hash that decides the validation split.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn is_val(seed: u64, doc_index: u64, fraction: f64) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    let h = mix64(mix64(seed ^ 0x5eed) ^ doc_index);
    (h >> 11) as f64 / (1u64 << 53) as f64 <= fraction
}

/// Counters for the progress bar and the final report.
#[derive(Clone, Debug, Default)]
pub struct BuildReport {
    pub documents: u64,
    pub tokens: u64,
    pub seconds: f64,
}

/// The processes of a build: this one's rank and how many there are, and a barrier (MPI's,
/// for `mpirun ... lfm data build`). [`OneProcess`] is the plain build.
pub trait Ranks {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    /// Returns once every rank has called it.
    fn barrier(&self);
}

/// A build in one process.
pub struct OneProcess;

impl Ranks for OneProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn barrier(&self) {}
}

/// What one rank built: its shards and counts (`part-R.json` in a multi-process build).
#[derive(Serialize, Deserialize)]
struct Part {
    train: SplitInfo,
    val: SplitInfo,
    sources: Vec<SourceStats>,
    documents: u64,
    tokens: u64,
}

/// Builds the dataset; see the module doc. `progress` gets the input size as its length, the
/// text read so far as its position (an estimate: JSONL syntax and parquet compression make
/// the files' sizes differ from their text), and documents/s and tokens/s as its message.
pub fn build(opts: &BuildOptions, progress: &ProgressBar) -> Result<(Manifest, BuildReport)> {
    build_ranked(opts, progress, &OneProcess)
}

/// [`build`] as one of `ranks.size()` processes (see the module doc); every rank returns the
/// finished manifest and its own report.
pub fn build_ranked(opts: &BuildOptions, progress: &ProgressBar, ranks: &dyn Ranks) -> Result<(Manifest, BuildReport)> {
    let out = &opts.out;
    let (rank, size) = (ranks.rank(), ranks.size());
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    // Rank 0 checks and prepares the directory; the others wait for it.
    let lock = if rank == 0 {
        let lock = lfm_model::io::OutputLock::acquire(out, "lfm data build")?;
        if out.join("manifest.json").exists() {
            bail!("{}: already holds a dataset (remove it or choose another --out)", out.display());
        }
        if out.exists() && std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(false) {
            bail!("{}: exists and is not empty", out.display());
        }
        if partial.exists() {
            std::fs::remove_dir_all(&partial)
                .with_context(|| format!("{}: cannot remove a stale partial build", partial.display()))?;
        }
        Some(lock)
    } else {
        None
    };
    if !(0.0..1.0).contains(&opts.val_fraction) {
        bail!("--val-fraction must be in [0, 1), got {}", opts.val_fraction);
    }
    let tok = tokenizer::load(&opts.tokenizer)?;
    let tok_name = opts.tokenizer.display().to_string();
    let bos = tok.token_to_id(BOS).ok_or_else(|| anyhow!("{tok_name}: tokenizer has no {BOS} token"))?;
    let eos =
        tok.token_to_id(END_OF_TEXT).ok_or_else(|| anyhow!("{tok_name}: tokenizer has no {END_OF_TEXT} token"))?;
    let files: Vec<_> = expand_inputs(&opts.inputs)?
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % size == rank)
        .map(|(_, f)| f)
        .collect();
    if rank == 0 {
        std::fs::create_dir_all(&partial).with_context(|| format!("{}: cannot create", partial.display()))?;
    }
    ranks.barrier();
    let tag = if size > 1 { format!("-r{rank}") } else { String::new() };
    let result = build_into(opts, &tok, bos, eos, files, &partial, &tag, progress);
    let (part, mut report) = match result {
        Ok(x) => x,
        Err(e) => {
            if size == 1 {
                let _ = std::fs::remove_dir_all(&partial);
            }
            return Err(e);
        }
    };
    if size > 1 {
        let p = partial.join(format!("part-{rank}.json"));
        lfm_model::io::write_atomic(&p, serde_json::to_string(&part)?.as_bytes())?;
        ranks.barrier();
    }
    if rank == 0 {
        let parts = if size == 1 {
            vec![part]
        } else {
            (0..size)
                .map(|r| -> Result<Part> {
                    let p = partial.join(format!("part-{r}.json"));
                    let text = std::fs::read_to_string(&p).with_context(|| format!("{}: cannot read", p.display()))?;
                    serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", p.display()))
                })
                .collect::<Result<Vec<_>>>()?
        };
        let documents: u64 = parts.iter().map(|p| p.documents).sum();
        if documents == 0 {
            let _ = std::fs::remove_dir_all(&partial);
            bail!("{}: no documents (all inputs empty)", opts.inputs.join(", "));
        }
        let merge = |f: fn(&Part) -> &SplitInfo| SplitInfo {
            documents: parts.iter().map(|p| f(p).documents).sum(),
            tokens: parts.iter().map(|p| f(p).tokens).sum(),
            shards: parts.iter().flat_map(|p| f(p).shards.clone()).collect(),
        };
        let manifest = Manifest {
            format: FORMAT.into(),
            tokenizer: TokenizerInfo {
                path: "tokenizer.json".into(),
                source: opts.tokenizer.display().to_string(),
                sha256: tokenizer::file_sha256(&opts.tokenizer)?,
                vocab_size: tok.get_vocab_size(true),
                bos_id: bos,
                eos_id: eos,
            },
            sources: parts.iter().flat_map(|p| p.sources.clone()).collect(),
            seed: opts.seed,
            val_fraction: opts.val_fraction,
            shard_tokens: opts.shard_tokens,
            row_group_tokens: opts.row_group_tokens,
            train: merge(|p| &p.train),
            val: merge(|p| &p.val),
        };
        std::fs::copy(&opts.tokenizer, partial.join("tokenizer.json"))
            .with_context(|| format!("{}: cannot copy into the dataset", opts.tokenizer.display()))?;
        if size > 1 {
            for r in 0..size {
                let _ = std::fs::remove_file(partial.join(format!("part-{r}.json")));
            }
        }
        lfm_model::io::write_atomic(
            &partial.join("manifest.json"),
            serde_json::to_string_pretty(&manifest)?.as_bytes(),
        )?;
        if out.exists() {
            std::fs::remove_dir(out).with_context(|| format!("{}: cannot replace", out.display()))?;
        }
        std::fs::rename(&partial, out).with_context(|| format!("{}: rename failed", out.display()))?;
        drop(lock);
        if size > 1 {
            report.documents = documents;
            report.tokens = parts.iter().map(|p| p.tokens).sum();
        }
        ranks.barrier();
        Ok((manifest, report))
    } else {
        ranks.barrier();
        Ok((Manifest::load(out)?, report))
    }
}

/// Tokenizes `files` into shards in `dir` (named `train{tag}-NNNNN.parquet`, `val{tag}-...`).
#[allow(clippy::too_many_arguments)]
fn build_into(
    opts: &BuildOptions,
    tok: &Tokenizer,
    bos: u32,
    eos: u32,
    files: Vec<crate::source::SourceFile>,
    dir: &Path,
    tag: &str,
    progress: &ProgressBar,
) -> Result<(Part, BuildReport)> {
    let started = Instant::now();
    let batch_docs = opts.batch_docs.max(1);
    let input_bytes: u64 = files.iter().map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len())).sum();
    progress.set_length(input_bytes);
    let mut text_bytes = 0u64;
    let (tx, rx) = sync_channel::<Result<Vec<Document>>>(4);
    let read = opts.read.clone();
    let reader = std::thread::spawn(move || -> Vec<SourceStats> {
        let mut stream = DocStream::new(files, read);
        let mut batch = Vec::with_capacity(batch_docs);
        loop {
            match stream.next() {
                Some(Ok(d)) => {
                    batch.push(d);
                    if batch.len() == batch_docs && tx.send(Ok(std::mem::take(&mut batch))).is_err() {
                        break;
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(Err(e));
                    break;
                }
                None => {
                    if !batch.is_empty() {
                        let _ = tx.send(Ok(batch));
                    }
                    break;
                }
            }
        }
        stream.stats
    });

    let mut train = SplitWriter::new(dir, format!("train{tag}"), opts);
    let mut val = SplitWriter::new(dir, format!("val{tag}"), opts);
    let mut report = BuildReport::default();
    let mut doc_index = 0u64;
    let mut failure = None;
    for batch in rx.iter() {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let texts: Vec<&str> = batch.iter().map(|d| d.text.as_str()).collect();
        text_bytes += texts.iter().map(|t| t.len() as u64).sum::<u64>();
        let encs = match tok.encode_batch(texts, false) {
            Ok(e) => e,
            Err(e) => {
                failure = Some(anyhow!("tokenizing documents: {}", one_line(&e.to_string())));
                break;
            }
        };
        for enc in encs {
            let mut ids = Vec::with_capacity(enc.len() + 2);
            ids.push(bos);
            ids.extend_from_slice(enc.get_ids());
            ids.push(eos);
            report.tokens += ids.len() as u64;
            report.documents += 1;
            let w = if is_val(opts.seed, doc_index, opts.val_fraction) { &mut val } else { &mut train };
            doc_index += 1;
            w.push(ids)?;
        }
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        progress.set_position(text_bytes.min(input_bytes));
        progress.set_message(format!(
            "{} docs, {} tokens, {:.0} docs/s, {:.0} tok/s",
            report.documents,
            report.tokens,
            report.documents as f64 / secs,
            report.tokens as f64 / secs
        ));
    }
    drop(rx);
    let stats = reader.join().map_err(|_| anyhow!("document reader thread panicked"))?;
    if let Some(e) = failure {
        return Err(e);
    }
    let train = train.finish()?;
    let val = val.finish()?;
    report.seconds = started.elapsed().as_secs_f64();
    let part = Part { train, val, sources: stats, documents: report.documents, tokens: report.tokens };
    Ok((part, report))
}
