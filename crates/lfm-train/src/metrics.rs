//! `metrics.jsonl` (one JSON object per optimizer step, plus `val_loss` records) and PNG loss
//! curves drawn with plotters (font: DejaVu Sans, bundled in `assets/` with its licence).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

/// One training step's record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    pub step: u64,
    pub loss: f64,
    pub lr: f64,
    pub grad_norm: f64,
    pub tokens: u64,
    pub tokens_per_s: f64,
    pub elapsed_s: f64,
}

/// A validation record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ValRecord {
    pub step: u64,
    pub val_loss: f64,
    /// exp(val_loss) for language-model losses; absent for DPO, whose loss is no perplexity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_ppl: Option<f64>,
}

pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Opens `RUN/metrics.jsonl` for appending. With `keep_up_to = Some(step)` (a resume), records
    /// after `step` — written by the interrupted run after its last checkpoint — are dropped
    /// first, so the log matches the replayed run.
    pub fn open(run_dir: &Path, keep_up_to: Option<u64>) -> Result<Self> {
        let path = run_dir.join("metrics.jsonl");
        match keep_up_to {
            Some(step) if path.exists() => {
                let text =
                    std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| {
                        serde_json::from_str::<serde_json::Value>(l)
                            .ok()
                            .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
                            .is_some_and(|s| s <= step)
                    })
                    .collect();
                let mut body = kept.join("\n");
                if !body.is_empty() {
                    body.push('\n');
                }
                lfm_model::io::write_atomic(&path, body.as_bytes()).map_err(|e| anyhow!("{e}"))?;
            }
            None => {
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("{}: cannot open", path.display()))?;
        Ok(Self { path, file })
    }

    pub fn write<T: Serialize>(&mut self, rec: &T) -> Result<()> {
        let line = serde_json::to_string(rec)?;
        writeln!(self.file, "{line}").with_context(|| format!("{}: write failed", self.path.display()))?;
        self.file.flush()?;
        Ok(())
    }

    /// Train and validation series read back from the file.
    pub fn read(run_dir: &Path) -> Result<(Vec<StepRecord>, Vec<ValRecord>)> {
        let path = run_dir.join("metrics.jsonl");
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let mut train = Vec::new();
        let mut val = Vec::new();
        for l in text.lines() {
            if let Ok(r) = serde_json::from_str::<StepRecord>(l) {
                train.push(r);
            } else if let Ok(r) = serde_json::from_str::<ValRecord>(l) {
                val.push(r);
            }
        }
        Ok((train, val))
    }
}

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// `run_dir/file`: the named `metrics.jsonl` fields per step, one line each (`(label, key)`;
/// keys no record has are left out).
pub fn plot_fields(run_dir: &Path, file: &str, title: &str, y_desc: &str, fields: &[(&str, &str)]) -> Result<PathBuf> {
    let text = std::fs::read_to_string(run_dir.join("metrics.jsonl"))?;
    let recs: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let series: Vec<(&str, Vec<(f64, f64)>)> = fields
        .iter()
        .map(|(label, key)| {
            let points = recs.iter().filter_map(|r| Some((r.get("step")?.as_f64()?, r.get(*key)?.as_f64()?))).collect();
            (*label, points)
        })
        .filter(|(_, p): &(&str, Vec<(f64, f64)>)| !p.is_empty())
        .collect();
    let path = run_dir.join(file);
    plot(&path, title, y_desc, &series)?;
    Ok(path)
}

/// Draws `series` (name, points, colour index) into a PNG at `path` (written to a temp name and
/// renamed).
pub fn plot(path: &Path, title: &str, y_desc: &str, series: &[(&str, Vec<(f64, f64)>)]) -> Result<()> {
    register_font();
    let pts: Vec<(f64, f64)> = series.iter().flat_map(|s| s.1.iter().copied()).filter(|p| p.1.is_finite()).collect();
    if pts.is_empty() {
        return Ok(());
    }
    let (mut x0, mut x1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (mut y0, mut y1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if x1 <= x0 {
        x0 -= 1.0;
        x1 += 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    y0 -= pad;
    y1 += pad;
    let tmp = path.with_extension("tmp.png");
    {
        let root = BitMapBackend::new(&tmp, (960, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| anyhow!("plot: {e}"))?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(y_desc)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| anyhow!("plot: {e}"))?;
        let colours = [RGBColor(31, 119, 180), RGBColor(214, 39, 40), RGBColor(44, 160, 44), RGBColor(148, 103, 189)];
        for (i, (name, s)) in series.iter().enumerate() {
            let c = colours[i % colours.len()];
            let s: Vec<(f64, f64)> = s.iter().copied().filter(|p| p.1.is_finite()).collect();
            chart
                .draw_series(LineSeries::new(s.clone(), c.stroke_width(2)))
                .map_err(|e| anyhow!("plot: {e}"))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
            if s.len() <= 60 {
                chart
                    .draw_series(s.iter().map(|&p| Circle::new(p, 3, c.filled())))
                    .map_err(|e| anyhow!("plot: {e}"))?;
            }
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| anyhow!("plot: {e}"))?;
        root.present().map_err(|e| anyhow!("plot {}: {e}", path.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("{}: rename failed", path.display()))?;
    Ok(())
}

/// `RUN/loss.png`: train loss per step and validation loss per evaluation.
pub fn plot_run(run_dir: &Path, title: &str) -> Result<PathBuf> {
    let (train, val) = MetricsLog::read(run_dir)?;
    let path = run_dir.join("loss.png");
    plot(
        &path,
        title,
        "loss (nats/token)",
        &[
            ("train", train.iter().map(|r| (r.step as f64, r.loss)).collect()),
            ("validation", val.iter().map(|r| (r.step as f64, r.val_loss)).collect()),
        ],
    )?;
    Ok(path)
}
