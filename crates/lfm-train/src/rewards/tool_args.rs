//! `tool_args`: partial credit for the calls' names and argument values (lfm-eval's
//! `checker::arg_credit`): each expected call is worth one unit for its name and one per
//! argument whose value BFCL's rules accept, over the units expected, scaled by the ratio of
//! the smaller to the larger of the decoded and expected call counts (missing and extra calls
//! both cost). `tool_call` is all or nothing: while a policy gets most arguments right and one
//! wrong, every completion of a group scores 0 there and the group teaches nothing (zero reward
//! variance). This reward still ranks them.

use lfm_eval::bfcl::checker::arg_credit;
use lfm_eval::bfcl::decode::{decode_lfm2, extract_lfm2};

use super::tool_call::bfcl_doc;
use super::Task;

pub fn reward(t: &Task, completion: &str) -> f64 {
    let Ok(calls) = decode_lfm2(&extract_lfm2(completion)) else { return 0.0 };
    let docs: Vec<_> = t.conversation.functions().iter().map(bfcl_doc).collect();
    arg_credit(&docs, &calls, &t.answer)
}
