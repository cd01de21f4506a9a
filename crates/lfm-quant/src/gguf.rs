//! GGUF v3 files: a writer and a validating reader.
//!
//! Hand-written from the GGUF specification (ggml's `docs/gguf.md`): no maintained Rust crate
//! writes GGUF outside a full inference engine. Layout: magic `GGUF`, version, tensor count,
//! metadata count, metadata key/values, tensor infos (name, dims fastest-first, ggml type,
//! offset), padding to the alignment, then the tensor data, each tensor at an aligned offset
//! from the start of the data section. All integers little-endian.
//!
//! The reader checks every length and offset against the file size before using it, so a
//! truncated or corrupted file is a one-line error (file name, problem), never a panic or an
//! allocation sized by garbage.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use memmap2::Mmap;

use crate::blocks::GgmlType;

pub const MAGIC: &[u8; 4] = b"GGUF";
pub const DEFAULT_ALIGNMENT: usize = 32;

/// A metadata value (GGUF value types 0..=12).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    /// Element type id and the elements (all of that type).
    Array(u32, Vec<Value>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Value {
    pub fn type_id(&self) -> u32 {
        match self {
            Value::U8(_) => 0,
            Value::I8(_) => 1,
            Value::U16(_) => 2,
            Value::I16(_) => 3,
            Value::U32(_) => 4,
            Value::I32(_) => 5,
            Value::F32(_) => 6,
            Value::Bool(_) => 7,
            Value::Str(_) => 8,
            Value::Array(..) => 9,
            Value::U64(_) => 10,
            Value::I64(_) => 11,
            Value::F64(_) => 12,
        }
    }

    /// An array of strings.
    pub fn strings<S: Into<String>>(v: impl IntoIterator<Item = S>) -> Value {
        Value::Array(8, v.into_iter().map(|s| Value::Str(s.into())).collect())
    }

    /// An array of i32.
    pub fn i32s(v: impl IntoIterator<Item = i32>) -> Value {
        Value::Array(5, v.into_iter().map(Value::I32).collect())
    }

    /// Any integer type as u64 (negative values are `None`).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v as u64),
            Value::U16(v) => Some(v as u64),
            Value::U32(v) => Some(v as u64),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v as f64),
            Value::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(_, v) => Some(v),
            _ => None,
        }
    }

    fn write(&self, w: &mut Vec<u8>) {
        match self {
            Value::U8(v) => w.push(*v),
            Value::I8(v) => w.push(*v as u8),
            Value::U16(v) => w.extend(v.to_le_bytes()),
            Value::I16(v) => w.extend(v.to_le_bytes()),
            Value::U32(v) => w.extend(v.to_le_bytes()),
            Value::I32(v) => w.extend(v.to_le_bytes()),
            Value::F32(v) => w.extend(v.to_le_bytes()),
            Value::Bool(v) => w.push(*v as u8),
            Value::Str(s) => write_str(w, s),
            Value::Array(t, items) => {
                w.extend(t.to_le_bytes());
                w.extend((items.len() as u64).to_le_bytes());
                for it in items {
                    debug_assert_eq!(it.type_id(), *t, "GGUF arrays are homogeneous");
                    it.write(w);
                }
            }
            Value::U64(v) => w.extend(v.to_le_bytes()),
            Value::I64(v) => w.extend(v.to_le_bytes()),
            Value::F64(v) => w.extend(v.to_le_bytes()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) if s.len() > 60 => {
                write!(f, "{:?}… ({} bytes)", &s[..s.char_indices().nth(60).map(|x| x.0).unwrap_or(s.len())], s.len())
            }
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Array(_, v) if v.len() > 8 => write!(f, "[{}, {}, … ({} items)]", v[0], v[1], v.len()),
            Value::Array(_, v) => write!(f, "[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")),
            Value::Bool(b) => write!(f, "{b}"),
            Value::F32(x) => write!(f, "{x}"),
            Value::F64(x) => write!(f, "{x}"),
            other => write!(f, "{}", other.as_u64().map(|v| v.to_string()).unwrap_or_else(|| format!("{other:?}"))),
        }
    }
}

fn write_str(w: &mut Vec<u8>, s: &str) {
    w.extend((s.len() as u64).to_le_bytes());
    w.extend(s.as_bytes());
}

