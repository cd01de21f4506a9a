//! `tool_answer`: the share of the task's expected tool results that the final answer states
//! (each result's key as a whole token, `crate::env::mentions`). The keys come from running
//! the task's expected calls through the episode's environment, so the reward is 1 only when
//! the model called with the right arguments, read the results and reported them.

use super::Task;

pub fn reward(t: &Task, answer: &str) -> f64 {
    if t.expected_keys.is_empty() {
        return 0.0;
    }
    let hit = t.expected_keys.iter().filter(|k| crate::env::mentions(answer, k)).count();
    hit as f64 / t.expected_keys.len() as f64
}
