//! Gradient accumulation, global-norm clipping and AdamW, keyed by parameter path.
//!
//! Hand-written on purpose (≈150 lines over burn tensors): burn's `ModuleOptimizer` clips each
//! parameter's gradient on its own (we need one norm over all parameters, as in PyTorch's
//! `clip_grad_norm_`) and keys its state by `ParamId`, which changes when a model is reloaded
//! from an HF checkpoint. Here the state is keyed by the module path (`layers.3.operator...`),
//! saved as `optimizer.safetensors`, and a reload restores it bit for bit.
//!
//! AdamW (Loshchilov & Hutter): `m ← β1 m + (1−β1) g`, `v ← β2 v + (1−β2) g²`,
//! `p ← p − lr·wd·p − lr · m̂ / (√v̂ + ε)` with bias-corrected `m̂ = m / (1−β1^t)`,
//! `v̂ = v / (1−β2^t)`. Weight decay skips 1-D tensors (norm weights, biases) and the token
//! embedding unless `decay_norms_and_embeddings` is set.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Gradients, Tensor, TensorData};
use lfm_model::Lfm2Model;
use safetensors::tensor::{Dtype, TensorView};

use crate::config::OptimSection;

/// Sum of (scaled) gradients over micro-batches, flattened, on the parameters' device.
#[derive(Default)]
pub struct GradAccumulator {
    pub grads: BTreeMap<String, Tensor<1>>,
}

struct Collect<'a> {
    grads: &'a Gradients,
    scale: f32,
    acc: &'a mut BTreeMap<String, Tensor<1>>,
    missing: Vec<String>,
    path: Vec<String>,
}

impl ModuleVisitor for Collect<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let name = self.path.join(".");
        let Some(g) = param.val().grad(self.grads) else {
            self.missing.push(name);
            return;
        };
        let n = g.shape().num_elements();
        accumulate(self.acc, name, g.reshape([n]).mul_scalar(self.scale));
    }
}

/// `acc[name] += g` (or `= g` for a first gradient).
fn accumulate(acc: &mut BTreeMap<String, Tensor<1>>, name: String, g: Tensor<1>) {
    let g = match acc.remove(&name) {
        Some(prev) => prev + g,
        None => g,
    };
    acc.insert(name, g);
}

/// Module path of every float parameter, in traversal order, with its rank.
pub fn param_paths(model: &Lfm2Model) -> Vec<(String, usize)> {
    struct Paths {
        path: Vec<String>,
        out: Vec<(String, usize)>,
    }
    impl ModuleVisitor for Paths {
        fn enter_module(&mut self, name: &str, _c: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _n: &str, _c: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            self.out.push((self.path.join("."), D));
        }
    }
    let mut p = Paths {
        path: vec![],
        out: vec![],
    };
    model.visit(&mut p);
    p.out
}

impl GradAccumulator {
    /// Adds `scale ×` the gradients of one backward pass.
    pub fn add(&mut self, model: &Lfm2Model, grads: &Gradients, scale: f32) -> Result<()> {
        let mut c = Collect {
            grads,
            scale,
            acc: &mut self.grads,
            missing: vec![],
            path: vec![],
        };
        model.visit(&mut c);
        if !c.missing.is_empty() {
            bail!(
                "no gradient for {} parameter(s), e.g. {}",
                c.missing.len(),
                c.missing[0]
            );
        }
        Ok(())
    }

    /// Adds another accumulator's gradients (e.g. another replica's), moving them onto
    /// `device` with burn's device transfer.
    pub fn merge(&mut self, other: GradAccumulator, device: &Device) -> Result<()> {
        for (name, g) in other.grads {
            accumulate(&mut self.grads, name, g.to_device(device));
        }
        Ok(())
    }

    /// √(Σ g²) over every parameter, accumulated in f64 on the host.
    pub fn global_norm(&self) -> f64 {
        self.grads
            .values()
            .map(|g| g.clone().powf_scalar(2.0).sum().into_scalar::<f32>() as f64)
            .sum::<f64>()
            .sqrt()
    }

