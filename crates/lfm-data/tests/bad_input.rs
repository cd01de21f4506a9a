//! Bad input: a one-line error naming the file (and line/row), or a counted skip; never a
//! panic, never a silently short dataset, never a dataset directory left behind.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use indicatif::ProgressBar;
use lfm_data::loader::{Loader, LoaderConfig};
use lfm_data::shards::{build, BuildOptions};
use parquet::arrow::ArrowWriter;

fn try_build(inputs: &[&Path], out: &Path) -> anyhow::Result<lfm_data::shards::Manifest> {
    let o = BuildOptions::new(
        inputs.iter().map(|p| p.display().to_string()).collect(),
        fixture_tokenizer(),
        out.to_path_buf(),
    );
    build(&o, &ProgressBar::hidden()).map(|x| x.0)
}

fn write_parquet(path: &Path, col: &str, values: Vec<Option<&str>>) {
    let schema =
        Arc::new(Schema::new(vec![Field::new(col, DataType::Utf8, true), Field::new("id", DataType::Int64, false)]));
    let n = values.len() as i64;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(values)) as ArrayRef, Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef],
    )
    .unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// The error is one line, names `file`, and nothing was left at `out` or `out.partial`.
fn assert_clean_error(e: anyhow::Error, file: &Path, also: &str, out: &Path) {
    let msg = format!("{e:#}");
    assert!(!msg.contains('\n'), "multi-line error: {msg}");
    assert!(msg.contains(&file.display().to_string()), "error does not name {}: {msg}", file.display());
    assert!(msg.contains(also), "error lacks {also:?}: {msg}");
    assert!(!out.exists(), "{} left behind", out.display());
    assert!(!PathBuf::from(format!("{}.partial", out.display())).exists(), "partial build left behind");
}

#[test]
fn mixed_sources_text_jsonl_parquet_chat_and_empty_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("corpus");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.txt"), "A plain text file is one document.\nWith two lines.").unwrap();
    std::fs::write(dir.join("sub/b.md"), "   \n\n").unwrap(); // empty: skipped and counted
    std::fs::write(dir.join("ignored.csv"), "not,an,input").unwrap();
    std::fs::write(
        dir.join("c.jsonl"),
        "{\"text\": \"first\"}\n\n{\"text\": \"\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}\n",
    )
    .unwrap();
    write_parquet(&dir.join("d.parquet"), "text", vec![Some("row zero"), None, Some("row two")]);
    let out = tmp.path().join("ds");
    let m = try_build(&[&dir], &out).unwrap();
    let per: Vec<(String, u64, u64)> = m
        .sources
        .iter()
        .map(|s| (Path::new(&s.path).file_name().unwrap().to_string_lossy().into_owned(), s.documents, s.skipped_empty))
        .collect();
    assert_eq!(
        per,
        vec![("a.txt".into(), 1, 0), ("c.jsonl".into(), 2, 1), ("d.parquet".into(), 2, 1), ("b.md".into(), 0, 1),]
    );
    assert_eq!(m.train.documents + m.val.documents, 5);
    // The chat record was rendered with the chat template.
    let tok = lfm_data::tokenizer::load(&fixture_tokenizer()).unwrap();
    let docs: Vec<Vec<u32>> = lfm_data::loader::read_row_group(&out.join(&m.train.shards[0].file), 0).unwrap();
    let texts: Vec<String> = docs.iter().map(|d| tok.decode(d, false).unwrap()).collect();
    assert!(
        texts.iter().any(|t| t.contains("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>")),
        "{texts:?}"
    );
    // Globs work too.
    let out2 = tmp.path().join("ds2");
    let m2 = try_build(&[Path::new(&format!("{}/*.jsonl", dir.display()))], &out2).unwrap();
    assert_eq!(m2.sources.len(), 1);
}

#[test]
fn invalid_utf8_is_reported_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let txt = tmp.path().join("bad.txt");
    std::fs::write(&txt, b"good start \xff\xfe bad").unwrap();
    let out = tmp.path().join("ds");
    assert_clean_error(try_build(&[&txt], &out).unwrap_err(), &txt, "invalid UTF-8 at byte 11", &out);

    let jl = tmp.path().join("bad.jsonl");
    std::fs::write(&jl, b"{\"text\": \"ok\"}\n{\"text\": \"\xc3\x28\"}\n").unwrap();
    assert_clean_error(try_build(&[&jl], &out).unwrap_err(), &jl, ":2: invalid UTF-8", &out);
}

