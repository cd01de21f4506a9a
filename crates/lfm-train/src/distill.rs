//! Top-K logit distillation (`job = "distill"`, `lfm train distill`): the causal-LM objective
//! of [`crate::lm`] (its data, loader state and exact resume) with a teacher checkpoint of the
//! same tokenizer beside the student, as LFM2's pre-training distils from a larger model
//! through its top-K logits.
//!
//! For every predicted position the teacher's K largest logits z (computed online on the plain
//! device) give the renormalized distribution on that support, `p = softmax(z / τ)` over the K
//! tokens, and the student's logits s at the same K tokens give `q = softmax(s / τ)` over
//! them. The position's term is `τ² · KL(p ‖ q) = τ² Σ_k p_k (log p_k − log q_k)` (the τ² of
//! Hinton et al. keeps gradient sizes comparable across temperatures); with K = vocab it is
//! the dense KL. The loss mixes it with the data's cross-entropy:
//! `alpha · KL + (1 − alpha) · CE`, each a mean over the positions that carry loss.
//!
//! Metrics: `kl` and `ce` per step; on validation the student's cross-entropy is the
//! validation loss (so a distilled student and one trained on CE alone compare directly), with
//! `val_kl` and `val_top1_agreement` (share of positions where the student's arg-max token is
//! the teacher's).
//!
//! **Precomputed** (`lfm data teacher`, [`precompute`]): the teacher's top-K of every
//! micro-batch the run will train on, in the run's order (the loader's order is a function of
//! seed and shapes), in parquet shards of `shard_micros` micro-batches each (columns `micro`,
//! `rows`, `ids`, `logits`) and `teacher_manifest.json` (the settings that decide the batches
//! and the complete shards with their sha256), rewritten atomically after each shard, so an
//! interrupted job continues where it stopped. `[distill] teacher_topk = DIR` then replaces
//! the teacher's forward pass in training (the teacher is still loaded for validation), with
//! the same numbers as online; a manifest whose settings differ from the run's is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use arrow_array::{Array, Float32Array, Int32Array, ListArray, RecordBatch, UInt32Array, UInt64Array};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::ProgressBar;
use lfm_model::{Lfm2Config, Lfm2Model};
use serde::{Deserialize, Serialize};

use crate::config::RunConfig;

fn d_top_k() -> usize {
    32
}
fn one() -> f64 {
    1.0
}
fn d_alpha() -> f64 {
    0.5
}

/// `[distill]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillSection {
    /// The teacher: an HF checkpoint directory (or GGUF file) with the student's tokenizer.
    pub teacher: std::path::PathBuf,
    /// Teacher logits kept per position (K).
    #[serde(default = "d_top_k")]
    pub top_k: usize,
    /// Softmax temperature of both distributions on the support (τ).
    #[serde(default = "one")]
    pub temperature: f64,
    /// Weight of the KL term; `1 − alpha` weighs the data's cross-entropy.
    #[serde(default = "d_alpha")]
    pub alpha: f64,
    /// The teacher's top-K precomputed by `lfm data teacher` for this run's batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher_topk: Option<std::path::PathBuf>,
}

/// The teacher's top-K of a batch: per position (row-major over [B, T]) K token ids and their
/// logits, largest first.
pub struct TopK {
    pub k: usize,
    pub ids: Vec<i64>,
    pub logits: Vec<f32>,
}

/// The K largest entries of each row of `logits` ([N, V] row-major), ties to the lower id.
pub fn top_k_rows(logits: &[f32], vocab: usize, k: usize) -> TopK {
    let n = logits.len() / vocab;
    let mut ids = Vec::with_capacity(n * k);
    let mut vals = Vec::with_capacity(n * k);
    let mut order: Vec<usize> = Vec::with_capacity(vocab);
    for row in logits.chunks_exact(vocab) {
        order.clear();
        order.extend(0..vocab);
        let cmp = |a: &usize, b: &usize| row[*b].total_cmp(&row[*a]).then(a.cmp(b));
        if k < vocab {
            order.select_nth_unstable_by(k - 1, cmp);
            order.truncate(k);
        }
        order.sort_by(cmp);
        for &i in &order {
            ids.push(i as i64);
            vals.push(row[i]);
        }
    }
    TopK { k, ids, logits: vals }
}

/// The teacher, on the plain device.
pub struct Teacher {
    model: Lfm2Model,
    device: Device,
    vocab: usize,
}

