//! HF checkpoint I/O: `config.json` + `model.safetensors` (or a sharded
//! `model.safetensors.index.json`) from a local directory, and the same layout back out so
//! that `transformers` can load what lfm-rs trained.
//!
//! Tensor names and shapes come from the name table in `names.rs`. Weights may be F32,
//! BF16, F16 or F64 on disk; the model is built in f32. Every failure is an [`LfmError`]
//! naming the file (and tensor).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use memmap2::Mmap;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use crate::config::Lfm2Config;
use crate::error::LfmError;
use crate::model::{Lfm2Model, WeightSource};
use crate::names::{tensor_table, Slot};

/// Memory-mapped safetensors files of one checkpoint and the name -> file map.
pub struct SafetensorsSource {
    files: Vec<(PathBuf, Mmap)>,
    index: HashMap<String, usize>,
    used: HashSet<String>,
}

fn st_err(path: &Path, e: impl std::fmt::Display) -> LfmError {
    LfmError::Safetensors { file: path.display().to_string(), msg: e.to_string() }
}

impl SafetensorsSource {
    /// Opens `model.safetensors`, or every shard listed in `model.safetensors.index.json`.
    pub fn open_dir(dir: &Path) -> Result<Self, LfmError> {
        let single = dir.join("model.safetensors");
        let index_path = dir.join("model.safetensors.index.json");
        if single.exists() {
            return Self::open_files(&[single]);
        }
        if !index_path.exists() {
            return Err(LfmError::io(dir, "no model.safetensors or model.safetensors.index.json in this directory"));
        }
        let text = std::fs::read_to_string(&index_path).map_err(|e| LfmError::io(&index_path, e))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| st_err(&index_path, format!("invalid JSON: {e}")))?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| st_err(&index_path, "missing \"weight_map\" object"))?;
        let mut shard_names: Vec<String> = Vec::new();
        for (tensor, file) in map {
            let file = file
                .as_str()
                .ok_or_else(|| st_err(&index_path, format!("weight_map entry {tensor:?} is not a file name")))?;
            if file.contains('/') || file.contains("..") {
                return Err(st_err(&index_path, format!("shard name {file:?} must be a plain file name")));
            }
            if !shard_names.iter().any(|s| s == file) {
                shard_names.push(file.to_string());
            }
        }
        shard_names.sort();
        let paths: Vec<PathBuf> = shard_names.iter().map(|s| dir.join(s)).collect();
        let src = Self::open_files(&paths)?;
        // The index must agree with the shards' own headers.
        for (tensor, file) in map {
            let f = file.as_str().unwrap_or_default();
            match src.index.get(tensor) {
                Some(&i) if src.files[i].0 == dir.join(f) => {}
                _ => return Err(st_err(&index_path, format!("tensor {tensor:?} is not in shard {f:?}"))),
            }
        }
        Ok(src)
    }

    /// Opens the given safetensors files (their tensor names must not collide).
    pub fn open_files(paths: &[PathBuf]) -> Result<Self, LfmError> {
        let mut files = Vec::new();
        let mut index = HashMap::new();
        for (i, p) in paths.iter().enumerate() {
            let f = File::open(p).map_err(|e| LfmError::io(p, e))?;
            // SAFETY: mapping is unsafe because the bytes are then read as a `&[u8]` that a
            // write to the file would change underneath, and a truncation would cut short (a
            // SIGBUS on access). The map is read-only; as for every memory-mapped model loader,
            // the contract is that the file is not modified while this source is alive, by
            // another process or by this one (`save_dir` writes `model.safetensors` in place,
            // so it must not target a directory whose weights are still mapped). Nothing
            // in-process can enforce that.
            let mmap = unsafe { Mmap::map(&f) }.map_err(|e| LfmError::io(p, e))?;
            let st = SafeTensors::deserialize(&mmap).map_err(|e| st_err(p, e))?;
            for name in st.names() {
                if index.insert(name.to_string(), i).is_some() {
                    return Err(st_err(p, format!("tensor {name:?} appears in more than one shard")));
                }
            }
            drop(st);
            files.push((p.clone(), mmap));
        }
        Ok(Self { files, index, used: HashSet::new() })
    }

    /// Every tensor name in the checkpoint.
    pub fn names(&self) -> Vec<&str> {
        self.index.keys().map(String::as_str).collect()
    }

    /// Reads one tensor by name as f32, with its shape.
    pub fn read(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), LfmError> {
        let &i = self.index.get(name).ok_or_else(|| LfmError::Tensor {
            file: self.files.first().map(|f| f.0.display().to_string()).unwrap_or_default(),
            tensor: name.to_string(),
            msg: "missing from the checkpoint".into(),
        })?;
        let (path, mmap) = &self.files[i];
        let st = SafeTensors::deserialize(mmap).map_err(|e| st_err(path, e))?;
        let view = st.tensor(name).map_err(|e| st_err(path, e))?;
        let values = to_f32(&view).map_err(|msg| LfmError::Tensor {
            file: path.display().to_string(),
            tensor: name.to_string(),
            msg,
        })?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            if !allow_nonfinite() {
                let bad = values.iter().filter(|v| !v.is_finite()).count();
                return Err(LfmError::Tensor {
                    file: path.display().to_string(),
                    tensor: name.to_string(),
                    msg: format!(
                        "{bad} non-finite value(s), the first {} at index {i} ({ALLOW_NONFINITE_ENV}=1 loads it anyway)",
                        values[i]
                    ),
                });
            }
        }
        Ok((view.shape().to_vec(), values))
    }

    fn file_of(&self, name: &str) -> String {
        self.index.get(name).map(|&i| self.files[i].0.display().to_string()).unwrap_or_default()
    }
}

