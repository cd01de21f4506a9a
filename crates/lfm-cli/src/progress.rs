//! indicatif helpers: a spinner for steps of unknown length and a bar for counted ones.
//! Both draw on stderr and hide themselves when stderr is not a terminal. (And the peak RSS
//! that `generate` and `bench` print.)

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

/// Runs `f(path)` under a "loading PATH" spinner (e.g. `lfm_quant::load::load_for_inference`).
pub fn loading<T>(path: &std::path::Path, f: impl FnOnce(&std::path::Path) -> T) -> T {
    let pb = spinner(format!("loading {}", path.display()));
    let r = f(path);
    pb.finish_and_clear();
    r
}

/// Peak resident set size of this process (Linux `VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