    /// Scales every gradient by `c`.
    pub fn scale(&mut self, c: f32) {
        if c == 1.0 {
            return;
        }
        for g in self.grads.values_mut() {
            *g = g.clone().mul_scalar(c);
        }
    }
}

/// Whether the parameter at `path` (with `rank`) gets weight decay.
pub fn decays(path: &str, rank: usize, cfg: &OptimSection) -> bool {
    cfg.decay_norms_and_embeddings || (rank >= 2 && !path.starts_with("embed"))
}

/// AdamW state: step count and the two moments of every parameter.
pub struct AdamW {
    pub cfg: OptimSection,
    pub step: u64,
    pub moments: BTreeMap<String, (Tensor<1>, Tensor<1>)>,
}

struct Update<'a> {
    opt: &'a mut AdamW,
    grads: &'a mut BTreeMap<String, Tensor<1>>,
    lr: f64,
    path: Vec<String>,
    error: Option<String>,
}

impl ModuleMapper for Update<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let name = self.path.join(".");
        let Some(g) = self.grads.remove(&name) else {
            self.error
                .get_or_insert(format!("no accumulated gradient for {name}"));
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let shape = tensor.shape();
        let n = shape.num_elements();
        let p = tensor.inner().reshape([n]);
        let c = &self.opt.cfg;
        let (b1, b2) = (c.beta1, c.beta2);
        let t = self.opt.step as i32;
        let (m, v) = match self.opt.moments.remove(&name) {
            Some((m, v)) => (m, v),
            None => (p.zeros_like(), p.zeros_like()),
        };
        let m = m.mul_scalar(b1 as f32) + g.clone().mul_scalar((1.0 - b1) as f32);
        let v = v.mul_scalar(b2 as f32) + g.powf_scalar(2.0).mul_scalar((1.0 - b2) as f32);
        let bc1 = 1.0 - b1.powi(t);
        let bc2 = 1.0 - b2.powi(t);
        let denom = v
            .clone()
            .div_scalar(bc2 as f32)
            .sqrt()
            .add_scalar(c.eps as f32);
        let step = m
            .clone()
            .div_scalar(bc1 as f32)
            .div(denom)
            .mul_scalar(self.lr as f32);
        let mut p = p;
        if c.weight_decay > 0.0 && decays(&name, D, c) {
            p = p.mul_scalar((1.0 - self.lr * c.weight_decay) as f32);
        }
        let p = (p - step).reshape(shape);
        self.opt.moments.insert(name, (m, v));
        let mut out = Tensor::from_inner(p);
        if require_grad {
            out = out.require_grad();
        }
        Param::from_mapped_value(id, out, mapper)
    }
}

impl AdamW {
    pub fn new(cfg: OptimSection) -> Self {
        Self {
            cfg,
            step: 0,
            moments: BTreeMap::new(),
        }
    }

    /// One optimizer step with the accumulated (already clipped) gradients at rate `lr`.
    pub fn step(
        &mut self,
        model: Lfm2Model,
        acc: &mut GradAccumulator,
        lr: f64,
    ) -> Result<Lfm2Model> {
        self.step += 1;
        let mut u = Update {
            opt: self,
            grads: &mut acc.grads,
            lr,
            path: vec![],
            error: None,
        };
        let model = model.map(&mut u);
        if let Some(e) = u.error {
            bail!("{e}");
        }
        if let Some(k) = acc.grads.keys().next() {
            bail!("gradient {k} matches no parameter");
        }
        Ok(model)
    }