fn align_up(x: usize, a: usize) -> usize {
    x.div_ceil(a) * a
}

/// A tensor to write: name, GGUF dims (fastest first), type and encoded bytes.
pub struct WriteTensor {
    pub name: String,
    pub dims: Vec<usize>,
    pub ty: GgmlType,
    pub data: Vec<u8>,
}

/// Collects metadata and tensors, then writes the file atomically.
#[derive(Default)]
pub struct GgufWriter {
    /// Metadata in insertion order; add and replace entries with [`GgufWriter::set`].
    pub kv: Vec<(String, Value)>,
    pub tensors: Vec<WriteTensor>,
    /// Position of each key in `kv`, so that `set` stays O(1) for files with many keys.
    index: HashMap<String, usize>,
}

impl GgufWriter {
    /// Sets `key` (replacing its value if it is already there).
    pub fn set(&mut self, key: &str, v: Value) {
        match self.index.get(key) {
            Some(&i) => self.kv[i].1 = v,
            None => {
                self.index.insert(key.to_string(), self.kv.len());
                self.kv.push((key.to_string(), v));
            }
        }
    }

    pub fn add_tensor(&mut self, t: WriteTensor) {
        let n: usize = t.dims.iter().product();
        assert_eq!(
            t.data.len(),
            t.ty.row_bytes(n),
            "{}: {} bytes for {n} {} elements",
            t.name,
            t.data.len(),
            t.ty.name()
        );
        self.tensors.push(t);
    }

    /// The header (everything before the data section, padded to the alignment).
    fn header(&self) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend(MAGIC);
        h.extend(3u32.to_le_bytes());
        h.extend((self.tensors.len() as u64).to_le_bytes());
        h.extend((self.kv.len() as u64).to_le_bytes());
        for (k, v) in &self.kv {
            write_str(&mut h, k);
            h.extend(v.type_id().to_le_bytes());
            v.write(&mut h);
        }
        let mut offset = 0usize;
        for t in &self.tensors {
            write_str(&mut h, &t.name);
            h.extend((t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                h.extend((*d as u64).to_le_bytes());
            }
            h.extend(t.ty.id().to_le_bytes());
            h.extend((offset as u64).to_le_bytes());
            offset = align_up(offset + t.data.len(), DEFAULT_ALIGNMENT);
        }
        h.resize(align_up(h.len(), DEFAULT_ALIGNMENT), 0);
        h
    }

    /// Writes to a temporary file next to `path` (`.NAME.tmpXXXXXX`, see
    /// [`lfm_model::io::temp_file_for`]) and renames it into place: a failed or interrupted
    /// export leaves no partial `path`, and errors (a full disk…) name `path`.
    pub fn write(&self, path: &Path) -> Result<u64> {
        let mut tmp = lfm_model::io::temp_file_for(path)?;
        let failed = |e: std::io::Error| anyhow!("{}: write failed: {e}", path.display());
        let pause = test_write_pause();
        let header = self.header();
        let mut written = header.len();
        {
            let mut f = std::io::BufWriter::new(tmp.file_mut());
            f.write_all(&header).map_err(failed)?;
            for t in &self.tensors {
                f.write_all(&t.data).map_err(failed)?;
                let end = align_up(t.data.len(), DEFAULT_ALIGNMENT);
                f.write_all(&vec![0u8; end - t.data.len()]).map_err(failed)?;
                written += end;
                if let Some(d) = pause {
                    f.flush().map_err(failed)?;
                    std::thread::sleep(d);
                }
            }
            f.flush().map_err(failed)?;
        }
        tmp.persist(path)?;
        Ok(written as u64)
    }
}

/// `LFM_TEST_WRITE_PAUSE_MS`: a pause after each tensor written, so that tests can interrupt
/// an export in the middle of its write (a test hook, not a setting).
fn test_write_pause() -> Option<std::time::Duration> {
    let ms: u64 = std::env::var("LFM_TEST_WRITE_PAUSE_MS").ok()?.parse().ok()?;
    Some(std::time::Duration::from_millis(ms))
}

/// A tensor described in a GGUF header.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub name: String,
    /// Dims, fastest first (`ne`).
    pub dims: Vec<usize>,
    pub ty: GgmlType,
    /// Byte offset of the data from the start of the file.
    pub start: usize,
    pub nbytes: usize,
}

