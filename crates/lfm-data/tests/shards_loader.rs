//! Corpus → shards → loader, checked against an independent tokenization of the same documents.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;
use lfm_data::loader::{read_row_group, Cursor, Loader, LoaderConfig, Split};
use lfm_data::shards::Manifest;
use lfm_data::tokenizer;

/// Every document of a split, in shard/row-group order, straight from the parquet files.
fn all_docs(dir: &Path, m: &Manifest, split: Split) -> Vec<Vec<u32>> {
    let shards = if split == Split::Train { &m.train.shards } else { &m.val.shards };
    let mut out = Vec::new();
    for s in shards {
        for rg in 0..s.row_groups as usize {
            out.extend(read_row_group(&dir.join(&s.file), rg).unwrap());
        }
    }
    out
}

/// The reference: each JSONL line's text tokenized on its own, framed by BOS and EOS.
fn reference_docs(jsonl: &Path) -> Vec<Vec<u32>> {
    let tok = tokenizer::load(&fixture_tokenizer()).unwrap();
    std::fs::read_to_string(jsonl)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let mut ids = vec![1u32];
            ids.extend(tok.encode(v["text"].as_str().unwrap(), false).unwrap().get_ids());
            ids.push(2);
            ids
        })
        .collect()
}

fn multiset(docs: &[Vec<u32>]) -> HashMap<Vec<u32>, usize> {
    let mut m = HashMap::new();
    for d in docs {
        *m.entry(d.clone()).or_insert(0) += 1;
    }
    m
}

#[test]
fn build_writes_every_document_once_with_a_consistent_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let src = jargon_head(tmp.path(), 400);
    let out = tmp.path().join("ds");
    let m = build_small(&[&src], &out, 20_000, 4_000, 0.1);

    let reference = reference_docs(&src);
    let train = all_docs(&out, &m, Split::Train);
    let val = all_docs(&out, &m, Split::Val);
    let mut both = train.clone();
    both.extend(val.iter().cloned());
    assert_eq!(multiset(&both), multiset(&reference), "shards hold exactly the corpus' documents");
    // Within a split the build keeps stream order.
    let val_set = multiset(&val);
    let expect_train: Vec<Vec<u32>> = reference.iter().filter(|d| !val_set.contains_key(*d)).cloned().collect();
    assert_eq!(train, expect_train);

    // Manifest counts and checksums.
    assert_eq!(m.train.documents as usize, train.len());
    assert_eq!(m.val.documents as usize, val.len());
    assert_eq!(m.train.tokens as usize, train.iter().map(Vec::len).sum::<usize>());
    assert_eq!(m.sources.len(), 1);
    assert_eq!(m.sources[0].documents, 400);
    assert!(m.train.shards.len() > 3, "20k-token shards: {}", m.train.shards.len());
    assert!(m
        .train
        .shards
        .iter()
        .all(|s| s.row_groups >= 1 && s.tokens >= 4_000 || s.file == m.train.shards.last().unwrap().file));
    // ~10% validation (binomial: 400 docs, p = 0.1 -> 40 ± 6).
    assert!((20..=65).contains(&val.len()), "val docs {}", val.len());
    assert_eq!(m.tokenizer.sha256, tokenizer::file_sha256(&fixture_tokenizer()).unwrap());
    assert_eq!(
        tokenizer::file_sha256(&out.join(&m.tokenizer.path)).unwrap(),
        m.tokenizer.sha256,
        "the dataset carries its tokenizer"
    );
    assert_eq!(Manifest::load(&out).unwrap(), m);
    m.verify(&out).unwrap();
    assert!(!Path::new(&format!("{}.partial", out.display())).exists());

    // A second build with the same seed is byte-identical.
    let out2 = tmp.path().join("ds2");
    let m2 = build_small(&[&src], &out2, 20_000, 4_000, 0.1);
    assert_eq!(m2.train.shards, m.train.shards);
}

#[test]
fn loader_packs_documents_into_overlapping_windows_in_stream_order() {
    let tmp = tempfile::tempdir().unwrap();
    let src = jargon_head(tmp.path(), 120);
    let out = tmp.path().join("ds");
    let m = build_small(&[&src], &out, 1 << 40, 1 << 40, 0.0);
    // No shuffle, one epoch: the windows must tile the concatenated documents.
    let cfg = LoaderConfig { shuffle: false, max_epochs: Some(1), ..LoaderConfig::train(3, 16, 0) };
    let stream: Vec<u32> = all_docs(&out, &m, Split::Train).concat();
    let mut cur = Cursor::new(&out, cfg, None).unwrap();
    let mut k = 0usize;
    while let Some(b) = cur.next_batch().unwrap() {
        assert_eq!(b.tokens.len(), 3 * 17);
        for i in 0..3 {
            assert_eq!(b.window(i), &stream[k * 16..k * 16 + 17], "window {k}");
            k += 1;
        }
    }
    // All complete batches were produced: what is left is less than one batch.
    assert!(stream.len() - 1 - k * 16 < 3 * 16, "{} tokens, {k} windows", stream.len());
}

