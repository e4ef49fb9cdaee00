//! Per-record scores computed from a model's logits and the record's label. Each is a
//! "membership signal": training pushes it up on the records the model was trained on.

use super::Logits;
use crate::data::Dataset;

/// `score(row, y)` of each record: its logits, as f64, and its label.
fn per_record(
    logits: &Logits,
    records: &Dataset,
    score: impl Fn(&[f64], usize) -> f64,
) -> Vec<f64> {
    (0..logits.len())
        .map(|i| {
            let row: Vec<f64> = logits.row(i).iter().map(|&v| f64::from(v)).collect();
            score(&row, records.label(i))
        })
        .collect()
}

/// The logits of the classes other than the label `y`.
fn others(row: &[f64], y: usize) -> impl Iterator<Item = f64> + Clone + '_ {
    row.iter()
        .enumerate()
        .filter(move |&(c, _)| c != y)
        .map(|(_, &v)| v)
}

/// The logit margin `z_y − max_{y'≠y} z_{y'}` of each record (Bertran et al. 2023). It is
/// invariant to the softmax's shift and does not saturate the way the probability p_y does.
pub fn margin(logits: &Logits, records: &Dataset) -> Vec<f64> {
    per_record(logits, records, |row, y| {
        row[y] - others(row, y).fold(f64::NEG_INFINITY, f64::max)
    })
}

/// `log Σ exp(v)`, shifted by the maximum so it never overflows.
fn log_sum_exp(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = v.clone().fold(f64::NEG_INFINITY, f64::max);
    max + v.map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// Minus the cross-entropy loss, `log p_y`, of each record (Yeom et al. 2018: members have
/// lower loss). Negated so that, like every score here, higher means "member".
///
/// Computed as `−ln(1 + Σ_{y'≠y} e^(z_{y'} − z_y))` with `ln_1p`, so that confidently
/// classified records keep distinct scores: `z_y − log Σ exp(z)` rounds to exactly 0 once the
/// margin passes about 37, and an overfit model puts many members *and* non-members there,
/// which would make one huge tie at the top of the ranking.
pub fn negative_loss(logits: &Logits, records: &Dataset) -> Vec<f64> {
    per_record(logits, records, |row, y| {
        let zy = row[y];
        if others(row, y).any(|v| v > zy) {
            // Misclassified: no precision to win, and e^(z_{y'} − z_y) could overflow.
            zy - log_sum_exp(row.iter().copied())
        } else {
            -others(row, y).map(|v| (v - zy).exp()).sum::<f64>().ln_1p()
        }
    })
}

/// The logit-scaled confidence `log p_y − log(1 − p_y)` of each record (Carlini et al. 2022),
/// computed as `z_y − log Σ_{y'≠y} exp(z_{y'})` so that it stays exact when p_y rounds to 1.
pub fn logit_confidence(logits: &Logits, records: &Dataset) -> Vec<f64> {
    per_record(logits, records, |row, y| {
        row[y] - log_sum_exp(others(row, y))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_record(label: u8, classes: usize) -> Dataset {
        Dataset::new(vec![0; 4], vec![label], 2, 2, classes).unwrap()
    }

    #[test]
    fn the_margin_is_the_gap_to_the_best_other_class() {
        let logits = Logits::new(vec![1.0, 4.0, 2.5], 3);
        assert_eq!(margin(&logits, &one_record(1, 3)), vec![1.5]);
        assert_eq!(margin(&logits, &one_record(0, 3)), vec![-3.0]);
    }

    #[test]
    fn loss_and_logit_confidence_match_their_definitions_from_probabilities() {
        let z = [0.3f32, -1.2, 2.0, 0.7];
        let logits = Logits::new(z.to_vec(), 4);
        let record = one_record(2, 4);
        let total: f64 = z.iter().map(|&v| f64::from(v).exp()).sum();
        let p = f64::from(z[2]).exp() / total;
        let nl = negative_loss(&logits, &record)[0];
        assert!((nl - p.ln()).abs() < 1e-12, "{nl} vs {}", p.ln());
        let lc = logit_confidence(&logits, &record)[0];
        assert!((lc - (p / (1.0 - p)).ln()).abs() < 1e-12);
    }

    #[test]
    fn the_loss_score_keeps_confident_records_apart() {
        // Margins 40 and 50: p_y rounds to 1 for both, yet their losses differ (e^-40 vs e^-50).
        let a = negative_loss(&Logits::new(vec![40.0, 0.0], 2), &one_record(0, 2))[0];
        let b = negative_loss(&Logits::new(vec![50.0, 0.0], 2), &one_record(0, 2))[0];
        assert!(a < b && b < 0.0, "{a} {b}");
        assert!((a / -(-40f64).exp() - 1.0).abs() < 1e-12);
        // A misclassified record: the plain formula, −ln(1 + e^5).
        let c = negative_loss(&Logits::new(vec![0.0, 5.0], 2), &one_record(0, 2))[0];
        assert!((c + (5f64.exp()).ln_1p()).abs() < 1e-12, "{c}");
    }

    #[test]
    fn logit_confidence_stays_finite_when_the_probability_rounds_to_one() {
        // p_y = 1 − e^-60 is 1.0 in f64, yet the score is exactly 60.
        let logits = Logits::new(vec![60.0, 0.0], 2);
        let lc = logit_confidence(&logits, &one_record(0, 2))[0];
        assert!((lc - 60.0).abs() < 1e-9, "{lc}");
    }
}
