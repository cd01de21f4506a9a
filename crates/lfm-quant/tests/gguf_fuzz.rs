//! Property tests of the GGUF reader on random and mutated files: every input is either a
//! valid file or a one-line error naming it — never a panic, never a huge allocation. Inputs
//! that do parse are then walked the way the model loader walks them (config, every tensor
//! decoded), which must not panic either.

use std::path::Path;

use burn::tensor::Device;
use lfm_quant::blocks::dequantize;
use lfm_quant::export::{build, Mix};
use lfm_quant::gguf::{Bytes, GgufFile};
use lfm_quant::import::config_from_gguf;
use proptest::prelude::*;

fn valid_file() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny");
    let (cfg, model) = lfm_model::hf::load_dir(&dir, &Device::default()).unwrap();
    let (w, _) = build(&model, &cfg, None, "fuzz", Mix::Q4_0, |_, _| {}).unwrap();
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("f.gguf");
    w.write(&p).unwrap();
    std::fs::read(p).unwrap()
}

fn check(bytes: Vec<u8>) {
    match GgufFile::parse(Bytes::Owned(bytes), "fuzz.gguf") {
        Err(e) => {
            let m = format!("{e:#}");
            assert!(m.starts_with("fuzz.gguf: ") && !m.contains('\n'), "{m}");
        }
        Ok(g) => {
            let _ = config_from_gguf(&g);
            for t in &g.tensors {
                assert_eq!(dequantize(t.ty, g.data(t)).len(), t.elements());
            }
        }
    }
}

thread_local! {
    static VALID: Vec<u8> = valid_file();
}

/// The header part of the valid file (metadata and tensor infos), where mutations matter most.
fn header_len() -> usize {
    VALID
        .with(|v| GgufFile::parse(Bytes::Owned(v.clone()), "x").unwrap().tensors.iter().map(|t| t.start).min().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_after_the_magic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut b = b"GGUF\x03\x00\x00\x00".to_vec();
        b.extend(tail);
        check(b);
    }

    #[test]
    fn mutated_headers(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let h = header_len();
        let mut b = VALID.with(|v| v.clone());
        for (i, byte) in edits {
            b[i.index(h)] = byte;
        }
        check(b);
    }

    #[test]
    fn mutated_length_fields(at in any::<prop::sample::Index>(), value in prop_oneof![Just(u64::MAX), Just(1u64 << 40), 0u64..100_000, Just(0u64)]) {
        // Overwrite 8 aligned-or-not bytes with a large or small integer: counts, lengths, dims, offsets.
        let h = header_len();
        let mut b = VALID.with(|v| v.clone());
        let i = at.index(h - 8);
        b[i..i + 8].copy_from_slice(&value.to_le_bytes());
        check(b);
    }

    #[test]
    fn truncated_anywhere(at in any::<prop::sample::Index>()) {
        let b = VALID.with(|v| v.clone());
        let n = at.index(b.len());
        check(b[..n].to_vec());
    }
}
