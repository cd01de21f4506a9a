//! Float comparisons in which a NaN is always a failure.
//!
//! `f32::max` ignores NaN (`NaN.max(1.0) == 1.0`), so folding `|a − b|` with `f32::max`
//! reports a NaN output as "no difference". Every comparison in the workspace —
//! tests, `lfm logits --reference`, the quickstart's parity step, the GGUF round trips — goes
//! through [`max_abs_diff`] instead, and a tolerance check is `d <= tol`, which NaN fails.

/// The largest `|a[i] − b[i]|`; NaN when any pair involves a NaN (or gives one, as ∞ − ∞
/// does), so a NaN anywhere never compares as close. Panics if the lengths differ.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "comparing {} values with {}", a.len(), b.len());
    let mut worst = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        let d = (x - y).abs();
        if d.is_nan() {
            return f32::NAN;
        }
        worst = worst.max(d);
    }
    worst
}

/// The largest `|v[i]|`, NaN if any value is NaN (a tolerance scale that cannot hide one).
pub fn max_abs(v: &[f32]) -> f32 {
    let mut worst = 0.0f32;
    for x in v {
        if x.is_nan() {
            return f32::NAN;
        }
        worst = worst.max(x.abs());
    }
    worst
}

/// `Ok(d)` with `d` = [`max_abs_diff`] when `d <= tol`; otherwise an error that says `what`
/// differs and by how much ("NaN" when a value was NaN).
pub fn check_close(what: &str, got: &[f32], want: &[f32], tol: f32) -> Result<f32, String> {
    let d = max_abs_diff(got, want);
    if d <= tol {
        Ok(d)
    } else if d.is_nan() {
        Err(format!("{what}: NaN where the reference has a number (or the reverse)"))
    } else {
        Err(format!("{what}: max abs diff {d:e} > {tol:e}"))
    }
}

/// `Ok` when every value is finite; otherwise one line: `what`, how many values are NaN or
/// infinite, and the index of the first. Model outputs go through this before anything is
/// printed, scored or written, so overflowing weights or activations stop a command instead
/// of producing empty text, NaN scores or a file of NaNs.
pub fn require_finite(what: impl FnOnce() -> String, v: &[f32]) -> Result<(), crate::error::LfmError> {
    let Some(first) = v.iter().position(|x| !x.is_finite()) else { return Ok(()) };
    let bad = v[first..].iter().filter(|x| !x.is_finite()).count();
    Err(crate::error::LfmError::Invalid(format!(
        "{}: {bad} of {} values are NaN or infinite (first at index {first}: {}); the weights or activations overflow f32",
        what(),
        v.len(),
        v[first]
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_anywhere_fails_and_finite_differences_are_exact() {
        assert_eq!(max_abs_diff(&[1.0, -2.0, 3.5], &[1.25, -2.0, 3.0]), 0.5);
        assert!(max_abs_diff(&[1.0, f32::NAN, 3.0], &[1.0, 2.0, 3.0]).is_nan());
        assert!(max_abs_diff(&[1.0, 2.0], &[1.0, f32::NAN]).is_nan());
        // The NaN comes first: a fold with f32::max would return the later 7.0.
        assert!(max_abs_diff(&[f32::NAN, 10.0], &[0.0, 3.0]).is_nan());
        assert!(max_abs_diff(&[f32::INFINITY], &[f32::INFINITY]).is_nan());
        assert_eq!(max_abs_diff(&[f32::INFINITY], &[0.0]), f32::INFINITY);
        assert!(require_finite(|| "x".into(), &[1.0, -3e38, 0.0]).is_ok());
        let e = require_finite(|| "logits".into(), &[1.0, f32::NAN, 2.0, f32::NEG_INFINITY]).unwrap_err().to_string();
        assert!(e.starts_with("logits: 2 of 4 values") && e.contains("index 1: NaN"), "{e}");
        assert!(max_abs(&[1.0, f32::NAN]).is_nan());
        assert_eq!(max_abs(&[1.0, -4.0]), 4.0);
        assert_eq!(check_close("x", &[1.0, 2.0], &[1.0, 2.0], 0.0), Ok(0.0));
        assert!(check_close("x", &[f32::NAN], &[1.0], 1e9).unwrap_err().contains("NaN"));
        assert!(check_close("x", &[2.0], &[1.0], 0.5).unwrap_err().contains("max abs diff"));
    }
}