impl Teacher {
    /// Loads `s.teacher` on `device`; its vocabulary must be the student's.
    pub fn load(s: &DistillSection, student: &Lfm2Config, student_tok: &Path, device: &Device) -> Result<Self> {
        let (cfg, model) = crate::checkpoint::load_base(&s.teacher, device)
            .map_err(|e| anyhow!("[distill] teacher {}: {e:#}", s.teacher.display()))?;
        if cfg.vocab_size != student.vocab_size {
            bail!(
                "[distill] teacher {}: vocabulary of {} tokens, the student's has {} (distillation needs the same tokenizer)",
                s.teacher.display(),
                cfg.vocab_size,
                student.vocab_size
            );
        }
        // The same tokenizer: when the teacher carries one, its vocabulary must be the student's.
        let dir = if s.teacher.is_file() { s.teacher.parent().unwrap_or(Path::new(".")) } else { &s.teacher };
        let teacher_tok = dir.join("tokenizer.json");
        if teacher_tok.exists() {
            let load = |p: &Path| lfm_data::tokenizer::load(p).map(|t| t.get_vocab(true));
            if load(&teacher_tok)? != load(student_tok)? {
                bail!(
                    "[distill] teacher {}: its tokenizer.json differs from the student's ({}); distillation needs the same tokenizer",
                    s.teacher.display(),
                    student_tok.display()
                );
            }
        }
        if s.top_k == 0 || s.top_k > cfg.vocab_size {
            bail!("[distill] top_k = {} must be in 1..={}", s.top_k, cfg.vocab_size);
        }
        Ok(Teacher { model, device: device.clone(), vocab: cfg.vocab_size })
    }

    /// Top-K of the teacher's logits for `inputs` ([B, T] ids, host row-major).
    pub fn top_k(&self, inputs: &[i64], rows: usize, k: usize) -> Result<TopK> {
        let t = inputs.len() / rows;
        let ids = Tensor::<2, Int>::from_data(TensorData::new(inputs.to_vec(), [rows, t]), &self.device);
        let logits: Vec<f32> = self
            .model
            .forward(ids)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow!("reading teacher logits: {e:?}"))?;
        if logits.iter().any(|x| !x.is_finite()) {
            bail!("the teacher's logits are not finite");
        }
        Ok(top_k_rows(&logits, self.vocab, k))
    }
}

/// Format tag of `teacher_manifest.json`.
pub const TEACHER_FORMAT: &str = "lfm-teacher-topk-1";

/// `teacher_manifest.json`: what decides the micro-batches, and the complete shards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeacherManifest {
    pub format: String,
    pub teacher: PathBuf,
    pub top_k: usize,
    /// The run's data (`[data] dataset` or `sft_jsonl`), seq_len, batch shape and seed.
    pub data: PathBuf,
    pub seq_len: usize,
    pub micro_batch: usize,
    pub micros_per_step: usize,
    pub seed: u64,
    /// Micro-batches wanted in all (`steps × micros_per_step`).
    pub micros: u64,
    pub shards: Vec<TeacherShard>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeacherShard {
    pub file: String,
    pub first: u64,
    pub micros: u64,
    pub sha256: String,
}

impl TeacherManifest {
    /// The manifest a run of `cfg` needs (no shards).
    pub fn for_run(cfg: &RunConfig, d: &DistillSection) -> Self {
        let data = cfg.data.dataset.clone().or_else(|| cfg.data.sft_jsonl.clone()).unwrap_or_default();
        let mps = cfg.accum_per_device(1) as u64;
        TeacherManifest {
            format: TEACHER_FORMAT.into(),
            teacher: d.teacher.clone(),
            top_k: d.top_k,
            data,
            seq_len: cfg.data.seq_len,
            micro_batch: cfg.batch.micro_batch,
            micros_per_step: mps as usize,
            seed: cfg.run.seed,
            micros: cfg.run.steps * mps,
            shards: Vec::new(),
        }
    }

    /// Micro-batches in complete shards.
    pub fn done(&self) -> u64 {
        self.shards.iter().map(|s| s.micros).sum()
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let p = dir.join("teacher_manifest.json");
        let text = std::fs::read_to_string(&p).with_context(|| format!("{}: cannot read", p.display()))?;
        let m: Self = serde_json::from_str(&text).map_err(|e| anyhow!("{}: invalid: {e}", p.display()))?;
        if m.format != TEACHER_FORMAT {
            bail!("{}: format {:?}, expected {TEACHER_FORMAT:?}", p.display(), m.format);
        }
        Ok(m)
    }