impl TensorInfo {
    pub fn elements(&self) -> usize {
        self.dims.iter().product()
    }
}

/// Bytes of a GGUF file (memory-mapped or owned).
pub enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An opened, validated GGUF file.
///
/// Keys and tensor names are unique (the reader refuses duplicates); [`GgufFile::get`] and
/// [`GgufFile::tensor`] look them up by hash, so every check and lookup is linear in the
/// size of the header overall.
pub struct GgufFile {
    pub path: String,
    pub version: u32,
    pub kv: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: usize,
    pub bytes: Arc<Bytes>,
    /// Position of each key in `kv` and of each tensor in `tensors`.
    kv_index: HashMap<String, usize>,
    tensor_index: HashMap<String, usize>,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.b.len() - self.pos < n {
            bail!("truncated: {what} needs {n} bytes at offset {}, only {} left", self.pos, self.b.len() - self.pos);
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    fn len(&mut self, what: &str) -> Result<usize> {
        let n = self.u64(what)?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.b.len() - self.pos)
            .ok_or_else(|| anyhow!("{what} of {n} bytes runs past the end of the file"))
    }
    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.len(what)?;
        let s = self.take(n, what)?;
        String::from_utf8(s.to_vec()).map_err(|_| anyhow!("{what} is not valid UTF-8"))
    }
    fn value(&mut self, ty: u32, what: &str, depth: usize) -> Result<Value> {
        Ok(match ty {
            0 => Value::U8(self.u8(what)?),
            1 => Value::I8(self.u8(what)? as i8),
            2 => Value::U16(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap())),
            3 => Value::I16(i16::from_le_bytes(self.take(2, what)?.try_into().unwrap())),
            4 => Value::U32(self.u32(what)?),
            5 => Value::I32(self.u32(what)? as i32),
            6 => Value::F32(f32::from_bits(self.u32(what)?)),
            7 => match self.u8(what)? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => bail!("{what}: bool byte {b} is neither 0 nor 1"),
            },
            8 => Value::Str(self.string(what)?),
            9 => {
                if depth > 0 {
                    bail!("{what}: nested arrays are not supported");
                }
                let et = self.u32(what)?;
                let n = self.u64(what)?;
                // Every element takes at least one byte: a count beyond the file is corrupt.
                if n > (self.b.len() - self.pos) as u64 {
                    bail!("{what}: array of {n} elements runs past the end of the file");
                }
                if et > 12 {
                    bail!("{what}: unknown array element type {et}");
                }
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(self.value(et, what, depth + 1)?);
                }
                Value::Array(et, items)
            }
            10 => Value::U64(self.u64(what)?),
            11 => Value::I64(self.u64(what)? as i64),
            12 => Value::F64(f64::from_bits(self.u64(what)?)),
            t => bail!("{what}: unknown value type {t}"),
        })
    }
}

impl GgufFile {
    /// Opens and validates a GGUF file (memory-mapped).
    pub fn open(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        // SAFETY: mapping is unsafe because the bytes are then read as a `&[u8]` that a write
        // to the file would change underneath, and a truncation would cut short (a SIGBUS on
        // access). The map is read-only; as for every memory-mapped model loader, the contract
        // is that the file is not modified in place while it is mapped. This crate's GGUF
        // writer writes a temporary file and renames it over the path, which leaves an
        // existing map intact; other writers (other processes) cannot be guarded against here.
        let map = unsafe { Mmap::map(&f) }.with_context(|| format!("{}: cannot map", path.display()))?;
        Self::parse(Bytes::Mapped(map), &path.display().to_string())
    }

    /// Parses a GGUF image held in memory (`name` is used in error messages).
    pub fn parse(bytes: Bytes, name: &str) -> Result<Self> {
        // Names and keys come from the file: control characters are escaped so that the
        // error stays on one line.
        Self::parse_inner(bytes, name).map_err(|e| {
            let msg: String = format!("{e:#}")
                .chars()
                .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
                .collect();
            anyhow!("{name}: {msg}")
        })
    }