    /// Writes `exp_avg.<path>` / `exp_avg_sq.<path>` (f32) and the step count.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut data: Vec<(String, Vec<u8>, usize)> = Vec::new();
        for (name, (m, v)) in &self.moments {
            for (prefix, t) in [("exp_avg", m), ("exp_avg_sq", v)] {
                let d = t.clone().into_data();
                let vals: Vec<f32> = d
                    .try_to_vec::<f32>()
                    .map_err(|e| anyhow!("optimizer state {name}: {e:?}"))?;
                let bytes: Vec<u8> = vals.iter().flat_map(|x| x.to_le_bytes()).collect();
                data.push((format!("{prefix}.{name}"), bytes, vals.len()));
            }
        }
        let views: Vec<(String, TensorView)> = data
            .iter()
            .map(|(n, b, len)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, vec![*len], b).expect("consistent view"),
                )
            })
            .collect();
        // One metadata entry: safetensors writes its metadata map in hash order, and a
        // checkpoint must be byte-identical across processes (the exact-resume test compares
        // bytes).
        let mut meta = std::collections::HashMap::new();
        let info = serde_json::json!({ "format": "lfm-train/adamw-v1", "step": self.step });
        meta.insert("lfm_train".to_string(), info.to_string());
        let bytes = safetensors::serialize(views, Some(meta))
            .map_err(|e| anyhow!("serializing optimizer state: {e}"))?;
        lfm_model::hf::write_atomic(path, &bytes).map_err(|e| anyhow!("{e}"))?;
        Ok(())
    }

    /// Reads what [`save`](Self::save) wrote onto `device`.
    pub fn load(cfg: OptimSection, path: &Path, device: &Device) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let info: serde_json::Value = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("lfm_train"))
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| anyhow!("{}: not an lfm-train optimizer state (no lfm_train metadata)", path.display()))?;
        if info["format"] != "lfm-train/adamw-v1" {
            bail!("{}: optimizer state format {}, expected lfm-train/adamw-v1", path.display(), info["format"]);
        }
        let step = info["step"].as_u64().ok_or_else(|| anyhow!("{}: no step in the metadata", path.display()))?;
        let mut moments = BTreeMap::new();
        let inner = device.clone().inner();
        for (name, view) in st.tensors() {
            let Some(param) = name.strip_prefix("exp_avg.") else {
                continue;
            };
            let read = |v: &TensorView| -> Result<Tensor<1>> {
                if v.dtype() != Dtype::F32 {
                    bail!("{}: {name} is not f32", path.display());
                }
                let vals: Vec<f32> = v
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                let n = vals.len();
                Ok(Tensor::from_data(TensorData::new(vals, [n]), &inner))
            };
            let sq = st
                .tensor(&format!("exp_avg_sq.{param}"))
                .map_err(|_| anyhow!("{}: exp_avg.{param} without exp_avg_sq", path.display()))?;
            moments.insert(param.to_string(), (read(&view)?, read(&sq)?));
        }
        Ok(Self { cfg, step, moments })
    }
}

/// The model with every parameter replaced by its accumulated gradient (same shapes, plain
/// device), so `Lfm2Model::hf_tensors` yields gradients under HF names — for comparing with
/// `transformers` and for debugging.
pub fn grads_as_model(model: &Lfm2Model, acc: &GradAccumulator) -> Result<Lfm2Model> {
    struct ToGrad<'a> {
        grads: &'a BTreeMap<String, Tensor<1>>,
        path: Vec<String>,
        missing: Option<String>,
    }
    impl ModuleMapper for ToGrad<'_> {
        fn enter_module(&mut self, name: &str, _c: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _n: &str, _c: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            let name = self.path.join(".");
            let out = match self.grads.get(&name) {
                Some(g) => g.clone().reshape(tensor.shape()),
                None => {
                    self.missing.get_or_insert(name);
                    tensor
                }
            };
            Param::from_mapped_value(id, out, mapper)
        }
    }
    let mut m = ToGrad {
        grads: &acc.grads,
        path: vec![],
        missing: None,
    };
    let out = model.clone().valid().map(&mut m);
    if let Some(n) = m.missing {
        bail!("no accumulated gradient for {n}");
    }
    Ok(out)
}
