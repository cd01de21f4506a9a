//! `Lfm2Config`: the model's shape, read from an HF `config.json` or taken from a preset.
//!
//! HF `config.json` files for LFM2 exist in two styles (transformers 4.5x and 5.x); the key
//! aliases accepted here follow docs/lfm2-architecture.md §2.4. Anything that is not needed to
//! build the network is ignored, as transformers ignores it.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::LfmError;

/// The operator of one decoder layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerKind {
    /// Double-gated short convolution ("LIV conv").
    Conv,
    /// Grouped-query attention with per-head q/k RMSNorm and rotate-half RoPE.
    Attention,
}

impl LayerKind {
    /// The HF spelling in `layer_types`.
    pub fn hf_name(self) -> &'static str {
        match self {
            LayerKind::Conv => "conv",
            LayerKind::Attention => "full_attention",
        }
    }
}

/// Shape and numerics of an LFM2 / LFM2.5 model.
///
/// The effective feed-forward width is already resolved here (`ff_dim`), so the rest of the
/// code never repeats the auto-adjust rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lfm2Config {
    /// Vocabulary size V (rows of the embedding).
    pub vocab_size: usize,
    /// Residual width H.
    pub hidden_size: usize,
    /// Operator of each layer, in order; its length is the number of layers.
    pub layer_types: Vec<LayerKind>,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (GQA); must divide `num_attention_heads`.
    pub num_key_value_heads: usize,
    /// Per-head width.
    pub head_dim: usize,
    /// Effective SwiGLU width F (after the auto-adjust rule).
    pub ff_dim: usize,
    /// Depthwise causal conv kernel length L.
    pub conv_l_cache: usize,
    /// Whether the conv operator has biases (no released checkpoint does).
    pub conv_bias: bool,
    /// RMSNorm epsilon (inside the sqrt).
    pub norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// Maximum positions the model was configured for.
    pub max_position_embeddings: usize,
    /// Output head tied to the embedding.
    pub tie_embedding: bool,
    /// Token ids.
    pub bos_token_id: u32,
    /// End of sequence for generation (`<|im_end|>` = 7 in released checkpoints).
    pub eos_token_id: u32,
    /// Padding id (also the embedding's `padding_idx` in HF).
    pub pad_token_id: u32,
    /// Raw FF width and adjust parameters, kept so that `config.json` round-trips.
    pub intermediate_size: usize,
    /// HF's `block_auto_adjust_ff_dim`.
    pub block_auto_adjust_ff_dim: bool,
    /// HF's `block_ffn_dim_multiplier`.
    pub block_ffn_dim_multiplier: Option<f64>,
    /// HF's `block_multiple_of`.
    pub block_multiple_of: usize,
}

/// The feed-forward width rule of docs/lfm2-architecture.md §2.3 (HF's `Lfm2MLP.__init__`).
pub fn adjusted_ff_dim(raw: usize, auto_adjust: bool, multiplier: Option<f64>, multiple_of: usize) -> usize {
    if !auto_adjust {
        return raw;
    }
    let mut f = (2.0 * raw as f64 / 3.0) as usize;
    if let Some(m) = multiplier {
        f = (m * f as f64) as usize;
        // HF rounds up to a multiple only inside the multiplier branch.
        f = multiple_of * f.div_ceil(multiple_of);
    }
    f
}

impl Lfm2Config {
    /// LFM2-350M / LFM2.5-350M (docs/lfm2-architecture.md §2.1). The only place the 350M shape is written.
    pub fn lfm2_350m() -> Self {
        let attn = [2, 5, 8, 10, 12, 14];
        let layer_types =
            (0..16).map(|i| if attn.contains(&i) { LayerKind::Attention } else { LayerKind::Conv }).collect();
        let mut c = Self {
            vocab_size: 65536,
            hidden_size: 1024,
            layer_types,
            num_attention_heads: 16,
            num_key_value_heads: 8,
            head_dim: 64,
            ff_dim: 0,
            conv_l_cache: 3,
            conv_bias: false,
            norm_eps: 1e-5,
            rope_theta: 1_000_000.0,
            max_position_embeddings: 128_000,
            tie_embedding: true,
            bos_token_id: 1,
            eos_token_id: 7,
            pad_token_id: 0,
            intermediate_size: 6656,
            block_auto_adjust_ff_dim: true,
            block_ffn_dim_multiplier: Some(1.0),
            block_multiple_of: 256,
        };
        c.ff_dim = adjusted_ff_dim(6656, true, Some(1.0), 256);
        c
    }