    fn parse_inner(bytes: Bytes, name: &str) -> Result<Self> {
        let b: &[u8] = &bytes;
        let mut c = Cursor { b, pos: 0 };
        if c.take(4, "magic").map_err(|_| anyhow!("not a GGUF file (shorter than the 4-byte magic)"))? != MAGIC {
            bail!("not a GGUF file (bad magic)");
        }
        let version = c.u32("version")?;
        if !(2..=3).contains(&version) {
            bail!("unsupported GGUF version {version} (2 and 3 are supported)");
        }
        let n_tensors = c.u64("tensor count")?;
        let n_kv = c.u64("metadata count")?;
        // A key/value takes at least 8+1+4+1 bytes, a tensor info at least 8+1+4+8+4+8.
        if n_kv > (b.len() / 14) as u64 || n_tensors > (b.len() / 33) as u64 {
            bail!("header claims {n_kv} metadata entries and {n_tensors} tensors, more than the file can hold");
        }
        // Duplicates are found with hash maps (a scan of the entries so far made a header of
        // 100k keys take 14 s, and a crafted 21 MB file half an hour).
        let mut kv = Vec::with_capacity(n_kv as usize);
        let mut kv_index = HashMap::with_capacity(n_kv as usize);
        for i in 0..n_kv {
            let key = c.string(&format!("metadata key #{i}"))?;
            let ty = c.u32(&format!("type of {key}"))?;
            let v = c.value(ty, &key, 0)?;
            match kv_index.entry(key) {
                Entry::Occupied(e) => bail!("duplicate metadata key {:?}", e.key()),
                Entry::Vacant(e) => {
                    kv.push((e.key().clone(), v));
                    e.insert(kv.len() - 1);
                }
            }
        }
        let alignment = match kv_index.get("general.alignment").map(|&i| &kv[i].1) {
            None => DEFAULT_ALIGNMENT,
            Some(Value::U32(a)) if a.is_power_of_two() => *a as usize,
            Some(v) => bail!("general.alignment must be a power-of-two u32, found {v:?}"),
        };
        let mut infos = Vec::with_capacity(n_tensors as usize);
        let mut tensor_index = HashMap::with_capacity(n_tensors as usize);
        for i in 0..n_tensors {
            let tname = c.string(&format!("tensor name #{i}"))?;
            let nd = c.u32(&format!("dimension count of {tname}"))?;
            if !(1..=4).contains(&nd) {
                bail!("tensor {tname}: {nd} dimensions (1 to 4 supported)");
            }
            let mut dims = Vec::new();
            let mut n: u64 = 1;
            for _ in 0..nd {
                let d = c.u64(&format!("dimensions of {tname}"))?;
                if d == 0 {
                    bail!("tensor {tname}: zero-sized dimension");
                }
                n = n
                    .checked_mul(d)
                    .filter(|&n| n <= (b.len() as u64) * 8)
                    .ok_or_else(|| anyhow!("tensor {tname}: dimensions {dims:?}×{d} are larger than the file"))?;
                dims.push(d as usize);
            }
            let tid = c.u32(&format!("type of {tname}"))?;
            let ty = GgmlType::from_id(tid).ok_or_else(|| {
                anyhow!("tensor {tname}: unsupported ggml type id {tid} (supported: f32, f16, bf16, q8_0, q4_0, q5_0, q5_1, q4_K, q5_K, q6_K)")
            })?;
            if dims[0] % ty.block_size() != 0 {
                bail!(
                    "tensor {tname}: row length {} is not a multiple of the {} block size {}",
                    dims[0],
                    ty.name(),
                    ty.block_size()
                );
            }
            let offset = c.u64(&format!("offset of {tname}"))?;
            if offset % alignment as u64 != 0 {
                bail!("tensor {tname}: offset {offset} is not aligned to {alignment}");
            }
            let nbytes = ty.row_bytes(n as usize);
            match tensor_index.entry(tname) {
                Entry::Occupied(e) => bail!("duplicate tensor {:?}", e.key()),
                Entry::Vacant(e) => {
                    infos.push((e.key().clone(), dims, ty, offset, nbytes));
                    e.insert(infos.len() - 1);
                }
            }
        }
        let data_start = align_up(c.pos, alignment);
        let mut tensors = Vec::with_capacity(infos.len());
        for (tname, dims, ty, offset, nbytes) in infos {
            let start = (data_start as u64)
                .checked_add(offset)
                .filter(|s| s.checked_add(nbytes as u64).is_some_and(|e| e <= b.len() as u64));
            let Some(start) = start else {
                bail!("truncated: tensor {tname} ({nbytes} bytes at data offset {offset}) runs past the end of the file ({} bytes)", b.len());
            };
            tensors.push(TensorInfo { name: tname, dims, ty, start: start as usize, nbytes });
        }
        // Tensors must not overlap.
        let mut spans: Vec<(usize, usize, &str)> =
            tensors.iter().map(|t| (t.start, t.start + t.nbytes, t.name.as_str())).collect();
        spans.sort();
        for w in spans.windows(2) {
            if w[1].0 < w[0].1 {
                bail!("tensors {} and {} overlap", w[0].2, w[1].2);
            }
        }
        Ok(GgufFile {
            path: name.to_string(),
            version,
            kv,
            tensors,
            alignment,
            bytes: Arc::new(bytes),
            kv_index,
            tensor_index,
        })
    }

