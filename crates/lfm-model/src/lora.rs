//! LoRA adapters on the model's projections, in PEFT's on-disk layout.
//!
//! [`attach`] freezes every parameter of the model and gives each targeted projection a
//! trainable branch `(alpha / r) · dropout(x) A B` (see [`crate::proj::LoraBranch`]): A drawn as
//! PEFT draws `lora_A` (Kaiming-uniform, bound `1 / sqrt(in)`), B zero, so the model's output is
//! unchanged until B moves. Targets follow PEFT's `target_modules` rule: a module matches when
//! its HF path (`model.layers.3.self_attn.q_proj`) equals a target or ends with `.` + target.
//!
//! [`save_peft`] / [`load_peft`] write and read `adapter_config.json` and
//! `adapter_model.safetensors` with `base_model.model.<module path>.lora_A.weight` `[r, in]` and
//! `.lora_B.weight` `[out, r]`, the files PEFT's `PeftModel.from_pretrained` reads and
//! `save_pretrained` writes. [`merge`] folds the branches into the dense weights.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use safetensors::tensor::{Dtype, TensorView};
use serde_json::{json, Value};

use crate::error::LfmError;
use crate::model::{Lfm2Model, Operator};
use crate::proj::{LoraBranch, Proj};

/// The modules LFM2 fine-tuning recipes adapt: every linear layer of the blocks.
pub const DEFAULT_TARGETS: [&str; 9] = [
    "feed_forward.w1",
    "feed_forward.w2",
    "feed_forward.w3",
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.out_proj",
    "conv.in_proj",
    "conv.out_proj",
];

/// The adapter's hyper-parameters (PEFT's `LoraConfig` fields of the same meaning).
#[derive(Clone, Debug, PartialEq)]
pub struct LoraSpec {
    pub r: usize,
    pub alpha: f64,
    pub dropout: f64,
    pub targets: Vec<String>,
    /// rsLoRA: scale `alpha / sqrt(r)` instead of `alpha / r`.
    pub use_rslora: bool,
}

impl Default for LoraSpec {
    fn default() -> Self {
        LoraSpec {
            r: 16,
            alpha: 32.0,
            dropout: 0.0,
            targets: DEFAULT_TARGETS.iter().map(|s| s.to_string()).collect(),
            use_rslora: false,
        }
    }
}

impl LoraSpec {
    /// The factor of the branch.
    pub fn scale(&self) -> f64 {
        if self.use_rslora {
            self.alpha / (self.r as f64).sqrt()
        } else {
            self.alpha / self.r as f64
        }
    }

    pub fn validate(&self) -> Result<(), LfmError> {
        if self.r == 0 {
            return Err(LfmError::Invalid("lora r must be at least 1".into()));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(LfmError::Invalid(format!("lora alpha must be > 0, got {}", self.alpha)));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(LfmError::Invalid(format!("lora dropout must be in [0, 1), got {}", self.dropout)));
        }
        if self.targets.is_empty() {
            return Err(LfmError::Invalid("lora targets is empty".into()));
        }
        Ok(())
    }
}

/// PEFT's `target_modules` match for a list of names.
pub fn matches(path: &str, target: &str) -> bool {
    path == target || path.ends_with(&format!(".{target}"))
}