    /// Refuses a manifest made for other batches than `want`'s (one line naming the setting).
    pub fn check_matches(&self, want: &Self, dir: &Path) -> Result<()> {
        let fields: [(&str, String, String); 6] = [
            ("top_k", self.top_k.to_string(), want.top_k.to_string()),
            ("data", self.data.display().to_string(), want.data.display().to_string()),
            ("seq_len", self.seq_len.to_string(), want.seq_len.to_string()),
            ("micro_batch", self.micro_batch.to_string(), want.micro_batch.to_string()),
            ("micro-batches per step", self.micros_per_step.to_string(), want.micros_per_step.to_string()),
            ("seed", self.seed.to_string(), want.seed.to_string()),
        ];
        for (name, have, need) in fields {
            if have != need {
                bail!(
                    "{}: precomputed with {name} = {have}, this run has {need} (run `lfm data teacher` for it)",
                    dir.display()
                );
            }
        }
        Ok(())
    }
}

/// Stored top-K of a precomputed teacher, one shard in memory at a time.
pub struct StoredTopK {
    dir: PathBuf,
    manifest: TeacherManifest,
    /// (first micro of the shard, its micro-batches' top-K).
    loaded: Option<(u64, Vec<TopK>)>,
}

impl StoredTopK {
    /// Opens `dir` for a run of `cfg`: same settings, and every micro-batch of its steps stored.
    pub fn open(dir: &Path, cfg: &RunConfig, d: &DistillSection) -> Result<Self> {
        let manifest = TeacherManifest::load(dir)?;
        let want = TeacherManifest::for_run(cfg, d);
        manifest.check_matches(&want, dir)?;
        if manifest.done() < want.micros {
            bail!(
                "{}: {} of the run's {} micro-batches are precomputed (finish `lfm data teacher` first)",
                dir.display(),
                manifest.done(),
                want.micros
            );
        }
        Ok(StoredTopK { dir: dir.to_path_buf(), manifest, loaded: None })
    }

    /// The top-K of micro-batch `i` (0-based, in the run's order).
    pub fn get(&mut self, i: u64) -> Result<&TopK> {
        let hit = self.loaded.as_ref().is_some_and(|(first, v)| (*first..*first + v.len() as u64).contains(&i));
        if !hit {
            let s = self
                .manifest
                .shards
                .iter()
                .find(|s| (s.first..s.first + s.micros).contains(&i))
                .ok_or_else(|| anyhow!("{}: no shard holds micro-batch {i}", self.dir.display()))?
                .clone();
            self.loaded = Some((s.first, read_shard(&self.dir.join(&s.file), &s)?));
        }
        let (first, v) = self.loaded.as_ref().expect("loaded");
        Ok(&v[(i - first) as usize])
    }
}

fn read_shard(path: &Path, s: &TeacherShard) -> Result<Vec<TopK>> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let bad = |e: &dyn std::fmt::Display| anyhow!("{}: {e}", path.display());
    let file = std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(&e))?.build().map_err(|e| bad(&e))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let col = |name: &str| batch.column_by_name(name).ok_or_else(|| bad(&format!("no column {name}")));
        let micro = col("micro")?.as_any().downcast_ref::<UInt64Array>().ok_or_else(|| bad(&"micro: not u64"))?.clone();
        let ids = col("ids")?.as_any().downcast_ref::<ListArray>().ok_or_else(|| bad(&"ids: not a list"))?.clone();
        let logits =
            col("logits")?.as_any().downcast_ref::<ListArray>().ok_or_else(|| bad(&"logits: not a list"))?.clone();
        let k = col("k")?.as_any().downcast_ref::<UInt32Array>().ok_or_else(|| bad(&"k: not u32"))?.clone();
        for r in 0..batch.num_rows() {
            if micro.value(r) != s.first + out.len() as u64 {
                bail!(
                    "{}: row {r} holds micro-batch {}, expected {}",
                    path.display(),
                    micro.value(r),
                    s.first + out.len() as u64
                );
            }
            let i = ids.value(r);
            let i = i.as_any().downcast_ref::<Int32Array>().ok_or_else(|| bad(&"ids: not i32"))?;
            let l = logits.value(r);
            let l = l.as_any().downcast_ref::<Float32Array>().ok_or_else(|| bad(&"logits: not f32"))?;
            if l.values().iter().any(|x| !x.is_finite()) {
                bail!("{}: micro-batch {}: the stored teacher logits are not finite", path.display(), micro.value(r));
            }
            out.push(TopK {
                k: k.value(r) as usize,
                ids: i.values().iter().map(|&x| x as i64).collect(),
                logits: l.values().to_vec(),
            });
        }
    }
    if out.len() as u64 != s.micros {
        bail!("{}: {} micro-batches, the manifest says {}", path.display(), out.len(), s.micros);
    }
    Ok(out)
}