#[test]
fn resume_replays_the_next_batches_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let src = jargon_slice(tmp.path(), 100, 30);
    let out = tmp.path().join("ds");
    let m = build_small(&[&src], &out, 3_000, 800, 0.0);
    assert!(m.train.tokens < 12_000 && m.train.shards.len() >= 2, "{} tokens", m.train.tokens);
    let cfg = LoaderConfig::train(4, 64, 1234);
    // Uninterrupted: N + K batches (enough to cross several epochs of this small split).
    let (n, k) = (37, 60);
    let mut full = Loader::new(&out, cfg.clone(), None).unwrap();
    let mut saved = None;
    let mut tail = Vec::new();
    for i in 0..n + k {
        let b = full.next_batch().unwrap().unwrap();
        if i == n - 1 {
            saved = Some(serde_json::to_string(&b.state).unwrap());
        }
        if i >= n {
            tail.push(b);
        }
    }
    assert!(tail.last().unwrap().epoch >= 2, "the test should cross epoch boundaries");
    // Interrupted: a fresh loader from the serialized state.
    let state = serde_json::from_str(&saved.unwrap()).unwrap();
    let mut resumed = Loader::new(&out, cfg.clone(), Some(state)).unwrap();
    for (i, want) in tail.iter().enumerate() {
        let got = resumed.next_batch().unwrap().unwrap();
        assert_eq!(&got, want, "batch {} after resume", n + i);
    }
    // A state from another configuration is refused.
    let other = LoaderConfig::train(4, 32, 1234);
    let e = Loader::new(&out, other, Some(tail[0].state.clone())).err().unwrap().to_string();
    assert!(e.contains("loader state was saved with"), "{e}");
}

#[test]
fn shuffling_is_seeded_and_changes_every_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let src = jargon_head(tmp.path(), 300);
    let out = tmp.path().join("ds");
    let m = build_small(&[&src], &out, 15_000, 3_000, 0.0);
    let first = |seed: u64, epoch: u64| {
        let c = Cursor::new(&out, LoaderConfig::train(2, 32, seed), None).unwrap();
        c.units_of_epoch(epoch)
    };
    assert_eq!(first(1, 0), first(1, 0));
    assert_ne!(first(1, 0), first(2, 0));
    assert_ne!(first(1, 0), first(1, 1));
    // Every epoch visits every unit once.
    let total: usize = m.train.shards.iter().map(|s| s.row_groups as usize).sum();
    let mut u = first(1, 3);
    u.sort();
    u.dedup();
    assert_eq!(u.len(), total);
    // Batches from the same seed are equal; other seeds give other batches.
    let batches = |seed| {
        let mut l = Loader::new(&out, LoaderConfig::train(2, 32, seed), None).unwrap();
        (0..5).map(|_| l.next_batch().unwrap().unwrap().tokens).collect::<Vec<_>>()
    };
    assert_eq!(batches(7), batches(7));
    assert_ne!(batches(7), batches(8));
}

#[test]
fn ranks_split_the_row_groups_without_overlap() {
    let tmp = tempfile::tempdir().unwrap();
    let src = jargon_head(tmp.path(), 300);
    let out = tmp.path().join("ds");
    let m = build_small(&[&src], &out, 15_000, 3_000, 0.0);
    let total: usize = m.train.shards.iter().map(|s| s.row_groups as usize).sum();
    for world in [2usize, 3] {
        for epoch in [0u64, 1] {
            let mut seen = Vec::new();
            for rank in 0..world {
                let cfg = LoaderConfig { rank, world_size: world, ..LoaderConfig::train(2, 32, 5) };
                let units = Cursor::new(&out, cfg, None).unwrap().units_of_epoch(epoch);
                assert!(!units.is_empty());
                seen.extend(units);
            }
            let n = seen.len();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), n, "world {world}: a unit went to two ranks");
            assert_eq!(n, total, "world {world}: ranks must cover the split");
        }
    }
    // The token streams of two ranks are disjoint sets of documents.
    let docs_of = |rank| {
        let cfg =
            LoaderConfig { rank, world_size: 2, shuffle: false, max_epochs: Some(1), ..LoaderConfig::train(1, 8, 5) };
        let mut c = Cursor::new(&out, cfg, None).unwrap();
        let mut toks = Vec::new();
        while let Some(b) = c.next_batch().unwrap() {
            toks.extend_from_slice(&b.tokens[1..]);
        }
        toks.len()
    };
    let all: usize = m.train.tokens as usize;
    let (a, b) = (docs_of(0), docs_of(1));
    assert!(a + b <= all && a + b + 2 * 9 >= all - 2, "rank tokens {a} + {b} vs {all}");
}

#[test]
fn validation_loader_reads_the_val_split_once_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let src = jargon_head(tmp.path(), 400);
    let out = tmp.path().join("ds");
    let m = build_small(&[&src], &out, 1 << 40, 1 << 40, 0.2);
    let stream: Vec<u32> = all_docs(&out, &m, Split::Val).concat();
    let mut l = Loader::new(&out, LoaderConfig::val(2, 32), None).unwrap();
    let mut got = Vec::new();
    while let Some(b) = l.next_batch().unwrap() {
        assert_eq!(b.epoch, 0);
        got.push(b);
    }
    assert_eq!(got.len(), (stream.len() - 1) / 32 / 2);
    assert_eq!(got[0].window(0), &stream[..33]);
}
