//! The ROC metrics against the closed-form cases of tests/fixtures/mia_metric_vectors.json:
//! member scores ~ N(μ, 1), non-member scores ~ N(0, 1), rule "member iff score ≥ t".

use ppml::metrics::Roc;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

#[test]
fn empirical_roc_metrics_match_the_gaussian_closed_forms() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mia_metric_vectors.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    let n = 300_000;
    let mut rng = StdRng::seed_from_u64(2023);
    for case in v["cases"].as_array().unwrap() {
        let get = |k: &str| case[k].as_f64().unwrap();
        let mu = get("mu");
        let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
        let members: Vec<f64> = (0..n).map(|_| mu + normal()).collect();
        let non_members: Vec<f64> = (0..n).map(|_| normal()).collect();
        let roc = Roc::new(&members, &non_members).unwrap();
        // Sampling error with 3·10^5 per group: about 0.001 for the AUC and the advantage,
        // up to 0.004 for TPR at 0.1% FPR (the threshold is a 0.999 quantile); 4σ bounds.
        let checks = [
            ("auc", roc.auc(), 0.005),
            ("tpr_at_fpr_0.001", roc.tpr_at_fpr(0.001), 0.016),
            ("tpr_at_fpr_0.01", roc.tpr_at_fpr(0.01), 0.01),
            ("max_advantage", roc.max_advantage(), 0.006),
            ("max_balanced_accuracy", roc.max_balanced_accuracy(), 0.003),
        ];
        for (key, got, tol) in checks {
            let want = get(key);
            assert!(
                (got - want).abs() <= tol,
                "μ = {mu}: {key} = {got}, want {want} ± {tol}"
            );
        }
    }
}

/// The DP ceilings of the reference vectors: the most any attack can reach against DP-SGD with
/// the given q, σ and steps, from the PLD privacy curve.
#[test]
fn dp_attack_ceilings_match_the_reference_privacy_curves() {
    use ppml::privacy::{SubsampledGaussian, attack_ceiling};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mia_metric_vectors.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    for case in v["dp_ceilings"]["cases"].as_array().unwrap() {
        let get = |k: &str| case[k].as_f64().unwrap();
        let mech = SubsampledGaussian::new(get("q"), get("sigma"), case["steps"].as_u64().unwrap())
            .unwrap();
        let ceiling = attack_ceiling(&mech, &[0.001, 0.01, 0.1]).unwrap();
        for ((fpr, tpr), key) in ceiling.max_tpr_at_fpr.iter().zip([
            "max_tpr_at_fpr_0.001",
            "max_tpr_at_fpr_0.01",
            "max_tpr_at_fpr_0.1",
        ]) {
            let want = get(key);
            // The reference has 4 decimals; the PLD grid is pessimistic, so never far below.
            assert!(
                (tpr - want).abs() <= 0.0006 + 0.01 * want,
                "{case}: TPR at {fpr}: {tpr}, want {want}"
            );
        }
        let want = get("max_advantage");
        assert!(
            (ceiling.max_advantage - want).abs() <= 0.001,
            "{case}: advantage {}, want {want}",
            ceiling.max_advantage
        );
    }
}
