//! The reader's checks on files with very many metadata keys and tensor infos: a duplicate key
//! or tensor name anywhere (here: the last entry) and overlapping tensors are still found, and
//! lookups by name find every entry. The headers are written byte by byte here, independently
//! of the crate's writer (which refuses duplicates). The parse times are printed, not asserted
//! (timing belongs to benchmarks); before the checks were made linear, 200k keys took minutes.

use std::time::Instant;

use lfm_quant::gguf::{Bytes, GgufFile, Value};

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend((s.len() as u64).to_le_bytes());
    b.extend(s.as_bytes());
}

/// A GGUF v3 image: `keys` u32 metadata entries, then 1-element f32 tensors at the given data
/// offsets (multiples of 32), then the data section.
fn image(keys: &[String], tensors: &[(String, u64)]) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend((tensors.len() as u64).to_le_bytes());
    b.extend((keys.len() as u64).to_le_bytes());
    for (i, k) in keys.iter().enumerate() {
        put_str(&mut b, k);
        b.extend(4u32.to_le_bytes());
        b.extend((i as u32).to_le_bytes());
    }
    let mut end = 0;
    for (name, offset) in tensors {
        put_str(&mut b, name);
        b.extend(1u32.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        b.extend(0u32.to_le_bytes()); // f32
        b.extend(offset.to_le_bytes());
        end = end.max(offset + 4);
    }
    b.resize(b.len().div_ceil(32) * 32 + end as usize, 0);
    b
}

fn parse(b: Vec<u8>) -> (anyhow::Result<GgufFile>, f64) {
    let t = Instant::now();
    let r = GgufFile::parse(Bytes::Owned(b), "many.gguf");
    (r, t.elapsed().as_secs_f64())
}

#[test]
fn two_hundred_thousand_metadata_keys() {
    let n = 200_000;
    let mut keys: Vec<String> = (0..n).map(|i| format!("x.key.{i}")).collect();
    let (g, secs) = parse(image(&keys, &[]));
    println!("{n} keys parsed in {secs:.3} s");
    let g = g.unwrap();
    assert_eq!(g.kv.len(), n);
    for i in [0, 1, n / 2, n - 1] {
        assert_eq!(g.get(&format!("x.key.{i}")), Some(&Value::U32(i as u32)));
    }
    assert_eq!(g.get("x.key.missing"), None);
    // The last key repeats one from the middle: refused, naming it.
    keys[n - 1] = format!("x.key.{}", n / 3);
    let (e, secs) = parse(image(&keys, &[]));
    println!("{n} keys with a duplicate refused in {secs:.3} s");
    let e = format!("{:#}", e.err().expect("duplicate key accepted"));
    assert_eq!(e, format!("many.gguf: duplicate metadata key \"x.key.{}\"", n / 3));
}

#[test]
fn a_hundred_thousand_tensor_infos() {
    let n = 100_000;
    let mut tensors: Vec<(String, u64)> = (0..n).map(|i| (format!("t.{i}"), 32 * i as u64)).collect();
    let (g, secs) = parse(image(&[], &tensors));
    println!("{n} tensor infos parsed in {secs:.3} s");
    let g = g.unwrap();
    for i in [0, n / 2, n - 1] {
        let t = g.tensor(&format!("t.{i}")).unwrap();
        assert_eq!(g.data(t).len(), 4);
        assert_eq!(t.start - g.tensor("t.0").unwrap().start, 32 * i);
    }
    assert!(g.tensor("t.missing").is_none());

    // The last name repeats the first.
    let last = tensors[n - 1].clone();
    tensors[n - 1].0 = "t.0".into();
    let (e, secs) = parse(image(&[], &tensors));
    println!("{n} tensor infos with a duplicate name refused in {secs:.3} s");
    assert_eq!(format!("{:#}", e.err().expect("duplicate tensor accepted")), "many.gguf: duplicate tensor \"t.0\"");

    // The last tensor placed on top of one in the middle.
    tensors[n - 1] = (last.0.clone(), 32 * (n as u64 / 2));
    let (e, _) = parse(image(&[], &tensors));
    let e = format!("{:#}", e.err().expect("overlap accepted"));
    assert!(e.starts_with("many.gguf: tensors ") && e.ends_with(" overlap"), "{e}");
    assert!(e.contains(&format!("t.{}", n / 2)) && e.contains(&last.0), "{e}");
}