fn write_shard(path: &Path, first: u64, tops: &[TopK]) -> Result<()> {
    use arrow_array::builder::{Float32Builder, Int32Builder, ListBuilder};
    let mut ids = ListBuilder::new(Int32Builder::new());
    let mut logits = ListBuilder::new(Float32Builder::new());
    for t in tops {
        ids.values().append_slice(&t.ids.iter().map(|&x| x as i32).collect::<Vec<_>>());
        ids.append(true);
        logits.values().append_slice(&t.logits);
        logits.append(true);
    }
    let micro = UInt64Array::from_iter_values((0..tops.len() as u64).map(|i| first + i));
    let k = UInt32Array::from_iter_values(tops.iter().map(|t| t.k as u32));
    let batch = RecordBatch::try_from_iter([
        ("micro", Arc::new(micro) as Arc<dyn Array>),
        ("k", Arc::new(k) as Arc<dyn Array>),
        ("ids", Arc::new(ids.finish()) as Arc<dyn Array>),
        ("logits", Arc::new(logits.finish()) as Arc<dyn Array>),
    ])?;
    let tmp = lfm_model::io::temp_file_for(path).map_err(|e| anyhow!("{e}"))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(tmp.file().try_clone()?, batch.schema(), None)?;
    w.write(&batch)?;
    w.close()?;
    tmp.persist(path).map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// What [`precompute`] did.
pub struct PrecomputeSummary {
    pub micros_done_before: u64,
    pub micros: u64,
    pub shards: usize,
}

/// `lfm data teacher`: the teacher's top-K for the micro-batches of every step of the
/// distillation run `cfg` (see the module doc), into `out`; continues an interrupted job.
pub fn precompute(
    cfg: &RunConfig,
    out: &Path,
    shard_micros: u64,
    device: &Device,
    pb: &ProgressBar,
) -> Result<PrecomputeSummary> {
    let d = cfg.distill.clone().ok_or_else(|| anyhow!("the config has no [distill] section"))?;
    if shard_micros == 0 {
        bail!("--shard-micros must be at least 1");
    }
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let _lock = lfm_model::io::OutputLock::acquire(out, "lfm data teacher").map_err(|e| anyhow!("{e}"))?;
    let want = TeacherManifest::for_run(cfg, &d);
    let mut manifest = if out.join("teacher_manifest.json").exists() {
        let m = TeacherManifest::load(out)?;
        m.check_matches(&want, out)?;
        for s in &m.shards {
            let p = out.join(&s.file);
            if lfm_data::shards::sha256_file(&p)? != s.sha256 {
                bail!("{}: checksum differs from teacher_manifest.json", p.display());
            }
        }
        TeacherManifest { micros: want.micros.max(m.micros), ..m }
    } else {
        want.clone()
    };
    let before = manifest.done();
    let (teacher_cfg, _) = crate::checkpoint::load_base(&d.teacher, device)
        .map_err(|e| anyhow!("[distill] teacher {}: {e:#}", d.teacher.display()))?;
    let tok_path = crate::lm::prepare(cfg, out, None, pb)?;
    let mut obj = crate::lm::LmObjective::new(cfg, &teacher_cfg, &tok_path, None, std::slice::from_ref(device))?;
    pb.set_prefix("micro-batches");
    pb.set_length(want.micros);
    pb.set_position(before);
    // The loader replays the batches already stored (reading, no teacher pass).
    for _ in 0..before {
        obj.next_micro()?;
    }
    let mut next = before;
    while next < want.micros {
        let n = shard_micros.min(want.micros - next);
        let mut tops = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let m = obj.next_micro()?;
            tops.push(obj.teacher_top_k(&m)?);
            pb.inc(1);
        }
        let file = format!("topk-{next:09}.parquet");
        write_shard(&out.join(&file), next, &tops)?;
        let sha256 = lfm_data::shards::sha256_file(&out.join(&file))?;
        manifest.shards.push(TeacherShard { file, first: next, micros: n, sha256 });
        lfm_model::io::write_atomic(
            &out.join("teacher_manifest.json"),
            serde_json::to_string_pretty(&manifest)?.as_bytes(),
        )?;
        next += n;
    }
    Ok(PrecomputeSummary { micros_done_before: before, micros: want.micros, shards: manifest.shards.len() })
}

