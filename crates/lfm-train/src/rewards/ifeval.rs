//! `ifeval`: the fraction of the task's IFEval instructions the completion follows (strict),
//! with lfm-eval's checks — the ones that reproduce the official verdicts.

use super::Task;

pub fn reward(t: &Task, completion: &str) -> f64 {
    let Some(p) = &t.instructions else { return 0.0 };
    let v = lfm_eval::ifeval::score(p, completion);
    if v.strict.is_empty() {
        return 0.0;
    }
    v.strict.iter().filter(|&&x| x).count() as f64 / v.strict.len() as f64
}
