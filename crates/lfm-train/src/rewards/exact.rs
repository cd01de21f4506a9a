//! `exact_match` (stripped output equals the task's `target`) and `regex` (the task's
//! `pattern` matches the output).

use super::Task;

pub fn exact_match(t: &Task, completion: &str) -> f64 {
    t.target.as_deref().is_some_and(|g| completion.trim() == g.trim()) as u8 as f64
}

pub fn regex(t: &Task, completion: &str) -> f64 {
    t.pattern.as_deref().and_then(|p| regex::Regex::new(p).ok()).is_some_and(|re| re.is_match(completion.trim())) as u8
        as f64
}
