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

/// Loads an HF checkpoint directory with a spinner.
pub fn load_model(
    dir: &std::path::Path,
    device: &burn::tensor::Device,
) -> anyhow::Result<(lfm_model::Lfm2Config, lfm_model::Lfm2Model)> {
    let pb = spinner(format!("loading {}", dir.display()));
    let r = lfm_model::hf::load_dir(dir, device);
    pb.finish_and_clear();
    Ok(r?)
}