    /// The `tiny` preset: the 350M block pattern at toy size (hidden 128, 6 layers of which 2
    /// attention, 4 query and 2 KV heads) with `vocab_size` tokens, for CPU runs and tests.
    pub fn tiny(vocab_size: usize) -> Self {
        use LayerKind::{Attention as A, Conv as C};
        let mut c = Self::lfm2_350m();
        c.vocab_size = vocab_size;
        c.hidden_size = 128;
        c.intermediate_size = 384;
        c.block_auto_adjust_ff_dim = false;
        c.block_ffn_dim_multiplier = None;
        c.ff_dim = 384;
        c.layer_types = vec![C, C, A, C, C, A];
        c.num_attention_heads = 4;
        c.num_key_value_heads = 2;
        c.head_dim = 32;
        c.max_position_embeddings = 4096;
        c
    }

    /// A smaller student for distilling a `tiny` model: hidden 64, four blocks (three LIV, one
    /// attention).
    pub fn nano(vocab_size: usize) -> Self {
        use LayerKind::{Attention as A, Conv as C};
        let mut c = Self::tiny(vocab_size);
        c.hidden_size = 64;
        c.intermediate_size = 192;
        c.ff_dim = 192;
        c.layer_types = vec![C, C, A, C];
        c.num_attention_heads = 2;
        c.num_key_value_heads = 1;
        c.head_dim = 32;
        c
    }

