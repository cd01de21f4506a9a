//! The LFM2 network: short-convolution and attention operators, SwiGLU, the hybrid stack.
//!
//! Forward passes follow docs/lfm2-architecture.md §4 exactly; shapes use B = batch, T = new tokens in this call,
//! P = tokens already in the cache, H = hidden, V = vocab, nh/nkv = query/kv heads, hd = head
//! width, L = conv kernel length.
//!
//! One model serves every device: tensors carry no backend type in burn 0.22, the `Device`
//! a model is built on decides where it runs (see `device.rs`).

use burn::module::{Module, Param};
use burn::nn::{Embedding, RmsNorm};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::cache::{Cache, LayerCache};
use crate::config::{LayerKind, Lfm2Config};
use crate::error::LfmError;
use crate::host::HostMatrix;
use crate::names::{LayerSlot, Role, Slot};
use crate::proj::Proj;
use crate::rope::Rope;

/// Positions per forward pass when inference runs a long sequence through the cache
/// ([`Lfm2Model::forward_chunked`], generation's prefill), as llama.cpp feeds micro-batches:
/// attention then holds [chunk, S] scores at a time instead of [S, S], so a 32k-token prompt
/// needs memory linear in its length. 512 keeps the usual prompt (and `lfm bench`'s prefill)
/// in one pass.
pub const PREFILL_CHUNK: usize = 512;

/// Value used to mask attention scores. Finite on purpose: a fully masked row (a left-pad
/// query) then gets a harmless uniform softmax instead of NaN.
const MASKED: f32 = -1.0e9;

/// Double-gated short convolution (docs/lfm2-architecture.md §4.5).
#[derive(Module, Debug)]
pub struct ShortConv {
    /// [H, 3H] (burn layout); output chunks are B, C, x in that order.
    pub in_proj: Proj,
    /// Depthwise causal kernel [H, L]; tap L-1 multiplies the current token.
    pub kernel: Param<Tensor<2>>,
    /// Optional conv bias [H] (`conv_bias`; unused by released checkpoints).
    pub kernel_bias: Option<Param<Tensor<1>>>,
    /// [H, H].
    pub out_proj: Proj,
}

impl ShortConv {
    /// # Shapes
    /// - `h`: [B, T, H] (normalised input), `state`: [B, L-1, H] previous conv inputs
    /// - returns ([B, T, H], new state [B, L-1, H])
    pub fn forward(&self, h: Tensor<3>, state: Option<Tensor<3>>) -> (Tensor<3>, Option<Tensor<3>>) {
        let [b, t, hidden] = h.dims();
        let [_, l] = self.kernel.dims();
        let bcx = self.in_proj.forward(h);
        if state.is_none() && self.kernel_bias.is_none() {
            // Training and uncached prefill: one fused pass each way (fused.rs).
            if let Some(y) = crate::fused::short_conv(&bcx, &self.kernel.val()) {
                // The cache's state: the last L-1 conv inputs, zeros before the first token.
                let new_state = (l > 1).then(|| {
                    let tail = t.min(l - 1);
                    let rows = bcx.clone().narrow(1, t - tail, tail);
                    let u = rows.clone().narrow(2, 0, hidden) * rows.narrow(2, 2 * hidden, hidden);
                    if tail < l - 1 {
                        Tensor::cat(vec![Tensor::zeros([b, l - 1 - tail, hidden], &u.device()), u], 1)
                    } else {
                        u
                    }
                });
                return (self.out_proj.forward(y), new_state);
            }
        }
        let gate_b = bcx.clone().narrow(2, 0, hidden);
        let gate_c = bcx.clone().narrow(2, hidden, hidden);
        let x = bcx.narrow(2, 2 * hidden, hidden);
        // Input gate, then the causal conv runs over concat(state, u) along time.
        let u = gate_b * x;
        let (seq, new_state) = if l > 1 {
            let state = state.unwrap_or_else(|| Tensor::zeros([b, l - 1, hidden], &u.device()));
            let seq = Tensor::cat(vec![state, u], 1); // [B, L-1+T, H]
            let new_state = seq.clone().narrow(1, t, l - 1);
            (seq, Some(new_state))
        } else {
            (u, None)
        };
        // y[t] = sum_k K[k] * seq[t + k]  (cross-correlation, no flip).
        let kernel = self.kernel.val();
        let mut y: Option<Tensor<3>> = None;
        for k in 0..l {
            let tap = kernel.clone().narrow(1, k, 1).reshape([1, 1, hidden]);
            let term = seq.clone().narrow(1, k, t) * tap;
            y = Some(match y {
                None => term,
                Some(acc) => acc + term,
            });
        }
        let mut y = y.expect("L >= 1");
        if let Some(bias) = &self.kernel_bias {
            y = y + bias.val().reshape([1, 1, hidden]);
        }
        (self.out_proj.forward(gate_c * y), new_state)
    }
}

