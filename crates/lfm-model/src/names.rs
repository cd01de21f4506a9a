//! The one name table: every tensor of an LFM2 checkpoint, with its HF safetensors name,
//! its GGUF name and its HF shape (docs/lfm2-architecture.md §3 and §8.1).
//!
//! Loaders, savers and exporters all walk [`tensor_table`]; nothing else spells a tensor
//! name. HF shapes are row-major PyTorch shapes (`nn.Linear` weights are `[out, in]`);
//! GGUF `ne` dimensions are the reverse of the HF shape (with the conv kernel squeezed).

use crate::config::{LayerKind, Lfm2Config};

/// Which tensor of the model a table entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `model.embed_tokens.weight` [V, H].
    Embed,
    /// `model.embedding_norm.weight` [H] — the *final* norm despite its name.
    FinalNorm,
    /// `lm_head.weight` [V, H], only when the head is untied.
    LmHead,
    /// Per-layer tensors: (layer index, which).
    Layer(usize, LayerSlot),
}

/// Tensors inside decoder layer `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerSlot {
    OperatorNorm,
    FfnNorm,
    /// SwiGLU gate [F, H].
    W1,
    /// SwiGLU down [H, F].
    W2,
    /// SwiGLU up [F, H].
    W3,
    ConvInProj,
    ConvInProjBias,
    /// Depthwise kernel, HF shape [H, 1, L].
    ConvKernel,
    ConvBias,
    ConvOutProj,
    ConvOutProjBias,
    Q,
    K,
    V,
    O,
    QNorm,
    KNorm,
}

/// How a tensor is stored, which decides layout conversions and init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Token embedding (or untied head) [V, H].
    Embedding,
    /// A `nn.Linear` weight, HF [out, in]; burn's `Linear` keeps [in, out].
    Linear,
    /// An RMSNorm weight.
    Norm,
    /// The depthwise conv kernel, HF [H, 1, L]; kept as [H, L] in burn.
    ConvKernel,
    /// A bias vector.
    Bias,
}

impl Slot {
    /// The HF safetensors name.
    pub fn hf_name(&self) -> String {
        match *self {
            Slot::Embed => "model.embed_tokens.weight".into(),
            Slot::FinalNorm => "model.embedding_norm.weight".into(),
            Slot::LmHead => "lm_head.weight".into(),
            Slot::Layer(i, s) => {
                let tail = match s {
                    LayerSlot::OperatorNorm => "operator_norm.weight",
                    LayerSlot::FfnNorm => "ffn_norm.weight",
                    LayerSlot::W1 => "feed_forward.w1.weight",
                    LayerSlot::W2 => "feed_forward.w2.weight",
                    LayerSlot::W3 => "feed_forward.w3.weight",
                    LayerSlot::ConvInProj => "conv.in_proj.weight",
                    LayerSlot::ConvInProjBias => "conv.in_proj.bias",
                    LayerSlot::ConvKernel => "conv.conv.weight",
                    LayerSlot::ConvBias => "conv.conv.bias",
                    LayerSlot::ConvOutProj => "conv.out_proj.weight",
                    LayerSlot::ConvOutProjBias => "conv.out_proj.bias",
                    LayerSlot::Q => "self_attn.q_proj.weight",
                    LayerSlot::K => "self_attn.k_proj.weight",
                    LayerSlot::V => "self_attn.v_proj.weight",
                    LayerSlot::O => "self_attn.out_proj.weight",
                    LayerSlot::QNorm => "self_attn.q_layernorm.weight",
                    LayerSlot::KNorm => "self_attn.k_layernorm.weight",
                };
                format!("model.layers.{i}.{tail}")
            }
        }
    }

    /// The GGUF (llama.cpp) name.
    pub fn gguf_name(&self) -> String {
        match *self {
            Slot::Embed => "token_embd.weight".into(),
            // llama.cpp maps HF's `embedding_norm` by name; it is used as the output norm.
            Slot::FinalNorm => "token_embd_norm.weight".into(),
            Slot::LmHead => "output.weight".into(),
            Slot::Layer(i, s) => {
                let tail = match s {
                    LayerSlot::OperatorNorm => "attn_norm.weight",
                    LayerSlot::FfnNorm => "ffn_norm.weight",
                    LayerSlot::W1 => "ffn_gate.weight",
                    LayerSlot::W2 => "ffn_down.weight",
                    LayerSlot::W3 => "ffn_up.weight",
                    LayerSlot::ConvInProj => "shortconv.in_proj.weight",
                    LayerSlot::ConvInProjBias => "shortconv.in_proj.bias",
                    LayerSlot::ConvKernel => "shortconv.conv.weight",
                    LayerSlot::ConvBias => "shortconv.conv.bias",
                    LayerSlot::ConvOutProj => "shortconv.out_proj.weight",
                    LayerSlot::ConvOutProjBias => "shortconv.out_proj.bias",
                    LayerSlot::Q => "attn_q.weight",
                    LayerSlot::K => "attn_k.weight",
                    LayerSlot::V => "attn_v.weight",
                    LayerSlot::O => "attn_output.weight",
                    LayerSlot::QNorm => "attn_q_norm.weight",
                    LayerSlot::KNorm => "attn_k_norm.weight",
                };
                format!("blk.{i}.{tail}")
            }
        }
    }