    /// Names accepted by [`Lfm2Config::preset`].
    pub const PRESETS: [&'static str; 3] = ["tiny", "nano", "lfm2-350m"];

    /// The config of a named preset (see [`Self::PRESETS`]) with room for at least `vocab`
    /// tokens: run configs and `lfm bench --preset` name a shape; they never copy one.
    pub fn preset(name: &str, vocab: usize) -> Result<Self, LfmError> {
        let mut c = match name {
            "tiny" => Self::tiny(vocab),
            "nano" => Self::nano(vocab),
            "lfm2-350m" => Self::lfm2_350m(),
            other => {
                return Err(LfmError::Config {
                    file: "preset".into(),
                    msg: format!("unknown preset {other:?} (one of {})", Self::PRESETS.join(", ")),
                })
            }
        };
        c.vocab_size = c.vocab_size.max(vocab);
        Ok(c)
    }

    /// Number of decoder layers.
    pub fn num_layers(&self) -> usize {
        self.layer_types.len()
    }

    /// Indices of attention layers.
    pub fn attention_layers(&self) -> Vec<usize> {
        (0..self.num_layers()).filter(|&i| self.layer_types[i] == LayerKind::Attention).collect()
    }

    /// Compact pattern such as `ccAccA...` (c = conv, A = attention).
    pub fn pattern(&self) -> String {
        self.layer_types.iter().map(|k| if *k == LayerKind::Conv { 'c' } else { 'A' }).collect()
    }

    /// Total parameter count (docs/lfm2-architecture.md §7).
    pub fn num_params(&self) -> usize {
        let (h, v, f, l) = (self.hidden_size, self.vocab_size, self.ff_dim, self.conv_l_cache);
        let q = self.num_attention_heads * self.head_dim;
        let kv = self.num_key_value_heads * self.head_dim;
        let per_layer = 3 * h * f + 2 * h;
        let conv = 3 * h * h + h * h + h * l + if self.conv_bias { 5 * h } else { 0 };
        let attn = h * q + 2 * h * kv + q * h + 2 * self.head_dim;
        let n_attn = self.attention_layers().len();
        let n_conv = self.num_layers() - n_attn;
        let head = if self.tie_embedding { 0 } else { v * h };
        v * h + self.num_layers() * per_layer + n_conv * conv + n_attn * attn + h + head
    }

    /// A lower bound on the memory one training step over `batch` rows of `seq_len` tokens
    /// needs: the f32 attention scores and probabilities that every attention layer keeps for
    /// the backward pass (2 × B × heads × S² × 4 bytes each), plus the logits and their
    /// gradient (2 × B × S × V × 4). The real peak is higher (weights, optimizer state, other
    /// activations); the bound only has to be right when it says "too much".
    pub fn training_bytes_lower_bound(&self, batch: usize, seq_len: usize) -> u128 {
        let (b, s) = (batch as u128, seq_len as u128);
        let scores = 2 * b * self.num_attention_heads as u128 * s * s * 4 * self.attention_layers().len() as u128;
        let logits = 2 * b * s * self.vocab_size as u128 * 4;
        scores + logits
    }

    /// Refuses a training shape the model cannot take: `seq_len` beyond
    /// `max_position_embeddings`, or one whose [lower bound](Self::training_bytes_lower_bound)
    /// exceeds `available` bytes (pass the machine's available memory; `None` skips that
    /// check). One line naming `origin` and the numbers, instead of an allocation abort
    /// mid-run.
    pub fn check_training_shape(
        &self,
        batch: usize,
        seq_len: usize,
        available: Option<u64>,
        origin: &str,
    ) -> Result<(), LfmError> {
        let bad = |msg: String| Err(LfmError::Config { file: origin.to_string(), msg });
        if seq_len > self.max_position_embeddings {
            return bad(format!(
                "seq_len {seq_len} is more than the model's max_position_embeddings {}",
                self.max_position_embeddings
            ));
        }
        let need = self.training_bytes_lower_bound(batch, seq_len);
        if let Some(avail) = available {
            if need > avail as u128 {
                let gib = |x: u128| x as f64 / (1u128 << 30) as f64;
                return bad(format!(
                    "{batch} x {seq_len} tokens per micro-batch needs at least {:.1} GiB for attention scores and logits, more than the {:.1} GiB available; lower micro_batch or seq_len",
                    gib(need),
                    gib(avail as u128)
                ));
            }
        }
        Ok(())
    }

    /// Checks internal consistency; the error names `origin` (a file or a preset).
    pub fn validate(&self, origin: &str) -> Result<(), LfmError> {
        let bad = |msg: String| Err(LfmError::Config { file: origin.to_string(), msg });
        if self.hidden_size == 0 || self.vocab_size == 0 || self.layer_types.is_empty() {
            return bad("hidden_size, vocab_size and the layer list must be non-zero".into());
        }
        if self.num_key_value_heads == 0 || !self.num_attention_heads.is_multiple_of(self.num_key_value_heads) {
            return bad(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if self.ff_dim == 0 {
            return bad("the feed-forward width works out to 0".into());
        }
        if !(self.norm_eps.is_finite() && self.norm_eps >= 0.0) {
            return bad(format!("norm_eps {} must be a finite number >= 0", self.norm_eps));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            return bad(format!("rope_theta {} must be a finite number > 0", self.rope_theta));
        }
        if self.max_position_embeddings == 0 {
            return bad("max_position_embeddings must be positive".into());
        }
        if self.head_dim == 0 || !self.head_dim.is_multiple_of(2) {
            return bad(format!("head_dim {} must be even and non-zero (rotate-half RoPE)", self.head_dim));
        }
        if self.conv_l_cache < 1 {
            return bad("conv_L_cache must be at least 1".into());
        }
        if self.ff_dim == 0 {
            return bad("the feed-forward width resolves to 0".into());
        }
        Ok(())
    }

    /// Parses an HF `config.json` value (both 4.5x and 5.x styles).
    pub fn from_hf_value(v: &Value, origin: &str) -> Result<Self, LfmError> {
        let err = |msg: String| LfmError::Config { file: origin.to_string(), msg };
        let obj = v.as_object().ok_or_else(|| err("top level is not a JSON object".into()))?;
        let model_type = obj.get("model_type").and_then(Value::as_str).unwrap_or("");
        if model_type != "lfm2" {
            // The JSON value as written (`"llama"`, `null`, `3`), not its Rust debug form.
            let found = obj.get("model_type").map_or_else(|| "missing".to_string(), Value::to_string);
            return Err(err(format!("model_type {found} is not supported (lfm-rs reads \"lfm2\")")));
        }
        let uint = |key: &str| -> Result<Option<usize>, LfmError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(x) => x
                    .as_u64()
                    .map(|n| Some(n as usize))
                    .ok_or_else(|| err(format!("key {key:?} must be a non-negative integer, got {x}"))),
            }
        };
        let float = |key: &str| -> Result<Option<f64>, LfmError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(x) => x.as_f64().map(Some).ok_or_else(|| err(format!("key {key:?} must be a number, got {x}"))),
            }
        };
        let boolean = |key: &str| -> Result<Option<bool>, LfmError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(x) => x.as_bool().map(Some).ok_or_else(|| err(format!("key {key:?} must be a boolean, got {x}"))),
            }
        };
        let need = |key: &str, val: Option<usize>| val.ok_or_else(|| err(format!("missing key {key:?}")));

        let hidden_size = need("hidden_size", uint("hidden_size")?)?;
        let num_layers = need("num_hidden_layers", uint("num_hidden_layers")?)?;
        let vocab_size = need("vocab_size", uint("vocab_size")?)?;
        let num_attention_heads = need("num_attention_heads", uint("num_attention_heads")?)?;
        let num_key_value_heads = uint("num_key_value_heads")?.unwrap_or(num_attention_heads);

        // Layer kinds: `layer_types`, else `full_attn_idxs`, else (as HF) all attention.
        let layer_types = match (obj.get("layer_types"), obj.get("full_attn_idxs")) {
            (Some(Value::Array(types)), _) => types
                .iter()
                .map(|t| match t.as_str() {
                    Some("conv") => Ok(LayerKind::Conv),
                    Some("full_attention") => Ok(LayerKind::Attention),
                    _ => Err(err(format!("unknown layer type {t} in layer_types"))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            (_, Some(Value::Array(idx))) => {
                let mut kinds = vec![LayerKind::Conv; num_layers];
                for i in idx {
                    let i =
                        i.as_u64().ok_or_else(|| err(format!("full_attn_idxs entry {i} is not an index")))? as usize;
                    if i >= num_layers {
                        return Err(err(format!("full_attn_idxs entry {i} >= num_hidden_layers {num_layers}")));
                    }
                    kinds[i] = LayerKind::Attention;
                }
                kinds
            }
            _ => vec![LayerKind::Attention; num_layers],
        };
        if layer_types.len() != num_layers {
            return Err(err(format!(
                "layer_types has {} entries but num_hidden_layers is {num_layers}",
                layer_types.len()
            )));
        }

        let raw_ff = match uint("block_ff_dim")? {
            Some(x) => x,
            None => need("intermediate_size", uint("intermediate_size")?)?,
        };
        let auto = boolean("block_auto_adjust_ff_dim")?.unwrap_or(true);
        let multiplier = float("block_ffn_dim_multiplier")?;
        let multiple_of = uint("block_multiple_of")?.unwrap_or(256);
        if multiple_of == 0 {
            return Err(err("block_multiple_of must be positive".into()));
        }
        if multiplier.is_some_and(|m| !(m.is_finite() && m > 0.0)) {
            return Err(err(format!("block_ffn_dim_multiplier {} must be a positive number", multiplier.unwrap())));
        }
        // Only plain RoPE is implemented: a scaled variant would load and silently compute
        // something else.
        for (key, v) in [
            ("rope_parameters.rope_type", obj.get("rope_parameters").and_then(|p| p.get("rope_type"))),
            ("rope_scaling.rope_type", obj.get("rope_scaling").and_then(|p| p.get("rope_type"))),
            ("rope_scaling.type", obj.get("rope_scaling").and_then(|p| p.get("type"))),
        ] {
            match v {
                None | Some(Value::Null) => {}
                Some(Value::String(t)) if t == "default" => {}
                Some(other) => return Err(err(format!("{key} {other} is not supported (only \"default\" RoPE)"))),
            }
        }
        let rope_theta = match obj.get("rope_parameters").and_then(|p| p.get("rope_theta")) {
            Some(x) => x.as_f64().ok_or_else(|| err("rope_parameters.rope_theta must be a number".into()))?,
            None => float("rope_theta")?.unwrap_or(1_000_000.0),
        };
        let tie = match boolean("tie_embedding")? {
            Some(t) => t,
            None => boolean("tie_word_embeddings")?.unwrap_or(true),
        };
        if num_attention_heads == 0 {
            return Err(err("num_attention_heads must be non-zero".into()));
        }
        let head_dim = uint("head_dim")?.unwrap_or(hidden_size / num_attention_heads);
        let id = |key: &str, default: u32| -> Result<u32, LfmError> {
            match obj.get(key) {
                Some(Value::Array(a)) => Ok(a.first().and_then(Value::as_u64).unwrap_or(default as u64) as u32),
                _ => Ok(uint(key)?.map(|x| x as u32).unwrap_or(default)),
            }
        };
        let c = Self {
            vocab_size,
            hidden_size,
            layer_types,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            ff_dim: adjusted_ff_dim(raw_ff, auto, multiplier, multiple_of),
            conv_l_cache: uint("conv_L_cache")?.unwrap_or(3),
            conv_bias: boolean("conv_bias")?.unwrap_or(false),
            norm_eps: float("norm_eps")?.unwrap_or(1e-5),
            rope_theta,
            max_position_embeddings: uint("max_position_embeddings")?.unwrap_or(128_000),
            tie_embedding: tie,
            bos_token_id: id("bos_token_id", 1)?,
            eos_token_id: id("eos_token_id", 7)?,
            pad_token_id: id("pad_token_id", 0)?,
            intermediate_size: raw_ff,
            block_auto_adjust_ff_dim: auto,
            block_ffn_dim_multiplier: multiplier,
            block_multiple_of: multiple_of,
        };
        c.validate(origin)?;
        Ok(c)
    }

    /// Reads `config.json` from a file.
    pub fn from_hf_file(path: &Path) -> Result<Self, LfmError> {
        let origin = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| LfmError::Io { file: origin.clone(), msg: e.to_string() })?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| LfmError::Config { file: origin.clone(), msg: format!("invalid JSON: {e}") })?;
        Self::from_hf_value(&v, &origin)
    }

    /// The HF `config.json` (transformers 5.x style) describing this model.
    pub fn to_hf_value(&self) -> Value {
        serde_json::json!({
            "architectures": ["Lfm2ForCausalLM"],
            "model_type": "lfm2",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers(),
            "layer_types": self.layer_types.iter().map(|k| k.hf_name()).collect::<Vec<_>>(),
            "full_attn_idxs": Value::Null,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "intermediate_size": self.intermediate_size,
            "block_auto_adjust_ff_dim": self.block_auto_adjust_ff_dim,
            "block_ffn_dim_multiplier": self.block_ffn_dim_multiplier,
            "block_multiple_of": self.block_multiple_of,
            "conv_L_cache": self.conv_l_cache,
            "conv_bias": self.conv_bias,
            "norm_eps": self.norm_eps,
            "rope_parameters": {"rope_theta": self.rope_theta, "rope_type": "default"},
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_embedding,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "dtype": "float32",
            "use_cache": true,
            "initializer_range": 0.02,
        })
    }

    /// A one-paragraph summary for `lfm info`.
    pub fn summary(&self) -> String {
        format!(
            "lfm2: {} layers ({} conv + {} attention, pattern {}), hidden {}, ff {}, heads {}/{} (head_dim {}), \
             vocab {}, conv L {}, rope theta {}, tied head {}, {} parameters",
            self.num_layers(),
            self.num_layers() - self.attention_layers().len(),
            self.attention_layers().len(),
            self.pattern(),
            self.hidden_size,
            self.ff_dim,
            self.num_attention_heads,
            self.num_key_value_heads,
            self.head_dim,
            self.vocab_size,
            self.conv_l_cache,
            self.rope_theta,
            self.tie_embedding,
            self.num_params()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_shapes_beyond_the_context_or_the_memory_are_refused() {
        let c = Lfm2Config::lfm2_350m();
        // 6 attention layers x 16 heads: 2 x 16 x 4096^2 x 4 B x 6 = 12 GiB of scores, and
        // 2 x 4096 x 65536 x 4 B = 2 GiB of logits and their gradient.
        assert_eq!(c.training_bytes_lower_bound(1, 4096), 14 << 30);
        c.check_training_shape(1, 4096, Some(15 << 30), "run.toml").unwrap();
        let e = c.check_training_shape(1, 4096, Some(8 << 30), "run.toml").unwrap_err().to_string();
        assert_eq!(
            e,
            "run.toml: bad config: 1 x 4096 tokens per micro-batch needs at least 14.0 GiB for attention scores and logits, more than the 8.0 GiB available; lower micro_batch or seq_len"
        );
        let e = c.check_training_shape(1, c.max_position_embeddings + 1, None, "run.toml").unwrap_err().to_string();
        assert!(e.contains("more than the model's max_position_embeddings"), "{e}");
    }

    #[test]
    fn preset_350m_parameter_count_matches_spec() {
        // 354,483,968 is transformers' num_parameters() for this config (docs/lfm2-architecture.md §7).
        let c = Lfm2Config::lfm2_350m();
        assert_eq!(c.ff_dim, 4608);
        assert_eq!(c.num_params(), 354_483_968);
        assert_eq!(c.attention_layers(), vec![2, 5, 8, 10, 12, 14]);
    }

    #[test]
    fn ff_rule_matches_spec_table() {
        // docs/lfm2-architecture.md §2.2: 700M 10240 -> 6912, 1.2B 12288 -> 8192, 2.6B no adjust.
        assert_eq!(adjusted_ff_dim(10240, true, Some(1.0), 256), 6912);
        assert_eq!(adjusted_ff_dim(12288, true, Some(1.0), 256), 8192);
        assert_eq!(adjusted_ff_dim(10752, false, Some(1.0), 256), 10752);
        // HF does not round when the multiplier is null.
        assert_eq!(adjusted_ff_dim(200, true, None, 32), 133);
        assert_eq!(adjusted_ff_dim(200, true, Some(1.0), 32), 160);
    }

    #[test]
    fn old_style_config_with_full_attn_idxs() {
        let v = serde_json::json!({
            "model_type": "lfm2", "hidden_size": 1024, "num_hidden_layers": 16, "vocab_size": 65536,
            "num_attention_heads": 16, "num_key_value_heads": 8, "block_ff_dim": 6656,
            "intermediate_size": 1234, "block_auto_adjust_ff_dim": true,
            "block_ffn_dim_multiplier": 1.0, "block_multiple_of": 256, "conv_L_cache": 3,
            "full_attn_idxs": [2, 5, 8, 10, 12, 14], "rope_theta": 1000000.0, "tie_embedding": true,
            "norm_eps": 1e-5, "eos_token_id": 7
        });
        let c = Lfm2Config::from_hf_value(&v, "test").unwrap();
        assert_eq!(c.ff_dim, 4608);
        assert_eq!(c.layer_types, Lfm2Config::lfm2_350m().layer_types);
        assert_eq!(c.num_params(), 354_483_968);
    }

    #[test]
    fn round_trip_through_hf_json() {
        let c = Lfm2Config::lfm2_350m();
        let back = Lfm2Config::from_hf_value(&c.to_hf_value(), "rt").unwrap();
        assert_eq!(c, back);
    }

    #[test]
    fn unknown_model_type_is_rejected() {
        let v = serde_json::json!({"model_type": "llama", "hidden_size": 8});
        let e = Lfm2Config::from_hf_value(&v, "cfg.json").unwrap_err().to_string();
        assert_eq!(e, "cfg.json: bad config: model_type \"llama\" is not supported (lfm-rs reads \"lfm2\")");
        let e = Lfm2Config::from_hf_value(&serde_json::json!({"hidden_size": 8}), "c.json").unwrap_err().to_string();
        assert!(e.contains("model_type missing"), "{e}");
    }
}