/// Grouped-query attention with per-head q/k RMSNorm and rotate-half RoPE (docs/lfm2-architecture.md §4.6).
#[derive(Module, Debug)]
pub struct Attention {
    /// [H, nh*hd].
    pub q_proj: Proj,
    /// [H, nkv*hd].
    pub k_proj: Proj,
    /// [H, nkv*hd].
    pub v_proj: Proj,
    /// [nh*hd, H].
    pub out_proj: Proj,
    /// RMSNorm over hd, applied per head before RoPE.
    pub q_norm: RmsNorm,
    /// RMSNorm over hd for keys.
    pub k_norm: RmsNorm,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
}

impl Attention {
    /// # Shapes
    /// - `h`: [B, T, H]; `kv`: cached keys/values [B, nkv, P, hd] (post norm + RoPE)
    /// - `mask`: [B, 1, T, P+T], true = masked; `None` when nothing needs masking
    /// - returns ([B, T, H], keys and values [B, nkv, P+T, hd])
    pub fn forward(
        &self,
        h: Tensor<3>,
        rope: &Rope,
        kv: Option<(Tensor<4>, Tensor<4>)>,
        mask: Option<&Tensor<4, Bool>>,
    ) -> (Tensor<3>, (Tensor<4>, Tensor<4>)) {
        let [b, t, _] = h.dims();
        let (nh, nkv, hd) = (self.num_heads, self.num_kv_heads, self.head_dim);
        let q = self.q_proj.forward(h.clone()).reshape([b, t, nh, hd]);
        let k = self.k_proj.forward(h.clone()).reshape([b, t, nkv, hd]);
        let v = self.v_proj.forward(h).reshape([b, t, nkv, hd]);
        // Norm per head, then RoPE; heads move in front of time: [B, heads, T, hd].
        let q = rope.apply(crate::fused::rms_norm(&self.q_norm, q)).swap_dims(1, 2);
        let k = rope.apply(crate::fused::rms_norm(&self.k_norm, k)).swap_dims(1, 2);
        let v = v.swap_dims(1, 2);
        let (k, v) = match kv {
            Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
            None => (k, v),
        };
        let tk = k.dims()[2];
        // GQA without repeating K/V: query head j = kv*g + r, so [B, nh, T, hd] regroups as
        // [B, nkv, g*T, hd] with row r*T + i, and every group shares its kv head.
        let g = nh / nkv;
        let qg = q.reshape([b, nkv, g * t, hd]);
        let mut scores = qg.matmul(k.clone().swap_dims(2, 3)) * (1.0 / (hd as f64).sqrt());
        if let Some(mask) = mask {
            let mask = if g > 1 { mask.clone().repeat_dim(2, g) } else { mask.clone() };
            // Masks are expanded to the full shape: not every backend broadcasts them.
            scores = scores.clone().mask_fill(mask.expand(scores.shape()), MASKED);
        }
        let probs = crate::fused::softmax_last(scores); // [B, nkv, g*T, P+T]
        let out = probs.matmul(v.clone()); // [B, nkv, g*T, hd]
        let out = out.reshape([b, nh, t, hd]).swap_dims(1, 2).reshape([b, t, nh * hd]);
        debug_assert_eq!(tk, k.dims()[2]);
        (self.out_proj.forward(out), (k, v))
    }
}

/// SwiGLU feed-forward: `w2(silu(w1 n) * w3 n)` (docs/lfm2-architecture.md §4.4).
#[derive(Module, Debug)]
pub struct FeedForward {
    /// Gate [H, F].
    pub w1: Proj,
    /// Down [F, H].
    pub w2: Proj,
    /// Up [H, F].
    pub w3: Proj,
}

impl FeedForward {
    /// # Shapes
    /// - `x`: [B, T, H] -> [B, T, H]
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = self.w1.forward(x.clone());
        self.w2.forward(crate::fused::swiglu(gate, self.w3.forward(x)))
    }
}

/// The hybrid layer: one of the two operators.
#[derive(Module, Debug)]
pub enum Operator {
    ShortConv(ShortConv),
    Attention(Attention),
}