/// Per-position τ²·KL(p ‖ q) on the teacher's top-K support.
///
/// # Shapes
/// - `student`: [N, V] logits; the top-K of N positions -> [N]
pub fn top_k_kl(student: Tensor<2>, top: &TopK, temperature: f64) -> Tensor<1> {
    let [n, _] = student.dims();
    let device = student.device();
    let k = top.k;
    let idx = Tensor::<2, Int>::from_data(TensorData::new(top.ids.clone(), [n, k]), &device);
    let s = student.gather(1, idx) / temperature;
    let log_q = log_softmax(s, 1);
    // The teacher's side is a constant: p and log p on the host, in f64.
    let mut p = Vec::with_capacity(n * k);
    let mut log_p = Vec::with_capacity(n * k);
    for row in top.logits.chunks_exact(k) {
        let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64 / temperature));
        let lse = m + row.iter().map(|&z| (z as f64 / temperature - m).exp()).sum::<f64>().ln();
        for &z in row {
            let lp = z as f64 / temperature - lse;
            log_p.push(lp as f32);
            p.push(lp.exp() as f32);
        }
    }
    let p = Tensor::<2>::from_data(TensorData::new(p, [n, k]), &device);
    let log_p = Tensor::<2>::from_data(TensorData::new(log_p, [n, k]), &device);
    (p * (log_p - log_q)).sum_dim(1).reshape([n]) * (temperature * temperature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lfm_model::device::parse_device;

    #[test]
    fn top_k_keeps_the_largest_first_with_ties_to_the_lower_id() {
        let t = top_k_rows(&[0.5, 2.0, 2.0, -1.0, 3.0, 1.0, 1.0, 0.0], 4, 2);
        assert_eq!(t.ids, vec![1, 2, 0, 1]);
        assert_eq!(t.logits, vec![2.0, 2.0, 3.0, 1.0]);
    }

    /// With K = vocab the top-K KL is the dense KL(softmax(t/τ) ‖ softmax(s/τ)) · τ², and its
    /// gradient in the student logits is τ (q − p).
    #[test]
    fn full_support_equals_the_dense_kl_and_its_gradient() {
        let ad = parse_device("cpu").unwrap().autodiff();
        let (n, v) = (3, 5);
        let teacher: Vec<f32> = (0..n * v).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.4).collect();
        let student: Vec<f32> = (0..n * v).map(|i| ((i * 5 % 13) as f32 - 6.0) * 0.3).collect();
        for tau in [1.0, 2.0] {
            let top = top_k_rows(&teacher, v, v);
            let s = Tensor::<2>::from_data(TensorData::new(student.clone(), [n, v]), &ad).require_grad();
            let kl = top_k_kl(s.clone(), &top, tau);
            let got: Vec<f32> = kl.clone().into_data().convert::<f32>().try_into_vec().unwrap();
            let grads = kl.sum().backward();
            let g: Vec<f32> = s.grad(&grads).unwrap().into_data().convert::<f32>().try_into_vec().unwrap();
            let softmax = |row: &[f32]| {
                let m = row.iter().fold(f64::MIN, |a, &b| a.max(b as f64 / tau));
                let e: Vec<f64> = row.iter().map(|&x| (x as f64 / tau - m).exp()).collect();
                let z: f64 = e.iter().sum();
                e.into_iter().map(|x| x / z).collect::<Vec<f64>>()
            };
            for r in 0..n {
                let p = softmax(&teacher[r * v..(r + 1) * v]);
                let q = softmax(&student[r * v..(r + 1) * v]);
                let want: f64 = tau * tau * p.iter().zip(&q).map(|(a, b)| a * (a.ln() - b.ln())).sum::<f64>();
                assert!((got[r] as f64 - want).abs() < 1e-5, "τ {tau} row {r}: {} vs {want}", got[r]);
                for j in 0..v {
                    let gw = tau * (q[j] - p[j]);
                    assert!((g[r * v + j] as f64 - gw).abs() < 1e-5, "τ {tau} d/ds[{r},{j}]: {} vs {gw}", g[r * v + j]);
                }
            }
        }
    }
}
