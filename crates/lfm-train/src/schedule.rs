//! Learning-rate schedules: linear warmup, then cosine, WSD (warmup-stable-decay) or constant.
//! Steps are 1-based: `lr(1)` is the rate of the first optimizer step.

use crate::config::{ScheduleKind, ScheduleSection};

#[derive(Clone, Debug)]
pub struct Schedule {
    pub kind: ScheduleKind,
    pub peak: f64,
    pub min: f64,
    pub warmup: u64,
    pub total: u64,
    pub decay_fraction: f64,
}

impl Schedule {
    pub fn new(s: &ScheduleSection, peak: f64, min_ratio: f64, total: u64) -> Self {
        Self {
            kind: s.kind,
            peak,
            min: peak * min_ratio,
            warmup: s.warmup_steps,
            total,
            decay_fraction: s.decay_fraction,
        }
    }

    pub fn lr(&self, step: u64) -> f64 {
        if step <= self.warmup && self.warmup > 0 {
            return self.peak * step as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        let p = ((step - self.warmup.min(step)) as f64 / span).clamp(0.0, 1.0);
        match self.kind {
            ScheduleKind::Constant => self.peak,
            ScheduleKind::Cosine => self.min + (self.peak - self.min) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()),
            ScheduleKind::Wsd => {
                let decay_start = 1.0 - self.decay_fraction.clamp(0.0, 1.0);
                if p <= decay_start {
                    self.peak
                } else {
                    let q = (p - decay_start) / (1.0 - decay_start).max(1e-12);
                    self.peak + (self.min - self.peak) * q
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(kind: ScheduleKind) -> Schedule {
        Schedule::new(&ScheduleSection { kind, warmup_steps: 10, decay_fraction: 0.2 }, 1e-3, 0.1, 110)
    }

    #[test]
    fn warmup_is_linear_from_zero() {
        let s = sched(ScheduleKind::Cosine);
        assert!((s.lr(1) - 1e-4).abs() < 1e-15);
        assert!((s.lr(5) - 5e-4).abs() < 1e-15);
        assert!((s.lr(10) - 1e-3).abs() < 1e-15);
    }

    #[test]
    fn cosine_reaches_min_at_the_end_and_half_way_is_the_mean() {
        let s = sched(ScheduleKind::Cosine);
        assert!((s.lr(60) - 0.55e-3).abs() < 1e-12, "{}", s.lr(60)); // p = 0.5 -> (peak+min)/2
        assert!((s.lr(110) - 1e-4).abs() < 1e-12);
        assert!((s.lr(500) - 1e-4).abs() < 1e-12);
    }

    #[test]
    fn wsd_is_flat_then_linear() {
        let s = sched(ScheduleKind::Wsd);
        assert_eq!(s.lr(50), 1e-3);
        assert_eq!(s.lr(90), 1e-3); // p = 0.8: decay starts
        assert!((s.lr(100) - 0.55e-3).abs() < 1e-12); // half-way through the decay
        assert!((s.lr(110) - 1e-4).abs() < 1e-12);
    }
}