/// Pre-norm decoder layer: `x += op(norm(x)); x += ffn(norm(x))` (docs/lfm2-architecture.md §4.3).
#[derive(Module, Debug)]
pub struct DecoderLayer {
    pub operator_norm: RmsNorm,
    pub operator: Operator,
    pub ffn_norm: RmsNorm,
    pub feed_forward: FeedForward,
}

/// Hidden states from a forward pass.
pub struct HiddenOutput {
    /// Output of the final norm [B, T, H] (HF's `last_hidden_state`).
    pub last_hidden: Tensor<3>,
    /// Residual stream after each layer [B, T, H], when requested.
    pub layer_outputs: Vec<Tensor<3>>,
}

/// The whole LFM2 causal LM.
#[derive(Module, Debug)]
pub struct Lfm2Model {
    /// Token embedding [V, H]; also the output head when tied.
    pub embed: Embedding,
    pub layers: Vec<DecoderLayer>,
    /// Final RMSNorm (HF `embedding_norm`).
    pub final_norm: RmsNorm,
    /// Untied head [V, H] (same layout as the embedding), absent when tied.
    pub lm_head: Option<Param<Tensor<2>>>,
    /// Host-held token embedding (inference loads; `embed` then holds an empty placeholder).
    #[module(skip)]
    pub embed_host: Option<HostMatrix>,
    /// Host-held untied head (inference loads).
    #[module(skip)]
    pub lm_head_host: Option<HostMatrix>,
    /// Rotary tables' source values (not parameters).
    pub rope_theta: f64,
    pub head_dim: usize,
    pub pad_token_id: usize,
    /// The config's `max_position_embeddings`: the longest sequence inference accepts.
    pub max_positions: usize,
}

/// Supplies each tensor of a new model in HF layout (row-major f32 with `Slot::hf_shape`).
///
/// Implemented by the safetensors loader and by random initialisation, so that both build
/// the model through the same code.
pub trait WeightSource {
    /// Returns the values of `slot` (exactly `shape.iter().product()` of them).
    fn get(&mut self, slot: Slot, shape: &[usize]) -> Result<Vec<f32>, LfmError>;

    /// A host matrix for `slot`, when the source supplies one (a GGUF file's packed blocks, or
    /// f32 weights for CPU inference). Only asked for
    /// linear weights, the embedding and the head; `None` means "use [`Self::get`]".
    fn host_matrix(&mut self, _slot: Slot) -> Result<Option<HostMatrix>, LfmError> {
        Ok(None)
    }
}

/// Hands every linear weight, the embedding and the head of `inner` to `pack` (HF layout
/// `[out, in]` values), so that a model is built with them in a host-side format, e.g. the
/// f32 kernels of [`crate::host::F32Matrix`] for CPU inference. Tensors `inner` already packs
/// stay as they are; norms, conv kernels and biases stay burn parameters.
pub struct PackingSource<'a> {
    pub inner: &'a mut dyn WeightSource,
    pub cfg: &'a Lfm2Config,
    pub pack: &'a mut dyn FnMut(Slot, Vec<f32>, [usize; 2]) -> HostMatrix,
}

impl WeightSource for PackingSource<'_> {
    fn get(&mut self, slot: Slot, shape: &[usize]) -> Result<Vec<f32>, LfmError> {
        self.inner.get(slot, shape)
    }

    fn host_matrix(&mut self, slot: Slot) -> Result<Option<HostMatrix>, LfmError> {
        if let Some(q) = self.inner.host_matrix(slot)? {
            return Ok(Some(q));
        }
        let shape = slot.hf_shape(self.cfg);
        let v = self.inner.get(slot, &shape)?;
        Ok(Some((self.pack)(slot, v, [shape[0], shape[1]])))
    }
}

/// Row-major `[rows, cols]` -> `[cols, rows]` on the host, in 64×64 blocks so that both
/// sides stay in cache (a plain loop misses on every write for the 65536-row embedding).
pub fn transpose_host(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    assert_eq!(data.len(), rows * cols, "transpose of a [{rows}, {cols}] matrix");
    const B: usize = 64;
    let mut out = vec![0.0; data.len()];
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cols) {
                    out[c * rows + r] = data[r * cols + c];
                }
            }
        }
    }
    out
}

struct Builder<'a> {
    cfg: &'a Lfm2Config,
    device: &'a Device,
    src: &'a mut dyn WeightSource,
}

