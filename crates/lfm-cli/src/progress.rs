//! Progress of long steps, in one place for every command: on a terminal, indicatif bars and
//! spinners on stderr; anywhere else (nohup, a batch job, CI, a pipe) the same progress as one
//! plain line on stderr every `LFM_LOG_EVERY` seconds (default 30), e.g.
//!
//! ```text
//! [12m30s] 1200/5000 steps · loss 3.2104 lr 2.87e-4 |g| 0.412 18234 tok/s · 1.6/s · ETA 39m35s
//! ```
//!
//! Library functions take an indicatif [`ProgressBar`] and only set its position, length,
//! prefix (the unit: "steps", "shards hashed", "tokens scored") and message; how it shows is
//! decided here. (And the peak RSS that `generate` and `bench` print.)

use std::io::IsTerminal;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Seconds between plain progress lines when stderr is not a terminal.
pub const LOG_EVERY_ENV: &str = "LFM_LOG_EVERY";
const DEFAULT_LOG_EVERY: f64 = 30.0;

/// A progress bar or spinner (use it as the [`ProgressBar`] it derefs to). When stderr is not
/// a terminal the bar draws nothing and a thread prints its state every `LFM_LOG_EVERY`
/// seconds until the bar is finished or dropped.
pub struct Progress {
    pb: ProgressBar,
    logger: Option<(Sender<()>, JoinHandle<()>)>,
}

impl std::ops::Deref for Progress {
    type Target = ProgressBar;
    fn deref(&self) -> &ProgressBar {
        &self.pb
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.pb.finish_and_clear();
        if let Some((stop, handle)) = self.logger.take() {
            let _ = stop.send(());
            let _ = handle.join();
        }
    }
}

/// The interval of plain lines: `LFM_LOG_EVERY` seconds if it is a positive number, else 30.
fn log_every() -> Duration {
    let secs = std::env::var(LOG_EVERY_ENV).ok().and_then(|v| v.trim().parse::<f64>().ok());
    Duration::from_secs_f64(secs.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(DEFAULT_LOG_EVERY))
}

/// One plain line of `pb`'s state: elapsed time, position/length and unit, message, rate, ETA.
pub fn plain_line(pb: &ProgressBar) -> String {
    let mut parts = Vec::new();
    let (pos, prefix, msg) = (pb.position(), pb.prefix(), pb.message());
    match pb.length() {
        Some(len) if len > 0 => parts.push(format!("{pos}/{len} {prefix}").trim_end().to_string()),
        _ if !prefix.is_empty() => parts.push(prefix),
        _ => {}
    }
    if !msg.is_empty() {
        parts.push(msg);
    }
    let rate = pb.per_sec();
    if pos > 0 && rate.is_finite() && rate > 0.0 {
        parts.push(if rate >= 10.0 { format!("{rate:.0}/s") } else { format!("{rate:.2}/s") });
    }
    if pb.length().is_some_and(|l| pos > 0 && pos < l) {
        parts.push(format!("ETA {}", HumanDuration(pb.eta())));
    }
    format!("[{}] {}", HumanDuration(pb.elapsed()), parts.join(" · "))
}

fn make(pb: ProgressBar, style: ProgressStyle) -> Progress {
    if std::io::stderr().is_terminal() {
        pb.set_style(style);
        return Progress { pb, logger: None };
    }
    pb.set_draw_target(ProgressDrawTarget::hidden());
    let every = log_every();
    let (stop, rx) = channel::<()>();
    let watched = pb.clone();
    let handle = std::thread::spawn(move || loop {
        match rx.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) if !watched.is_finished() => eprintln!("{}", plain_line(&watched)),
            _ => return,
        }
    });
    Progress { pb, logger: Some((stop, handle)) }
}

/// A bar that shows nothing (the ranks other than 0 of an MPI job).
pub fn hidden() -> Progress {
    Progress { pb: ProgressBar::hidden(), logger: None }
}

/// A spinner with a message (for steps of unknown length).
pub fn spinner(msg: impl Into<String>) -> Progress {
    let pb = ProgressBar::new_spinner();
    pb.set_message(msg.into());
    let p = make(pb, ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("template"));
    if p.logger.is_none() {
        p.enable_steady_tick(Duration::from_millis(120));
    }
    p
}

/// A counted bar; `what` is the unit (e.g. "tokens generated"), and the library may change it
/// through the bar's prefix.
pub fn bar(len: u64, what: &str) -> Progress {
    let pb = ProgressBar::new(len);
    pb.set_prefix(what.to_string());
    make(
        pb,
        ProgressStyle::with_template("{bar:30} {pos}/{len} {prefix} {msg} [{elapsed} < {eta}, {per_sec}]")
            .expect("template"),
    )
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
