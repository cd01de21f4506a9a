//! Local corpora: turn `--input` arguments (files, directories, globs) into a stream of
//! documents, one at a time, so memory stays bounded by the largest single document.
//!
//! | extension | a document is | text taken from |
//! |---|---|---|
//! | `.txt`, `.text`, `.md` | the whole file | the file (must be UTF-8) |
//! | `.jsonl`, `.ndjson` | one line | the `text` field (configurable), or a chat `messages` list rendered with the LFM2 template |
//! | `.parquet` | one row | the `text` column (configurable): `string`, `large_string` or `string_view` |
//!
//! Invalid UTF-8, malformed JSON, a missing field or column and unreadable parquet are errors
//! naming the file (and line or row); empty documents are skipped and counted.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use arrow_array::{Array, LargeStringArray, RecordBatch, StringArray, StringViewArray};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use serde::{Deserialize, Serialize};

use crate::chat::{self, Conversation};
use crate::template::TextCodec;
use crate::tokenizer::one_line;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Jsonl,
    Parquet,
}

impl Format {
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "txt" | "text" | "md" => Some(Format::Text),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    pub format: Format,
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list directory", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if Format::of(&p).is_some() {
            out.push(p);
        }
    }
    Ok(())
}

/// Expands `--input` arguments in order: a file is taken as is (its extension must be known), a
/// directory contributes every file with a known extension under it (sorted, hidden entries
/// skipped), a glob its matches. Duplicates are dropped; an argument matching nothing is an error.
pub fn expand_inputs(inputs: &[String]) -> Result<Vec<SourceFile>> {
    if inputs.is_empty() {
        bail!("no --input given");
    }
    let mut out: Vec<SourceFile> = Vec::new();
    for arg in inputs {
        let mut paths = Vec::new();
        if is_glob(arg) {
            let matches = glob::glob(arg).map_err(|e| anyhow!("{arg}: bad glob pattern: {e}"))?;
            for m in matches {
                let p = m.map_err(|e| anyhow!("{arg}: {e}"))?;
                if p.is_dir() {
                    walk(&p, &mut paths)?;
                } else if Format::of(&p).is_some() {
                    paths.push(p);
                }
            }
        } else {
            let p = PathBuf::from(arg);
            if p.is_dir() {
                walk(&p, &mut paths)?;
            } else if p.exists() {
                if Format::of(&p).is_none() {
                    bail!("{arg}: unknown input format (expected .txt/.md, .jsonl or .parquet)");
                }
                paths.push(p);
            } else {
                bail!("{arg}: no such file or directory");
            }
        }
        if paths.is_empty() {
            bail!("{arg}: matched no .txt/.md/.jsonl/.parquet files");
        }
        for p in paths {
            let format = Format::of(&p).unwrap();
            if !out.iter().any(|s| s.path == p) {
                out.push(SourceFile { path: p, format });
            }
        }
    }
    Ok(out)
}

/// Which field/column holds the text, and how conversations become text.
#[derive(Clone)]
pub struct ReadOptions {
    /// JSONL field / parquet column with the text.
    pub text_field: String,
    /// JSONL field with a chat conversation, rendered with `chat`'s template.
    pub messages_field: String,
    /// The codec whose chat template renders conversations (the tokenizer's directory);
    /// `None` renders LFM2's built-in layout.
    pub chat: Option<std::sync::Arc<TextCodec>>,
}

impl std::fmt::Debug for ReadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOptions")
            .field("text_field", &self.text_field)
            .field("messages_field", &self.messages_field)
            .field("chat", &self.chat.as_ref().map(|c| c.prompt_source()))
            .finish()
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self { text_field: "text".into(), messages_field: "messages".into(), chat: None }
    }
}

/// One document: its text and where it came from.
#[derive(Clone, Debug)]
pub struct Document {
    pub text: String,
    /// Index into the source list.
    pub source: usize,
    /// Line (JSONL, 1-based), row (parquet, 0-based) or 0 (text file).
    pub row: u64,
}

/// Per-source counts, filled in while streaming.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceStats {
    pub path: String,
    pub format: Option<Format>,
    pub documents: u64,
    pub skipped_empty: u64,
    pub bytes: u64,
}

enum Open {
    Text(Option<String>),
    Jsonl { reader: BufReader<File>, line: u64 },
    Parquet { reader: ParquetRecordBatchReader, batch: Option<RecordBatch>, pos: usize, row: u64, column: usize },
}

/// Streams the documents of a list of source files in order.
pub struct DocStream {
    files: Vec<SourceFile>,
    opts: ReadOptions,
    next_file: usize,
    current: Option<(usize, Open)>,
    pub stats: Vec<SourceStats>,
    failed: bool,
}

