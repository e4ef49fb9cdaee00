//! Table cells: one figure, or the mean ± sample standard deviation of one figure over the
//! seeds of a group (the seed count is in its own column), and the formats the tables share.

use serde_json::Value;

/// A figure over one or more seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator); 0 for one value.
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// How many values.
    pub n: usize,
}

impl Summary {
    /// The summary of `values`, or `None` when there are none (a figure a run did not record).
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Summary> {
        let values: Vec<f64> = values.into_iter().collect();
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Summary {
            mean,
            std,
            min,
            max,
            n,
        })
    }

    /// The summary of `field(value)` over `values`, when every one of them records it.
    pub fn over<'v>(
        values: impl IntoIterator<Item = &'v Value>,
        field: impl Fn(&Value) -> Option<f64>,
    ) -> Option<Summary> {
        let figures: Option<Vec<f64>> = values.into_iter().map(field).collect();
        Summary::of(figures?)
    }
}

/// `86.71%` for one value, `86.71 ± 0.23%` for several.
pub fn pct(s: Option<Summary>) -> String {
    match s {
        None => "–".into(),
        Some(s) if s.n == 1 => format!("{:.2}%", 100.0 * s.mean),
        Some(s) => format!("{:.2} ± {:.2}%", 100.0 * s.mean, 100.0 * s.std),
    }
}

/// `0.5080` for one value, `0.5080 ± 0.0012` for several.
pub fn num(s: Option<Summary>, digits: usize) -> String {
    match s {
        None => "–".into(),
        Some(s) if s.n == 1 => format!("{:.digits$}", s.mean),
        Some(s) => format!("{:.digits$} ± {:.digits$}", s.mean, s.std),
    }
}

/// A number read from JSON, `–` when absent.
pub fn json_num(v: &Value, digits: usize) -> String {
    v.as_f64().map_or("–".into(), |x| format!("{x:.digits$}"))
}

/// A fraction read from JSON, as a percentage.
pub fn json_pct(v: &Value) -> String {
    v.as_f64()
        .map_or("–".into(), |x| format!("{:.2}%", 100.0 * x))
}

/// ε with `digits` decimals, `∞` when infinite (written as the string "inf" in JSON).
pub fn epsilon(v: &Value, digits: usize) -> String {
    match epsilon_value(v) {
        Some(e) if e.is_infinite() => "∞".into(),
        Some(e) => format!("{e:.digits$}"),
        None => "–".into(),
    }
}

/// ε as short as it can be written: `1.5`, `3`, `100`, `∞`.
pub fn epsilon_short(v: &Value) -> String {
    match epsilon_value(v) {
        Some(e) if e.is_infinite() => "∞".into(),
        Some(e) => format!("{}", (e * 1e6).round() / 1e6),
        None => "–".into(),
    }
}

/// ε as a number (`inf` for the string "inf").
pub fn epsilon_value(v: &Value) -> Option<f64> {
    crate::privacy::epsilon_from_json(v)
}

/// The positive control a run was broken with (`--audit-break noise` / `clip`), read from its
/// config section (`audit` or `membership`); `None` for a correct run, which records `"none"`
/// (older runs: no key).
pub fn broken_on_purpose(section: &Value) -> Option<&str> {
    section["audit_break"].as_str().filter(|b| *b != "none")
}

/// The median of `values` (`None` when empty).
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// A Markdown table: the header row, its rule, then the rows.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

/// [`table`] whose first column names the run, shown only when `several` groups share the table
/// (with one, every row would repeat the same name). `header` and every row start with it.
pub fn table_with_run_column(several: bool, header: &[&str], rows: Vec<Vec<String>>) -> String {
    let skip = usize::from(!several);
    let rows: Vec<Vec<String>> = rows.into_iter().map(|r| r[skip..].to_vec()).collect();
    table(&header[skip..], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_is_the_sample_standard_deviation() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squares 32, sample variance 32/7.
        let s = Summary::of([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!((s.mean, s.n, s.min, s.max), (5.0, 8, 2.0, 9.0));
        assert!((s.std - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(num(Some(s), 2), "5.00 ± 2.14");
        assert_eq!(pct(Summary::of([0.8671])), "86.71%");
        assert_eq!(pct(Summary::of([0.86, 0.88])), "87.00 ± 1.41%");
        assert_eq!(pct(None), "–");
        assert!(Summary::of([]).is_none());
    }

    #[test]
    fn a_figure_missing_from_one_run_is_not_averaged_over_the_others() {
        let runs = [serde_json::json!({"a": 1.0}), serde_json::json!({})];
        assert!(Summary::over(&runs, |m| m["a"].as_f64()).is_none());
        assert_eq!(
            Summary::over(&runs[..1], |m| m["a"].as_f64()).unwrap().mean,
            1.0
        );
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