#[test]
fn malformed_jsonl_is_reported_with_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let jl = tmp.path().join("bad.jsonl");
    std::fs::write(&jl, "{\"text\": \"ok\"}\n{\"text\": \"ok\"}\n{\"text\": broken\n").unwrap();
    assert_clean_error(try_build(&[&jl], &out).unwrap_err(), &jl, ":3: invalid JSON", &out);
    std::fs::write(&jl, "{\"body\": \"no text field\"}\n").unwrap();
    assert_clean_error(try_build(&[&jl], &out).unwrap_err(), &jl, ":1: no \"text\" or \"messages\" field", &out);
    std::fs::write(&jl, "{\"text\": 5}\n").unwrap();
    assert_clean_error(try_build(&[&jl], &out).unwrap_err(), &jl, "not a string", &out);
}

#[test]
fn parquet_without_the_text_column_names_the_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let p = tmp.path().join("d.parquet");
    write_parquet(&p, "content", vec![Some("x")]);
    assert_clean_error(try_build(&[&p], &out).unwrap_err(), &p, "no column \"text\" (columns: content, id)", &out);
}

#[test]
fn truncated_or_garbage_parquet_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let good = tmp.path().join("good.parquet");
    let rows: Vec<String> = (0..2000).map(|i| format!("document number {i} with some text")).collect();
    write_parquet(&good, "text", rows.iter().map(|s| Some(s.as_str())).collect());
    let bytes = std::fs::read(&good).unwrap();
    let cut = tmp.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_clean_error(try_build(&[&good, &cut], &out).unwrap_err(), &cut, "not a readable parquet file", &out);
    let junk = tmp.path().join("junk.parquet");
    std::fs::write(&junk, b"PAR1 this is not parquet at all PAR1").unwrap();
    assert_clean_error(try_build(&[&junk], &out).unwrap_err(), &junk, "parquet", &out);
    // Corrupt column data behind an intact footer: flip bytes in the middle of the data pages.
    let mut flipped = bytes.clone();
    for b in &mut flipped[200..600] {
        *b ^= 0x5a;
    }
    let bad = tmp.path().join("flipped.parquet");
    std::fs::write(&bad, &flipped).unwrap();
    assert_clean_error(try_build(&[&bad], &out).unwrap_err(), &bad, "parquet", &out);
}

#[test]
fn unknown_inputs_and_existing_outputs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let csv = tmp.path().join("x.csv");
    std::fs::write(&csv, "a,b").unwrap();
    assert_clean_error(try_build(&[&csv], &out).unwrap_err(), &csv, "unknown input format", &out);
    let missing = tmp.path().join("nope.txt");
    assert_clean_error(try_build(&[&missing], &out).unwrap_err(), &missing, "no such file", &out);
    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    assert_clean_error(try_build(&[&empty], &out).unwrap_err(), &empty, "no documents", &out);

    let src = jargon_head(tmp.path(), 20);
    try_build(&[&src], &out).unwrap();
    let e = try_build(&[&src], &out).unwrap_err().to_string();
    assert!(e.contains("already holds a dataset"), "{e}");
}

#[test]
fn tokenizer_without_lfm2_specials_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let tok_path = tmp.path().join("tokenizer.json");
    let mut t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_tokenizer()).unwrap()).unwrap();
    t["added_tokens"] = serde_json::json!([]);
    let vocab = t["model"]["vocab"].as_object_mut().unwrap();
    vocab.remove("<|endoftext|>");
    std::fs::write(&tok_path, t.to_string()).unwrap();
    let src = jargon_head(tmp.path(), 5);
    let out = tmp.path().join("ds");
    let o = BuildOptions::new(vec![src.display().to_string()], tok_path.clone(), out.clone());
    let e = build(&o, &ProgressBar::hidden()).unwrap_err();
    assert_clean_error(e, &tok_path, "no <|endoftext|> token", &out);
}

#[test]
fn loader_refuses_incomplete_and_corrupt_datasets() {
    let tmp = tempfile::tempdir().unwrap();
    let src = jargon_head(tmp.path(), 100);
    let out = tmp.path().join("ds");
    let m = build_small(&[&src], &out, 1 << 40, 2_000, 0.0);
    // No manifest: not a dataset.
    let partial = tmp.path().join("other");
    std::fs::create_dir_all(&partial).unwrap();
    let e = Loader::new(&partial, LoaderConfig::train(1, 8, 0), None).err().unwrap().to_string();
    assert!(e.contains("no manifest.json"), "{e}");
    // A damaged shard: verify names it, the loader reports it instead of panicking.
    let shard = out.join(&m.train.shards[0].file);
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() - 100]).unwrap();
    let e = m.verify(&out).unwrap_err().to_string();
    // Truncation changes the size the manifest records: found before any hashing.
    assert!(e.contains(&m.train.shards[0].file) && e.contains("bytes"), "{e}");
    let mut l = Loader::new(&out, LoaderConfig::train(1, 8, 0), None).unwrap();
    let e = l.next_batch().unwrap_err().to_string();
    assert!(e.contains(&m.train.shards[0].file) && !e.contains('\n'), "{e}");
}