/// The environment variable that lets a checkpoint with NaN/Inf weights load (for inspecting
/// a diverged run); without it such a tensor is an error naming it.
pub const ALLOW_NONFINITE_ENV: &str = "LFM_ALLOW_NONFINITE";

/// Whether [`ALLOW_NONFINITE_ENV`] is set to 1 (every loader that checks weights asks here).
pub fn allow_nonfinite() -> bool {
    std::env::var_os(ALLOW_NONFINITE_ENV).is_some_and(|v| v == "1")
}

/// Decodes a tensor's bytes (little-endian) to f32.
fn to_f32(view: &TensorView<'_>) -> Result<Vec<f32>, String> {
    let b = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::BF16 => b.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::F16 => b.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::F64 => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        other => return Err(format!("unsupported dtype {other:?} (expected F32, BF16, F16 or F64)")),
    })
}

impl WeightSource for SafetensorsSource {
    fn get(&mut self, slot: Slot, shape: &[usize]) -> Result<Vec<f32>, LfmError> {
        let name = slot.hf_name();
        let (found, values) = self.read(&name)?;
        if found != shape {
            return Err(LfmError::Tensor {
                file: self.file_of(&name),
                tensor: name,
                msg: format!("shape {found:?} does not match {shape:?} expected from config.json"),
            });
        }
        self.used.insert(name);
        Ok(values)
    }
}

/// Loads `dir/config.json` and the weights into a model on `device`.
pub fn load_dir(dir: &Path, device: &Device) -> Result<(Lfm2Config, Lfm2Model), LfmError> {
    load_dir_impl(dir, device, None)
}

/// [`load_dir`] with linear weights, the embedding and the head handed to `pack` (see
/// [`PackingSource`](crate::model::PackingSource)).
pub fn load_dir_packed(
    dir: &Path,
    device: &Device,
    pack: &mut dyn FnMut(Slot, Vec<f32>, [usize; 2]) -> crate::host::HostMatrix,
) -> Result<(Lfm2Config, Lfm2Model), LfmError> {
    load_dir_impl(dir, device, Some(pack))
}