impl Lfm2Model {
    /// Every projection with its HF module path (`model.layers.{i}.feed_forward.w1`, …).
    pub fn projections(&self) -> Vec<(String, &Proj)> {
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let p = |t: &str| format!("model.layers.{i}.{t}");
            match &l.operator {
                Operator::ShortConv(c) => {
                    out.push((p("conv.in_proj"), &c.in_proj));
                    out.push((p("conv.out_proj"), &c.out_proj));
                }
                Operator::Attention(a) => {
                    out.push((p("self_attn.q_proj"), &a.q_proj));
                    out.push((p("self_attn.k_proj"), &a.k_proj));
                    out.push((p("self_attn.v_proj"), &a.v_proj));
                    out.push((p("self_attn.out_proj"), &a.out_proj));
                }
            }
            out.push((p("feed_forward.w1"), &l.feed_forward.w1));
            out.push((p("feed_forward.w2"), &l.feed_forward.w2));
            out.push((p("feed_forward.w3"), &l.feed_forward.w3));
        }
        out
    }

    /// [`Lfm2Model::projections`], mutable.
    pub fn projections_mut(&mut self) -> Vec<(String, &mut Proj)> {
        let mut out = Vec::new();
        for (i, l) in self.layers.iter_mut().enumerate() {
            let p = |t: &str| format!("model.layers.{i}.{t}");
            match &mut l.operator {
                Operator::ShortConv(c) => {
                    out.push((p("conv.in_proj"), &mut c.in_proj));
                    out.push((p("conv.out_proj"), &mut c.out_proj));
                }
                Operator::Attention(a) => {
                    out.push((p("self_attn.q_proj"), &mut a.q_proj));
                    out.push((p("self_attn.k_proj"), &mut a.k_proj));
                    out.push((p("self_attn.v_proj"), &mut a.v_proj));
                    out.push((p("self_attn.out_proj"), &mut a.out_proj));
                }
            }
            out.push((p("feed_forward.w1"), &mut l.feed_forward.w1));
            out.push((p("feed_forward.w2"), &mut l.feed_forward.w2));
            out.push((p("feed_forward.w3"), &mut l.feed_forward.w3));
        }
        out
    }

    /// The model with every LoRA branch switched off: the base alone (a clone sharing the
    /// base's tensors, no copy of the weights). DPO's reference with an adapter.
    pub fn without_adapter(&self) -> Lfm2Model {
        let mut m = self.clone();
        for (_, p) in m.projections_mut() {
            p.lora = None;
        }
        m
    }

    /// Whether any projection carries a LoRA branch.
    pub fn has_lora(&self) -> bool {
        self.projections().iter().any(|(_, p)| p.lora.is_some())
    }

    /// Number of parameters that get gradients (all of them, or the LoRA branches' once an
    /// adapter is attached to the frozen base).
    pub fn trainable_params(&self) -> usize {
        struct Count(usize);
        impl burn::module::ModuleVisitor for Count {
            fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
                if p.is_require_grad() {
                    self.0 += p.shape().num_elements();
                }
            }
        }
        let mut c = Count(0);
        self.visit(&mut c);
        c.0
    }
}

/// The module paths `spec.targets` select; a target that selects nothing is an error.
pub fn targeted(model: &Lfm2Model, spec: &LoraSpec) -> Result<Vec<String>, LfmError> {
    let paths: Vec<String> = model.projections().into_iter().map(|(p, _)| p).collect();
    for t in &spec.targets {
        if !paths.iter().any(|p| matches(p, t)) {
            return Err(LfmError::Invalid(format!(
                "lora target {t:?} matches no module of the model (its linear modules end in: {})",
                DEFAULT_TARGETS.join(", ")
            )));
        }
    }
    Ok(paths.into_iter().filter(|p| spec.targets.iter().any(|t| matches(p, t))).collect())
}

/// Freezes the model and attaches fresh branches (A random from `seed`, B zero) to the
/// targeted projections.
pub fn attach(model: Lfm2Model, spec: &LoraSpec, seed: u64, device: &Device) -> Result<Lfm2Model, LfmError> {
    spec.validate()?;
    if model.has_lora() {
        return Err(LfmError::Invalid("the model already carries a LoRA adapter".into()));
    }
    let chosen = targeted(&model, spec)?;
    let mut model = model.no_grad();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for (path, proj) in model.projections_mut() {
        if !chosen.contains(&path) {
            continue;
        }
        let [inp, out] = proj.dims();
        let bound = 1.0 / (inp as f32).sqrt();
        let a: Vec<f32> = (0..inp * spec.r).map(|_| rng.random_range(-bound..bound)).collect();
        let a = Param::from_data(TensorData::new(a, [inp, spec.r]), device);
        let b = Param::from_data(TensorData::new(vec![0f32; spec.r * out], [spec.r, out]), device);
        proj.lora = Some(LoraBranch::new(a, b, spec.scale(), spec.dropout));
    }
    Ok(model)
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data")
}