    /// The value of a metadata key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.kv_index.get(key).map(|&i| &self.kv[i].1)
    }

    /// The tensor of that name.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    pub fn data(&self, t: &TensorInfo) -> &[u8] {
        &self.bytes[t.start..t.start + t.nbytes]
    }

    /// A required integer key.
    pub fn u64_key(&self, key: &str) -> Result<u64> {
        self.get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow!("{}: missing or non-integer metadata key {key}", self.path))
    }

    /// A required float key.
    pub fn f64_key(&self, key: &str) -> Result<f64> {
        self.get(key)
            .and_then(Value::as_f64)
            .ok_or_else(|| anyhow!("{}: missing or non-numeric metadata key {key}", self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> GgufWriter {
        let mut w = GgufWriter::default();
        w.set("general.architecture", Value::Str("lfm2".into()));
        w.set("lfm2.block_count", Value::U32(2));
        w.set("lfm2.attention.head_count_kv", Value::i32s([0, 4]));
        w.set("tokenizer.ggml.tokens", Value::strings(["a", "b c"]));
        w.set("x.f", Value::F32(1.5));
        w.set("x.b", Value::Bool(true));
        let x: Vec<f32> = (0..64).map(|i| i as f32 / 7.0).collect();
        w.add_tensor(WriteTensor {
            name: "t.q".into(),
            dims: vec![32, 2],
            ty: GgmlType::Q8_0,
            data: crate::blocks::quantize_row(GgmlType::Q8_0, &x),
        });
        w.add_tensor(WriteTensor {
            name: "t.f".into(),
            dims: vec![3],
            ty: GgmlType::F32,
            data: crate::blocks::quantize_row(GgmlType::F32, &[1.0, 2.0, 3.0]),
        });
        w
    }

    #[test]
    fn write_then_read_round_trips_metadata_tensors_and_alignment() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.gguf");
        let w = sample();
        let n = w.write(&p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(bytes.len() as u64, n);
        // Hand-checked header start: magic, version 3, 2 tensors, 6 metadata entries.
        assert_eq!(&bytes[..4], b"GGUF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 3);
        assert_eq!(u64::from_le_bytes(bytes[8..16].try_into().unwrap()), 2);
        assert_eq!(u64::from_le_bytes(bytes[16..24].try_into().unwrap()), 6);
        let g = GgufFile::open(&p).unwrap();
        assert_eq!(g.kv, w.kv);
        let q = g.tensor("t.q").unwrap();
        assert_eq!((q.dims.clone(), q.ty, q.nbytes), (vec![32, 2], GgmlType::Q8_0, 68));
        assert_eq!(q.start % 32, 0);
        assert_eq!(g.data(q), &w.tensors[0].data[..]);
        let f = g.tensor("t.f").unwrap();
        assert_eq!(f.start % 32, 0);
        assert_eq!(crate::blocks::dequantize(GgmlType::F32, g.data(f)), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.gguf");
        sample().write(&p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let g = GgufFile::open(&p).unwrap();
        let end = g.tensors.iter().map(|t| t.start + t.nbytes).max().unwrap();
        // Only the padding after the last tensor may go missing.
        assert!(GgufFile::parse(Bytes::Owned(bytes[..end].to_vec()), "x").is_ok());
        for cut in 0..end {
            let r = GgufFile::parse(Bytes::Owned(bytes[..cut].to_vec()), "cut.gguf");
            let e = r.err().unwrap_or_else(|| panic!("cut at {cut} parsed"));
            let msg = format!("{e:#}");
            assert!(msg.starts_with("cut.gguf: "), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
}