impl DocStream {
    pub fn new(files: Vec<SourceFile>, opts: ReadOptions) -> Self {
        let stats = files
            .iter()
            .map(|f| SourceStats { path: f.path.display().to_string(), format: Some(f.format), ..Default::default() })
            .collect();
        Self { files, opts, next_file: 0, current: None, stats, failed: false }
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    fn open(&self, idx: usize) -> Result<Open> {
        let f = &self.files[idx];
        let p = &f.path;
        match f.format {
            Format::Text => {
                let mut bytes = Vec::new();
                File::open(p)
                    .and_then(|mut h| h.read_to_end(&mut bytes))
                    .with_context(|| format!("{}: cannot read", p.display()))?;
                let text = String::from_utf8(bytes)
                    .map_err(|e| anyhow!("{}: invalid UTF-8 at byte {}", p.display(), e.utf8_error().valid_up_to()))?;
                Ok(Open::Text(Some(text)))
            }
            Format::Jsonl => {
                let h = File::open(p).with_context(|| format!("{}: cannot open", p.display()))?;
                Ok(Open::Jsonl { reader: BufReader::with_capacity(1 << 20, h), line: 0 })
            }
            Format::Parquet => {
                let h = File::open(p).with_context(|| format!("{}: cannot open", p.display()))?;
                let builder = ParquetRecordBatchReaderBuilder::try_new(h).map_err(|e| {
                    anyhow!("{}: not a readable parquet file: {}", p.display(), one_line(&e.to_string()))
                })?;
                let schema = builder.schema().clone();
                let column = schema.index_of(&self.opts.text_field).map_err(|_| {
                    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                    anyhow!("{}: no column {:?} (columns: {})", p.display(), self.opts.text_field, names.join(", "))
                })?;
                use arrow_schema::DataType;
                match schema.field(column).data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {}
                    other => {
                        bail!("{}: column {:?} is {other}, not a string column", p.display(), self.opts.text_field)
                    }
                }
                let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [column]);
                let reader = builder
                    .with_projection(mask)
                    .with_batch_size(1024)
                    .build()
                    .map_err(|e| anyhow!("{}: {}", p.display(), one_line(&e.to_string())))?;
                Ok(Open::Parquet { reader, batch: None, pos: 0, row: 0, column: 0 })
            }
        }
    }

    /// The next raw (text, row) of the open file, or None at its end.
    fn next_raw(&mut self) -> Result<Option<(String, u64)>> {
        let (idx, open) = self.current.as_mut().unwrap();
        let p = &self.files[*idx].path;
        match open {
            Open::Text(t) => Ok(t.take().map(|t| (t, 0))),
            Open::Jsonl { reader, line } => {
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    let n =
                        reader.read_until(b'\n', &mut buf).with_context(|| format!("{}: read failed", p.display()))?;
                    if n == 0 {
                        return Ok(None);
                    }
                    *line += 1;
                    self.stats[*idx].bytes += n as u64;
                    let s = std::str::from_utf8(&buf)
                        .map_err(|e| anyhow!("{}:{}: invalid UTF-8 at byte {}", p.display(), line, e.valid_up_to()))?;
                    if s.trim().is_empty() {
                        continue;
                    }
                    let v: serde_json::Value =
                        serde_json::from_str(s).map_err(|e| anyhow!("{}:{}: invalid JSON: {e}", p.display(), line))?;
                    if let Some(t) = v.get(&self.opts.text_field) {
                        let t = t.as_str().ok_or_else(|| {
                            anyhow!("{}:{}: field {:?} is not a string", p.display(), line, self.opts.text_field)
                        })?;
                        return Ok(Some((t.to_string(), *line)));
                    }
                    if let Some(m) = v.get(&self.opts.messages_field) {
                        let conv = Conversation::from_value(&serde_json::json!({
                            "messages": m, "tools": v.get("tools").cloned().unwrap_or(serde_json::Value::Null)
                        }))
                        .map_err(|e| anyhow!("{}:{}: bad {:?}: {e}", p.display(), line, self.opts.messages_field))?;
                        let text = match &self.opts.chat {
                            Some(codec) => codec.render(&conv, false).map(|r| r.text),
                            None => chat::render(&conv, &chat::RenderOptions::default()).map(|r| r.text),
                        }
                        .map_err(|e| anyhow!("{}:{}: {e}", p.display(), line))?;
                        return Ok(Some((text, *line)));
                    }
                    bail!(
                        "{}:{}: no {:?} or {:?} field",
                        p.display(),
                        line,
                        self.opts.text_field,
                        self.opts.messages_field
                    );
                }
            }
            Open::Parquet { reader, batch, pos, row, column } => loop {
                if let Some(b) = batch {
                    if *pos < b.num_rows() {
                        let col = b.column(*column);
                        let i = *pos;
                        *pos += 1;
                        *row += 1;
                        let r = *row - 1;
                        let s = if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
                            (!a.is_null(i)).then(|| a.value(i).to_string())
                        } else if let Some(a) = col.as_any().downcast_ref::<LargeStringArray>() {
                            (!a.is_null(i)).then(|| a.value(i).to_string())
                        } else if let Some(a) = col.as_any().downcast_ref::<StringViewArray>() {
                            (!a.is_null(i)).then(|| a.value(i).to_string())
                        } else {
                            bail!("{}: text column has an unexpected array type", p.display());
                        };
                        self.stats[*idx].bytes += s.as_ref().map_or(0, |s| s.len() as u64);
                        return Ok(Some((s.unwrap_or_default(), r)));
                    }
                }
                match reader.next() {
                    None => return Ok(None),
                    Some(Ok(b)) => {
                        *batch = Some(b);
                        *pos = 0;
                    }
                    Some(Err(e)) => {
                        bail!("{}: corrupt parquet near row {}: {}", p.display(), row, one_line(&e.to_string()))
                    }
                }
            },
        }
    }
}

impl Iterator for DocStream {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Result<Document>> {
        if self.failed {
            return None;
        }
        loop {
            if self.current.is_none() {
                if self.next_file >= self.files.len() {
                    return None;
                }
                let idx = self.next_file;
                self.next_file += 1;
                match self.open(idx) {
                    Ok(o) => self.current = Some((idx, o)),
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
                if let Some((_, Open::Text(Some(t)))) = &self.current {
                    self.stats[idx].bytes += t.len() as u64;
                }
            }
            match self.next_raw() {
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                Ok(None) => self.current = None,
                Ok(Some((text, row))) => {
                    let idx = self.current.as_ref().unwrap().0;
                    if text.trim().is_empty() {
                        self.stats[idx].skipped_empty += 1;
                        continue;
                    }
                    self.stats[idx].documents += 1;
                    return Some(Ok(Document { text, source: idx, row }));
                }
            }
        }
    }
}