/// Writes `adapter_config.json` and `adapter_model.safetensors` into `dir` (each atomically).
pub fn save_peft(model: &Lfm2Model, spec: &LoraSpec, base: &str, dir: &Path) -> Result<(), LfmError> {
    std::fs::create_dir_all(dir).map_err(|e| LfmError::io(dir, e))?;
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut modules = Vec::new();
    for (path, proj) in model.projections() {
        let Some(l) = &proj.lora else { continue };
        let [inp, r] = l.a.dims();
        let [_, out] = l.b.dims();
        // Ours: A [in, r], B [r, out]; PEFT: lora_A [r, in], lora_B [out, r].
        let a = crate::model::transpose_host(&host(l.a.val()), inp, r);
        let b = crate::model::transpose_host(&host(l.b.val()), r, out);
        tensors.push((format!("base_model.model.{path}.lora_A.weight"), vec![r, inp], crate::hf::f32_bytes(&a)));
        tensors.push((format!("base_model.model.{path}.lora_B.weight"), vec![out, r], crate::hf::f32_bytes(&b)));
        modules.push(path);
    }
    if modules.is_empty() {
        return Err(LfmError::Invalid("the model carries no LoRA adapter to save".into()));
    }
    let path = dir.join("adapter_model.safetensors");
    let views = tensors
        .iter()
        .map(|(n, s, b)| TensorView::new(Dtype::F32, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LfmError::io(&path, e))?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let tmp = crate::io::temp_file_for(&path)?;
    safetensors::serialize_to_file(views, Some(meta), tmp.path()).map_err(|e| LfmError::io(&path, e))?;
    tmp.persist(&path)?;
    let config = json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base,
        "r": spec.r,
        "lora_alpha": spec.alpha,
        "lora_dropout": spec.dropout,
        "target_modules": spec.targets,
        "bias": "none",
        "use_rslora": spec.use_rslora,
        "fan_in_fan_out": false,
        "inference_mode": true,
        "init_lora_weights": true,
        "modules_to_save": Value::Null,
    });
    crate::io::write_atomic(
        &dir.join("adapter_config.json"),
        serde_json::to_string_pretty(&config).expect("json").as_bytes(),
    )?;
    Ok(())
}

/// Reads `dir/adapter_config.json` as a [`LoraSpec`] (and the base model it names).
pub fn read_config(dir: &Path) -> Result<(LoraSpec, String), LfmError> {
    let path = dir.join("adapter_config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| LfmError::io(&path, format!("cannot read: {e}")))?;
    let bad = |m: String| LfmError::Invalid(format!("{}: {m}", path.display()));
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    match v.get("peft_type").and_then(Value::as_str) {
        Some("LORA") => {}
        other => return Err(bad(format!("peft_type {other:?} is not \"LORA\""))),
    }
    let r = v.get("r").and_then(Value::as_u64).ok_or_else(|| bad("no integer \"r\"".into()))? as usize;
    let alpha = v.get("lora_alpha").and_then(Value::as_f64).unwrap_or(8.0);
    let dropout = v.get("lora_dropout").and_then(Value::as_f64).unwrap_or(0.0);
    let targets = match v.get("target_modules") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| t.as_str().map(String::from).ok_or_else(|| bad("target_modules holds a non-string".into())))
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::String(s)) => {
            return Err(bad(format!("target_modules {s:?} is a regular expression; lfm reads a list of module names")))
        }
        _ => return Err(bad("no \"target_modules\" list".into())),
    };
    match v.get("bias").and_then(Value::as_str) {
        None | Some("none") => {}
        Some(b) => return Err(bad(format!("bias {b:?} is not supported (only \"none\")"))),
    }
    for k in ["rank_pattern", "alpha_pattern"] {
        if v.get(k).and_then(Value::as_object).is_some_and(|m| !m.is_empty()) {
            return Err(bad(format!("{k} (per-module ranks) is not supported")));
        }
    }
    if v.get("use_dora").and_then(Value::as_bool) == Some(true) {
        return Err(bad("use_dora (DoRA) is not supported".into()));
    }
    let spec =
        LoraSpec { r, alpha, dropout, targets, use_rslora: v.get("use_rslora").and_then(Value::as_bool) == Some(true) };
    spec.validate().map_err(|e| bad(e.to_string()))?;
    let base = v.get("base_model_name_or_path").and_then(Value::as_str).unwrap_or("").to_string();
    Ok((spec, base))
}

