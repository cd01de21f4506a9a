//! indicatif helpers: a spinner for steps of unknown length and a bar for counted ones.
//! Both draw on stderr and hide themselves when stderr is not a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A spinner with a message, ticking on its own.
pub fn spinner(msg: impl Into<String>) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("template"));
    pb.set_message(msg.into());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// A counted bar (e.g. tokens generated).
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let t = format!("{{bar:30}} {{pos}}/{{len}} {what} [{{elapsed}} < {{eta}}, {{per_sec}}]");
    pb.set_style(ProgressStyle::with_template(&t).expect("template"));
    pb
}

/// Whether `path` names a GGUF file (rather than an HF checkpoint directory).
pub fn is_gguf(path: &std::path::Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// Loads a model with a spinner: an HF checkpoint directory, or a `.gguf` file whose
/// quantized weights stay packed (the model runs on them directly).
pub fn load_model(
    path: &std::path::Path,
    device: &burn::tensor::Device,
) -> anyhow::Result<(lfm_model::Lfm2Config, lfm_model::Lfm2Model)> {
    let pb = spinner(format!("loading {}", path.display()));
    if is_gguf(path) {
        let r = lfm_quant::import::load_gguf(path, device);
        pb.finish_and_clear();
        let l = r?;
        return Ok((l.cfg, l.model));
    }
    let r = lfm_model::hf::load_dir(path, device);
    pb.finish_and_clear();
    Ok(r?)
}

/// Whether f32 weights loaded for inference on `device` go to lfm-quant's f32 kernels: on the
/// plain CPU device, unless `LFM_DENSE_F32=1` keeps burn's matmul (for comparisons).
pub fn packs_f32(device: &burn::tensor::Device) -> bool {
    !device.is_autodiff()
        && *device == burn::tensor::Device::flex()
        && std::env::var_os("LFM_DENSE_F32").is_none_or(|v| v != "1")
}

/// [`load_model`] for inference: on the CPU device, an f32 checkpoint's linear weights,
/// embedding and head go to lfm-quant's f32 kernels (decode streams them on every core;
/// burn's matrix-vector path uses one). Training, export and parity checks keep
/// [`load_model`]'s burn parameters.
pub fn load_for_inference(
    path: &std::path::Path,
    device: &burn::tensor::Device,
) -> anyhow::Result<(lfm_model::Lfm2Config, lfm_model::Lfm2Model)> {
    if is_gguf(path) || !packs_f32(device) {
        return load_model(path, device);
    }
    let pb = spinner(format!("loading {}", path.display()));
    let r = lfm_model::hf::load_dir_packed(path, device, &mut |_, v, shape| lfm_quant::qmatrix::f32_handle(v, shape));
    pb.finish_and_clear();
    Ok(r?)
}

/// The tokenizer of a checkpoint directory (`tokenizer.json`) or of a GGUF file exported by
/// lfm-rs (`tokenizer.huggingface.json`).
pub fn load_tokenizer(path: &std::path::Path) -> anyhow::Result<tokenizers::Tokenizer> {
    if is_gguf(path) {
        return gguf_tokenizer(&lfm_quant::gguf::GgufFile::open(path)?);
    }
    lfm_data::tokenizer::load(&path.join("tokenizer.json"))
}

/// The tokenizer stored in an opened GGUF file, or an error saying it has none.
pub fn gguf_tokenizer(g: &lfm_quant::gguf::GgufFile) -> anyhow::Result<tokenizers::Tokenizer> {
    lfm_quant::import::hf_tokenizer(g)?.ok_or_else(|| {
        anyhow::anyhow!("{}: no tokenizer.huggingface.json in the file (GGUFs exported by lfm-rs carry one)", g.path)
    })
}

/// Peak resident set size of this process (Linux `VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