fn load_dir_impl(
    dir: &Path,
    device: &Device,
    pack: Option<&mut dyn FnMut(Slot, Vec<f32>, [usize; 2]) -> crate::host::HostMatrix>,
) -> Result<(Lfm2Config, Lfm2Model), LfmError> {
    let cfg = Lfm2Config::from_hf_file(&dir.join("config.json"))?;
    let mut src = SafetensorsSource::open_dir(dir)?;
    let model = match pack {
        Some(pack) => {
            Lfm2Model::build(&cfg, device, &mut crate::model::PackingSource { inner: &mut src, cfg: &cfg, pack })?
        }
        None => Lfm2Model::build(&cfg, device, &mut src)?,
    };
    // A tied model with a stored head: transformers ties the head to the embedding and
    // ignores the stored one. A copy of the embedding is harmless; a different head means
    // config.json and the weights disagree, and silently dropping trained head weights
    // would change every logit, so it is refused.
    if cfg.tie_embedding && src.names().contains(&"lm_head.weight") {
        let (_, head) = src.read("lm_head.weight")?;
        let (_, embed) = src.read("model.embed_tokens.weight")?;
        if head != embed {
            return Err(LfmError::Tensor {
                file: src.file_of("lm_head.weight"),
                tensor: "lm_head.weight".into(),
                msg: "config.json ties the head to the embedding, but this head differs from model.embed_tokens.weight; set \"tie_word_embeddings\": false to use it, or remove it".into(),
            });
        }
    }
    // Tensors the config does not account for mean config and weights disagree (e.g. a conv
    // layer in the file where config.json says attention).
    let mut unused: Vec<&str> = src
        .names()
        .into_iter()
        .filter(|n| !src.used.contains(*n) && (!cfg.tie_embedding || *n != "lm_head.weight"))
        .collect();
    unused.sort();
    if let Some(first) = unused.first() {
        return Err(LfmError::Tensor {
            file: src.file_of(first),
            tensor: first.to_string(),
            msg: format!(
                "not used by the model described in config.json ({} unused tensor(s)); config and weights do not match",
                unused.len()
            ),
        });
    }
    Ok((cfg, model))
}

/// Encodes f32 values as little-endian bytes.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes the model as an HF checkpoint (f32): `model.safetensors`, `config.json` and
/// `generation_config.json`. Each file is written atomically; callers that need the whole
/// directory to appear at once write into a temporary directory and rename it.
pub fn save_dir(model: &Lfm2Model, cfg: &Lfm2Config, dir: &Path) -> Result<(), LfmError> {
    std::fs::create_dir_all(dir).map_err(|e| LfmError::io(dir, e))?;
    let tensors = model.hf_tensors(cfg);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> =
        tensors.into_iter().map(|(slot, shape, v)| (slot.hf_name(), shape, f32_bytes(&v))).collect();
    let views = bytes
        .iter()
        .map(|(name, shape, b)| {
            TensorView::new(Dtype::F32, shape.clone(), b).map(|v| (name.clone(), v)).map_err(|e| st_err(dir, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let path = dir.join("model.safetensors");
    // Through a temporary sibling and a rename, as every other result file: a killed save
    // leaves the previous model.safetensors (or none), never a prefix.
    let tmp = crate::io::temp_file_for(&path)?;
    safetensors::serialize_to_file(views, Some(meta), tmp.path()).map_err(|e| st_err(&path, e))?;
    tmp.persist(&path)?;
    let config = serde_json::to_string_pretty(&cfg.to_hf_value()).expect("json");
    crate::io::write_atomic(&dir.join("config.json"), config.as_bytes())?;
    let gen: BTreeMap<&str, serde_json::Value> = BTreeMap::from([
        ("bos_token_id", cfg.bos_token_id.into()),
        ("eos_token_id", cfg.eos_token_id.into()),
        ("pad_token_id", cfg.pad_token_id.into()),
    ]);
    crate::io::write_atomic(
        &dir.join("generation_config.json"),
        serde_json::to_string_pretty(&gen).expect("json").as_bytes(),
    )?;
    Ok(())
}

/// The HF names this config expects, in checkpoint order (for diagnostics).
pub fn expected_names(cfg: &Lfm2Config) -> Vec<String> {
    tensor_table(cfg).iter().map(Slot::hf_name).collect()
}