/// Loads a PEFT adapter directory onto `model` (frozen, as [`attach`] leaves it). Every tensor
/// must belong to a projection of the model, with the config's rank and the module's shape.
pub fn load_peft(model: Lfm2Model, dir: &Path, device: &Device) -> Result<(Lfm2Model, LoraSpec), LfmError> {
    let (spec, _) = read_config(dir)?;
    let file = dir.join("adapter_model.safetensors");
    if !file.exists() {
        let hint = if dir.join("adapter_model.bin").exists() {
            " (adapter_model.bin is a pickle; save with safetensors)"
        } else {
            ""
        };
        return Err(LfmError::io(&file, format!("missing{hint}")));
    }
    let src = crate::hf::SafetensorsSource::open_files(std::slice::from_ref(&file))?;
    let fname = file.display().to_string();
    let mut found: BTreeMap<String, [Option<(Vec<usize>, Vec<f32>)>; 2]> = BTreeMap::new();
    for name in src.names() {
        let stripped = name.strip_prefix("base_model.model.").unwrap_or(name);
        let (module, which) = if let Some(m) = stripped.strip_suffix(".lora_A.weight") {
            (m, 0)
        } else if let Some(m) = stripped.strip_suffix(".lora_B.weight") {
            (m, 1)
        } else {
            return Err(LfmError::Tensor {
                file: fname.clone(),
                tensor: name.into(),
                msg: "not a lora_A/lora_B weight".into(),
            });
        };
        found.entry(module.to_string()).or_default()[which] = Some(src.read(name)?);
    }
    let mut model = model.no_grad();
    let mut projs: HashMap<String, &mut Proj> = model.projections_mut().into_iter().collect();
    for (module, [a, b]) in found {
        let tensor = |w: &str| format!("base_model.model.{module}.lora_{w}.weight");
        let Some(proj) = projs.get_mut(&module) else {
            return Err(LfmError::Tensor {
                file: fname.clone(),
                tensor: tensor("A"),
                msg: format!("the base model has no module {module}"),
            });
        };
        let (Some((sa, va)), Some((sb, vb))) = (a, b) else {
            return Err(LfmError::Tensor {
                file: fname.clone(),
                tensor: tensor("A"),
                msg: "lora_A and lora_B must both be present".into(),
            });
        };
        let [inp, out] = proj.dims();
        if sa != [spec.r, inp] {
            return Err(LfmError::Tensor {
                file: fname.clone(),
                tensor: tensor("A"),
                msg: format!("shape {sa:?}, expected [{}, {inp}] (r, in)", spec.r),
            });
        }
        if sb != [out, spec.r] {
            return Err(LfmError::Tensor {
                file: fname.clone(),
                tensor: tensor("B"),
                msg: format!("shape {sb:?}, expected [{out}, {}] (out, r)", spec.r),
            });
        }
        let a = crate::model::transpose_host(&va, spec.r, inp);
        let b = crate::model::transpose_host(&vb, out, spec.r);
        let a = Param::from_data(TensorData::new(a, [inp, spec.r]), device);
        let b = Param::from_data(TensorData::new(b, [spec.r, out]), device);
        proj.lora = Some(LoraBranch::new(a, b, spec.scale(), spec.dropout));
    }
    drop(projs);
    if !model.has_lora() {
        return Err(LfmError::Invalid(format!("{fname}: no LoRA tensors")));
    }
    Ok((model, spec))
}

/// Folds every branch into its dense weight, `W += scale · A B`, and drops the branches.
pub fn merge(mut model: Lfm2Model) -> Result<Lfm2Model, LfmError> {
    for (path, proj) in model.projections_mut() {
        let Some(l) = proj.lora.take() else { continue };
        if proj.host.is_some() {
            return Err(LfmError::Invalid(format!("{path}: cannot merge into a host-held (packed) weight")));
        }
        let delta = l.a.val().matmul(l.b.val()).mul_scalar(l.scale);
        let (id, w, _) = proj.weight.clone().consume();
        proj.weight = Param::initialized(id, (w + delta).detach());
    }
    Ok(model)
}