impl Builder<'_> {
    fn values(&mut self, slot: Slot) -> Result<(Vec<f32>, Vec<usize>), LfmError> {
        let shape = slot.hf_shape(self.cfg);
        let v = self.src.get(slot, &shape)?;
        debug_assert_eq!(v.len(), shape.iter().product::<usize>());
        Ok((v, shape))
    }

    fn linear(&mut self, slot: Slot, bias: Option<Slot>) -> Result<Proj, LfmError> {
        debug_assert_eq!(slot.role(), Role::Linear);
        let bias = match bias {
            Some(b) => Some(self.vector(b)?),
            None => None,
        };
        if let Some(q) = self.src.host_matrix(slot)? {
            return Ok(Proj::on_host(q, bias, self.device));
        }
        let (w, shape) = self.values(slot)?;
        let (out_f, in_f) = (shape[0], shape[1]);
        // HF stores [out, in]; burn's linear computes x @ W with W [in, out].
        let w = transpose_host(&w, out_f, in_f);
        let weight = Param::from_data(TensorData::new(w, [in_f, out_f]), self.device);
        Ok(Proj::dense(weight, bias))
    }

    /// The embedding (or untied head) matrix: dense, or a host matrix with an empty placeholder.
    fn table(&mut self, slot: Slot) -> Result<(Param<Tensor<2>>, Option<HostMatrix>), LfmError> {
        match self.src.host_matrix(slot)? {
            Some(q) => Ok((Param::from_data(TensorData::new(Vec::<f32>::new(), [0, 0]), self.device), Some(q))),
            None => Ok((self.matrix(slot)?, None)),
        }
    }

    fn vector(&mut self, slot: Slot) -> Result<Param<Tensor<1>>, LfmError> {
        let (v, shape) = self.values(slot)?;
        Ok(Param::from_data(TensorData::new(v, [shape[0]]), self.device))
    }

    fn norm(&mut self, slot: Slot) -> Result<RmsNorm, LfmError> {
        Ok(RmsNorm { gamma: self.vector(slot)?, epsilon: self.cfg.norm_eps })
    }

    fn matrix(&mut self, slot: Slot) -> Result<Param<Tensor<2>>, LfmError> {
        let (v, shape) = self.values(slot)?;
        Ok(Param::from_data(TensorData::new(v, [shape[0], shape[1]]), self.device))
    }

    fn layer(&mut self, i: usize) -> Result<DecoderLayer, LfmError> {
        use LayerSlot::*;
        let s = |x| Slot::Layer(i, x);
        let c = self.cfg;
        let operator = match c.layer_types[i] {
            LayerKind::Conv => {
                let bias = c.conv_bias;
                let in_proj = self.linear(s(ConvInProj), bias.then_some(s(ConvInProjBias)))?;
                // HF [H, 1, L] -> [H, L]: same memory order, only the unit axis goes.
                let (k, shape) = self.values(s(ConvKernel))?;
                let kernel = Param::from_data(TensorData::new(k, [shape[0], shape[2]]), self.device);
                let kernel_bias = if bias { Some(self.vector(s(ConvBias))?) } else { None };
                let out_proj = self.linear(s(ConvOutProj), bias.then_some(s(ConvOutProjBias)))?;
                Operator::ShortConv(ShortConv { in_proj, kernel, kernel_bias, out_proj })
            }
            LayerKind::Attention => Operator::Attention(Attention {
                q_proj: self.linear(s(Q), None)?,
                k_proj: self.linear(s(K), None)?,
                v_proj: self.linear(s(V), None)?,
                out_proj: self.linear(s(O), None)?,
                q_norm: self.norm(s(QNorm))?,
                k_norm: self.norm(s(KNorm))?,
                num_heads: c.num_attention_heads,
                num_kv_heads: c.num_key_value_heads,
                head_dim: c.head_dim,
            }),
        };
        Ok(DecoderLayer {
            operator_norm: self.norm(s(OperatorNorm))?,
            operator,
            ffn_norm: self.norm(s(FfnNorm))?,
            feed_forward: FeedForward {
                w1: self.linear(s(W1), None)?,
                w2: self.linear(s(W2), None)?,
                w3: self.linear(s(W3), None)?,
            },
        })
    }
}