    /// The storage role.
    pub fn role(&self) -> Role {
        match *self {
            Slot::Embed | Slot::LmHead => Role::Embedding,
            Slot::FinalNorm => Role::Norm,
            Slot::Layer(_, s) => match s {
                LayerSlot::OperatorNorm | LayerSlot::FfnNorm | LayerSlot::QNorm | LayerSlot::KNorm => Role::Norm,
                LayerSlot::ConvKernel => Role::ConvKernel,
                LayerSlot::ConvInProjBias | LayerSlot::ConvBias | LayerSlot::ConvOutProjBias => Role::Bias,
                _ => Role::Linear,
            },
        }
    }

    /// The HF (PyTorch, row-major) shape of this tensor for `c`.
    pub fn hf_shape(&self, c: &Lfm2Config) -> Vec<usize> {
        let (h, f, l) = (c.hidden_size, c.ff_dim, c.conv_l_cache);
        let q = c.num_attention_heads * c.head_dim;
        let kv = c.num_key_value_heads * c.head_dim;
        match *self {
            Slot::Embed | Slot::LmHead => vec![c.vocab_size, h],
            Slot::FinalNorm => vec![h],
            Slot::Layer(_, s) => match s {
                LayerSlot::OperatorNorm | LayerSlot::FfnNorm => vec![h],
                LayerSlot::W1 | LayerSlot::W3 => vec![f, h],
                LayerSlot::W2 => vec![h, f],
                LayerSlot::ConvInProj => vec![3 * h, h],
                LayerSlot::ConvInProjBias => vec![3 * h],
                LayerSlot::ConvKernel => vec![h, 1, l],
                LayerSlot::ConvBias | LayerSlot::ConvOutProjBias => vec![h],
                LayerSlot::ConvOutProj => vec![h, h],
                LayerSlot::Q => vec![q, h],
                LayerSlot::K | LayerSlot::V => vec![kv, h],
                LayerSlot::O => vec![h, q],
                LayerSlot::QNorm | LayerSlot::KNorm => vec![c.head_dim],
            },
        }
    }

    /// GGUF `ne` (fastest dimension first): the reversed HF shape, conv kernel squeezed.
    pub fn gguf_dims(&self, c: &Lfm2Config) -> Vec<usize> {
        let mut s = self.hf_shape(c);
        if self.role() == Role::ConvKernel {
            s.remove(1);
        }
        s.reverse();
        s
    }
}

/// The tensor slots of decoder layer `i`, in checkpoint order.
pub fn layer_slots(c: &Lfm2Config, i: usize) -> Vec<LayerSlot> {
    use LayerSlot::*;
    let mut v = vec![OperatorNorm, FfnNorm, W1, W2, W3];
    match c.layer_types[i] {
        LayerKind::Conv => {
            v.extend([ConvInProj, ConvKernel, ConvOutProj]);
            if c.conv_bias {
                v.extend([ConvInProjBias, ConvBias, ConvOutProjBias]);
            }
        }
        LayerKind::Attention => v.extend([Q, K, V, O, QNorm, KNorm]),
    }
    v
}

/// Every tensor stored in an HF checkpoint of this config (no `lm_head` when tied).
pub fn tensor_table(c: &Lfm2Config) -> Vec<Slot> {
    let mut v = vec![Slot::Embed];
    for i in 0..c.num_layers() {
        v.extend(layer_slots(c, i).into_iter().map(|s| Slot::Layer(i, s)));
    }
    v.push(Slot::FinalNorm);
    if !c.tie_embedding {
        v.push(Slot::LmHead);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_350m_has_148_tensors_and_the_spec_count() {
        let c = Lfm2Config::lfm2_350m();
        let t = tensor_table(&c);
        assert_eq!(t.len(), 148);
        let n: usize = t.iter().map(|s| s.hf_shape(&c).iter().product::<usize>()).sum();
        assert_eq!(n, 354_483_968);
        assert_eq!(Slot::Layer(3, LayerSlot::ConvKernel).gguf_dims(&c), vec![3, 1024]);
        assert_eq!(Slot::Layer(2, LayerSlot::K).gguf_name(), "blk.2.attn_k.weight");
    }
}