impl Lfm2Model {
    /// Builds a model for `cfg` on `device`, taking every tensor from `src`.
    pub fn build(cfg: &Lfm2Config, device: &Device, src: &mut dyn WeightSource) -> Result<Self, LfmError> {
        cfg.validate("config")?;
        let mut b = Builder { cfg, device, src };
        let (embed_w, embed_host) = b.table(Slot::Embed)?;
        let embed = Embedding { weight: embed_w };
        let layers = (0..cfg.num_layers()).map(|i| b.layer(i)).collect::<Result<Vec<_>, _>>()?;
        let final_norm = b.norm(Slot::FinalNorm)?;
        let (lm_head, lm_head_host) = if cfg.tie_embedding {
            (None, None)
        } else {
            let (w, q) = b.table(Slot::LmHead)?;
            (Some(w), q)
        };
        Ok(Self {
            embed,
            layers,
            final_norm,
            lm_head,
            embed_host,
            lm_head_host,
            rope_theta: cfg.rope_theta,
            head_dim: cfg.head_dim,
            pad_token_id: cfg.pad_token_id as usize,
            max_positions: cfg.max_position_embeddings,
        })
    }

    /// Reads every tensor back in HF layout (inverse of [`Lfm2Model::build`]).
    pub fn hf_tensors(&self, cfg: &Lfm2Config) -> Vec<(Slot, Vec<usize>, Vec<f32>)> {
        fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
            t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data")
        }
        let mut out = Vec::new();
        for slot in crate::names::tensor_table(cfg) {
            let shape = slot.hf_shape(cfg);
            let values = match slot {
                Slot::Embed => match &self.embed_host {
                    Some(q) => q.to_f32(),
                    None => host(self.embed.weight.val()),
                },
                Slot::FinalNorm => host(self.final_norm.gamma.val()),
                Slot::LmHead => match &self.lm_head_host {
                    Some(q) => q.to_f32(),
                    None => host(self.lm_head.as_ref().expect("untied head").val()),
                },
                Slot::Layer(i, s) => {
                    let layer = &self.layers[i];
                    let lin = |l: &Proj| l.hf_weight();
                    use LayerSlot::*;
                    match (s, &layer.operator) {
                        (OperatorNorm, _) => host(layer.operator_norm.gamma.val()),
                        (FfnNorm, _) => host(layer.ffn_norm.gamma.val()),
                        (W1, _) => lin(&layer.feed_forward.w1),
                        (W2, _) => lin(&layer.feed_forward.w2),
                        (W3, _) => lin(&layer.feed_forward.w3),
                        (ConvInProj, Operator::ShortConv(c)) => lin(&c.in_proj),
                        (ConvInProjBias, Operator::ShortConv(c)) => host(c.in_proj.bias.as_ref().unwrap().val()),
                        (ConvKernel, Operator::ShortConv(c)) => host(c.kernel.val()),
                        (ConvBias, Operator::ShortConv(c)) => host(c.kernel_bias.as_ref().unwrap().val()),
                        (ConvOutProj, Operator::ShortConv(c)) => lin(&c.out_proj),
                        (ConvOutProjBias, Operator::ShortConv(c)) => host(c.out_proj.bias.as_ref().unwrap().val()),
                        (Q, Operator::Attention(a)) => lin(&a.q_proj),
                        (K, Operator::Attention(a)) => lin(&a.k_proj),
                        (V, Operator::Attention(a)) => lin(&a.v_proj),
                        (O, Operator::Attention(a)) => lin(&a.out_proj),
                        (QNorm, Operator::Attention(a)) => host(a.q_norm.gamma.val()),
                        (KNorm, Operator::Attention(a)) => host(a.k_norm.gamma.val()),
                        _ => unreachable!("name table and layer kind disagree"),
                    }
                }
            };
            out.push((slot, shape, values));
        }
        out
    }

    /// Full-sequence logits without a cache.
    ///
    /// # Shapes
    /// - `ids`: [B, T] -> logits [B, T, V]
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let h = self.forward_hidden(ids, None, false).last_hidden;
        self.head(h)
    }

    /// `Ok` when a sequence of `len` positions fits the model's context
    /// (`max_position_embeddings`); otherwise one line naming `what` and both numbers.
    pub fn check_positions(&self, len: usize, what: &str) -> Result<(), LfmError> {
        if len > self.max_positions {
            return Err(LfmError::Invalid(format!(
                "{what} has {len} positions, more than the model's max_position_embeddings {}",
                self.max_positions
            )));
        }
        Ok(())
    }

    /// Runs a short probe sequence (token ids 0..8) and fails with one line if any logit is
    /// NaN or infinite: finite weights can still overflow f32 in the activations, and an
    /// export or a report must not be built from such a model.
    pub fn probe_finite(&self, cfg: &Lfm2Config, device: &Device) -> Result<(), LfmError> {
        let n = cfg.vocab_size.min(8);
        let ids: Vec<i64> = (0..n as i64).collect();
        let logits = self.forward(Tensor::from_data(TensorData::new(ids, [1, n]), device));
        let v = logits.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 logits");
        crate::compare::require_finite(|| format!("logits of a probe over token ids 0..{n}"), &v)
    }

    /// Full-sequence logits, [`PREFILL_CHUNK`] positions at a time through a fresh cache:
    /// the same values as [`forward`](Self::forward) (to rounding), but attention holds
    /// [chunk, S] scores instead of [S, S], so memory grows linearly with the length. For
    /// inference; training uses `forward` (its backward needs the whole graph anyway).
    ///
    /// # Shapes
    /// - `ids`: [B, T] -> logits [B, T, V]
    pub fn forward_chunked(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, t] = ids.dims();
        if t <= PREFILL_CHUNK {
            return self.forward(ids);
        }
        let mut cache = Cache::for_layers(self.layer_kinds(), vec![0; b]);
        let parts: Vec<Tensor<3>> = (0..t)
            .step_by(PREFILL_CHUNK)
            .map(|start| self.forward_cached(ids.clone().narrow(1, start, PREFILL_CHUNK.min(t - start)), &mut cache))
            .collect();
        Tensor::cat(parts, 1)
    }

    /// The kind of each layer, in order.
    fn layer_kinds(&self) -> Vec<LayerKind> {
        self.layers
            .iter()
            .map(|l| match l.operator {
                Operator::ShortConv(_) => LayerKind::Conv,
                Operator::Attention(_) => LayerKind::Attention,
            })
            .collect()
    }

    /// Logits of tokens that continue shared prefixes: row `r` is prefix `of[r]` followed by
    /// row `r` of `rest` (right-padded), and position `k` of the result is the logit vector
    /// that predicts `rest[r, k]` (at `k = 0` the prefix's last position). Each distinct
    /// prefix runs once however many rows continue it, through a cache whose rows are then
    /// repeated, so G completions of one prompt cost one prompt plus G completions instead of
    /// G prompts; the values are those of [`forward`](Self::forward) over the concatenated
    /// rows, to rounding. Works under autodiff (a repeated prefix row sums its gradients).
    ///
    /// # Shapes
    /// - `prefixes`: P token rows, each non-empty (left-padded into one batch here)
    /// - `of`: B indices into `prefixes`; `rest`: [B, W] with W >= 1 -> logits [B, W, V]
    ///
    /// # Panics
    /// If a prefix is empty, `of` has an index out of range or its length is not B.
    pub fn forward_prefixed(&self, prefixes: &[Vec<u32>], of: &[usize], rest: Tensor<2, Int>) -> Tensor<3> {
        let [b, w] = rest.dims();
        assert_eq!(of.len(), b, "one prefix index per row");
        assert!(prefixes.iter().all(|p| !p.is_empty()), "prefixes must be non-empty");
        let device = rest.device();
        let width = prefixes.iter().map(Vec::len).max().unwrap_or(1);
        let mut flat = Vec::with_capacity(prefixes.len() * width);
        let mut pads = Vec::with_capacity(prefixes.len());
        for p in prefixes {
            pads.push(width - p.len());
            flat.extend(std::iter::repeat_n(self.pad_token_id as i64, width - p.len()));
            flat.extend(p.iter().map(|&t| t as i64));
        }
        let ids = Tensor::from_data(TensorData::new(flat, [prefixes.len(), width]), &device);
        let mut cache = Cache::for_layers(self.layer_kinds(), pads);
        let h = self.forward_hidden(ids, Some(&mut cache), false).last_hidden;
        let idx: Vec<i64> = of.iter().map(|&i| i as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &device);
        let last = h.narrow(1, width - 1, 1).select(0, idx);
        let hidden = if w > 1 {
            let mut rows = cache.select_rows(of);
            let hr = self.forward_hidden(rest.narrow(1, 0, w - 1), Some(&mut rows), false).last_hidden;
            Tensor::cat(vec![last, hr], 1)
        } else {
            last
        };
        self.head(hidden)
    }

    /// Logits for new tokens, reading and extending `cache`.
    ///
    /// # Shapes
    /// - `ids`: [B, T] (T >= 1) -> logits [B, T, V]
    pub fn forward_cached(&self, ids: Tensor<2, Int>, cache: &mut Cache) -> Tensor<3> {
        let h = self.forward_hidden(ids, Some(cache), false).last_hidden;
        self.head(h)
    }

    /// The output head: `x @ E^T` (tied) or `x @ lm_head^T`.
    ///
    /// # Shapes
    /// - `hidden`: [B, T, H] -> [B, T, V]
    pub fn head(&self, hidden: Tensor<3>) -> Tensor<3> {
        let packed = match &self.lm_head {
            Some(_) => self.lm_head_host.as_ref(),
            None => self.embed_host.as_ref(),
        };
        if let Some(q) = packed {
            return crate::fused::host_linear(hidden, q);
        }
        let w = match &self.lm_head {
            Some(w) => w.val(),
            None => self.embed.weight.val(),
        };
        let [b, t, h] = hidden.dims();
        let v = w.dims()[0];
        hidden.reshape([b * t, h]).matmul(w.transpose()).reshape([b, t, v])
    }

    /// Runs the stack and returns the final-normed hidden states (and, if `collect`, each
    /// layer's residual output). With a cache, positions continue after the cached tokens and
    /// the cache's left padding is masked out.
    pub fn forward_hidden(&self, ids: Tensor<2, Int>, mut cache: Option<&mut Cache>, collect: bool) -> HiddenOutput {
        let [b, t] = ids.dims();
        let device = ids.device();
        let (past, pads) = match cache.as_deref() {
            Some(c) => {
                assert_eq!(c.batch_size(), b, "cache batch size {} != input batch {b}", c.batch_size());
                (c.seq_len(), c.left_pad().to_vec())
            }
            None => (0, vec![0; b]),
        };
        let mut x = self.embed_tokens(ids);
        let rope = Rope::new(self.rope_theta, self.head_dim, past, t, &pads, &device);
        let attn_mask = attention_mask(past, t, &pads, &device);
        // Left-pad positions inside this chunk: their conv input is zeroed, as HF does with
        // an attention mask, so they contribute nothing to later tokens' convolutions.
        let pad_rows = pad_mask(past, t, &pads, &device);
        let mut layer_outputs = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let mut h = crate::fused::rms_norm(&layer.operator_norm, x.clone());
            let op_out = match &layer.operator {
                Operator::ShortConv(conv) => {
                    if let Some(m) = &pad_rows {
                        h = h.clone().mask_fill(m.clone().expand(h.shape()), 0.0);
                    }
                    let state = cache.as_deref_mut().and_then(|c| c.layers[i].take_conv());
                    let (y, new_state) = conv.forward(h, state);
                    if let Some(c) = cache.as_deref_mut() {
                        c.layers[i] = LayerCache::Conv(new_state);
                    }
                    y
                }
                Operator::Attention(attn) => {
                    let kv = cache.as_deref_mut().and_then(|c| c.layers[i].take_kv());
                    let (y, kv) = attn.forward(h, &rope, kv, attn_mask.as_ref());
                    if let Some(c) = cache.as_deref_mut() {
                        c.layers[i] = LayerCache::Attention(Some(kv));
                    }
                    y
                }
            };
            x = x + op_out;
            x = x.clone() + layer.feed_forward.forward(crate::fused::rms_norm(&layer.ffn_norm, x));
            if collect {
                layer_outputs.push(x.clone());
            }
        }
        if let Some(c) = cache {
            c.advance(t);
        }
        HiddenOutput { last_hidden: crate::fused::rms_norm(&self.final_norm, x), layer_outputs }
    }

    /// Embedding lookup. Under autodiff the lookup path sends no gradient into the
    /// `pad_token_id` row, as PyTorch's `padding_idx` does (docs/lfm2-architecture.md §6).
    ///
    /// # Shapes
    /// - `ids`: [B, T] -> [B, T, H]
    pub fn embed_tokens(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        if let Some(q) = &self.embed_host {
            let [b, t] = ids.dims();
            let device = ids.device();
            let flat: Vec<usize> = ids
                .into_data()
                .convert::<i64>()
                .try_into_vec::<i64>()
                .expect("int ids")
                .into_iter()
                .map(|i| i as usize)
                .collect();
            let h = q.0.shape()[1];
            return q.gather(&flat, &device).reshape([b, t, h]);
        }
        let x = self.embed.forward(ids.clone());
        if !x.device().is_autodiff() {
            return x;
        }
        let is_pad = ids.equal_elem(self.pad_token_id as i64).unsqueeze_dim::<3>(2).expand(x.shape());
        x.clone().mask_where(is_pad, x.detach())
    }

    /// The training loss: [`loss`](Self::loss)`(forward(ids), labels)` computed with the
    /// vocabulary as the leading axis. Logits are `W · hᵀ` ([V, N]) instead of `h · Wᵀ`
    /// ([N, V]), so the head's weight gradient comes out of the matmul as a contiguous [V, H]
    /// tensor. With tied embeddings it is added to the embedding's gradient, and burn's CPU
    /// backend adds a transposed view element by element across pages (0.4 s of a 350M step).
    /// The softmax reductions run over the leading axis, which the CPU backend reduces row by
    /// row, and the last position (which predicts nothing) never reaches the head.
    /// Host-held heads fall back to the plain path.
    ///
    /// # Shapes
    /// - `ids`, `labels`: [B, T] -> scalar [1]
    pub fn lm_loss(&self, ids: Tensor<2, Int>, labels: Tensor<2, Int>) -> Tensor<1> {
        if self.lm_head_host.is_some() || self.embed_host.is_some() {
            return Self::loss(self.forward(ids), labels);
        }
        let [b, t] = ids.dims();
        let h = self.forward_hidden(ids, None, false).last_hidden;
        let d = h.dims()[2];
        let n = b * (t - 1);
        let h = h.narrow(1, 0, t - 1).reshape([n, d]);
        let w = match &self.lm_head {
            Some(w) => w.val(),
            None => self.embed.weight.val(),
        };
        let logits = crate::fused::matmul(w, h.transpose()); // [V, N]
                                                             // Labels are host data anyway; negative ones (HF's -100) are ignored.
        let targets: Vec<i32> = labels
            .narrow(1, 1, t - 1)
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("int labels")
            .into_iter()
            .map(|l| if l < 0 { -1 } else { l as i32 })
            .collect();
        debug_assert_eq!(targets.len(), n);
        let count = targets.iter().filter(|&&l| l >= 0).count().max(1);
        // One fused pass each way over the [V, N] logits on the CPU; burn ops elsewhere.
        let per_token = crate::fused::cross_entropy_vocab_major(logits, &targets);
        per_token.sum().reshape([1]) / count as f64
    }

    /// Mean next-token cross-entropy (HF `labels=` semantics, docs/lfm2-architecture.md §6): position t predicts
    /// label t+1, labels equal to -100 are ignored.
    ///
    /// # Shapes
    /// - `logits`: [B, T, V], `labels`: [B, T] -> scalar [1]
    pub fn loss(logits: Tensor<3>, labels: Tensor<2, Int>) -> Tensor<1> {
        let [b, t, v] = logits.dims();
        let logits = logits.narrow(1, 0, t - 1).reshape([b * (t - 1), v]);
        let targets = labels.narrow(1, 1, t - 1).reshape([b * (t - 1), 1]);
        let keep = targets.clone().not_equal_elem(-100);
        let safe_targets = targets.mask_fill(keep.clone().bool_not(), 0);
        let logp = log_softmax(logits, 1).gather(1, safe_targets); // [N, 1]
        let keep_f = keep.float();
        let count = keep_f.clone().sum().clamp_min(1.0);
        -(logp * keep_f).sum() / count
    }
}

/// Attention mask [B, 1, T, P+T] (true = masked): causal, plus each row's left padding.
/// `None` when nothing is masked (a single decode step without padding).
fn attention_mask(past: usize, t: usize, pads: &[usize], device: &Device) -> Option<Tensor<4, Bool>> {
    let tk = past + t;
    if t == 1 && pads.iter().all(|&p| p == 0) {
        return None;
    }
    let b = pads.len();
    let mut m = vec![false; b * t * tk];
    for (r, &pad) in pads.iter().enumerate() {
        for i in 0..t {
            let qpos = past + i;
            for j in 0..tk {
                m[(r * t + i) * tk + j] = j > qpos || j < pad;
            }
        }
    }
    Some(Tensor::from_data(TensorData::new(m, [b, 1, t, tk]), device))
}

/// Mask [B, T, 1] of left-pad positions in this chunk, `None` if there are none.
fn pad_mask(past: usize, t: usize, pads: &[usize], device: &Device) -> Option<Tensor<3, Bool>> {
    if pads.iter().all(|&p| p <= past) {
        return None;
    }
    let b = pads.len();
    let mut m = vec![false; b * t];
    for (r, &pad) in pads.iter().enumerate() {
        for i in 0..t {
            m[r * t + i] = past + i < pad;
        }
    }
    Some(Tensor::from_data(TensorData::new(m, [b, t, 1]), device))
}
