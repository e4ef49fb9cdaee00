//! Privacy accounting against reference figures from Opacus 1.5.4 (RDP) and Google's
//! dp-accounting 0.6.0 (PLD), stored in tests/fixtures/accountant_vectors.json.

use ppml::privacy::{
    self, Accountant, Calibration, MAX_SIGMA, MIN_SIGMA, PrivacyError, PrivacySpent,
    SubsampledGaussian, calibrate, calibrate_noise, pld, rdp,
};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/accountant_vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture readable"))
        .expect("fixture is JSON")
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn rel_err(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

fn eps(accountant: Accountant, q: f64, sigma: f64, steps: u64, delta: f64) -> f64 {
    privacy::epsilon(
        accountant,
        &SubsampledGaussian::new(q, sigma, steps).unwrap(),
        delta,
    )
    .unwrap()
}

/// (q, sigma, steps, delta) of a composition case.
fn mechanism(case: &Value) -> (f64, f64, u64, f64) {
    (
        num(case, "q"),
        num(case, "sigma"),
        case["steps"].as_u64().unwrap(),
        num(case, "delta"),
    )
}

#[test]
fn rdp_composition_matches_opacus_epsilon_and_best_order() {
    for case in vectors()["composition"].as_array().unwrap() {
        let (q, sigma, steps, delta) = mechanism(case);
        let (got, order) = rdp::epsilon(q, sigma, steps, delta);
        let want = num(&case["rdp"], "epsilon");
        assert!(
            rel_err(got, want) <= 1e-5,
            "{case}: RDP epsilon {got}, want {want}"
        );
        let want_order = num(&case["rdp"], "best_order");
        // Same grid point of Opacus's orders (spacing 0.1), up to float formatting.
        assert!(
            (order - want_order).abs() < 1e-9,
            "{case}: best order {order}, want {want_order}"
        );
        assert_eq!(eps(Accountant::Rdp, q, sigma, steps, delta), got);
    }
}

#[test]
fn pld_composition_matches_dp_accounting_and_is_never_optimistic() {
    // All four cases at the default 1e-4 grid, including the 14,062- and 14,625-step ones.
    for case in vectors()["composition"].as_array().unwrap() {
        let (q, sigma, steps, delta) = mechanism(case);
        let got = eps(Accountant::Pld, q, sigma, steps, delta);
        let want = num(case, "pld");
        assert!(
            rel_err(got, want) <= 1e-3,
            "{case}: PLD epsilon {got}, want {want}"
        );
        assert!(
            got >= want * (1.0 - 1e-3),
            "{case}: PLD epsilon {got} is below {want}"
        );
        // And it is the tight accountant: well under RDP, just under the PRV upper bound.
        assert!(
            got < num(&case["rdp"], "epsilon") && got <= num(case, "prv_upper"),
            "{case}: {got}"
        );
    }
}

#[test]
fn single_step_rdp_matches_opacus_at_integer_and_fractional_orders() {
    let v = vectors();
    let mut checked = 0;
    for case in v["single_step_rdp"]["cases"].as_array().unwrap() {
        let (q, sigma) = (num(case, "q"), num(case, "sigma"));
        for (order, want) in case["values"].as_object().unwrap() {
            let alpha: f64 = order.parse().unwrap();
            let want = want.as_f64().unwrap();
            let got = rdp::rdp_single_step(q, sigma, alpha);
            assert!(
                rel_err(got, want) <= 1e-8,
                "q={q} σ={sigma} α={alpha}: {got}, want {want}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 14);
}

#[test]
fn plain_gaussian_pld_matches_the_closed_form_and_rdp_matches_opacus() {
    for case in vectors()["plain_gaussian"]["cases"].as_array().unwrap() {
        let (sigma, steps, delta) = (
            num(case, "sigma"),
            case["steps"].as_u64().unwrap(),
            num(case, "delta"),
        );
        let exact = num(case, "exact");
        let got = eps(Accountant::Pld, 1.0, sigma, steps, delta);
        assert!(
            rel_err(got, exact) <= 1e-3,
            "{case}: PLD {got}, exact {exact}"
        );
        assert!(
            got >= exact * (1.0 - 1e-6),
            "{case}: PLD {got} below the exact {exact}"
        );
        let got = eps(Accountant::Rdp, 1.0, sigma, steps, delta);
        let want = num(case, "rdp");
        assert!(rel_err(got, want) <= 1e-5, "{case}: RDP {got}, want {want}");
    }
}

fn check_calibration(accountant: Accountant, key: &str) {
    for case in vectors()["calibration"]["cases"].as_array().unwrap() {
        let (n, b) = (num(case, "N"), num(case, "B"));
        let steps = case["steps"].as_u64().unwrap();
        // Opacus's get_noise_multiplier counts steps as int(epochs / q).
        assert_eq!(steps, (num(case, "epochs") / (b / n)) as u64, "{case}");
        let target = num(case, "epsilon");
        let sigma = calibrate_noise(accountant, b / n, steps, target, 1e-5).unwrap();
        let want = num(case, key);
        assert!(
            (sigma - want).abs() <= 0.01,
            "{case}: {accountant:?} σ = {sigma}, want {want}"
        );
        // The answer meets the target, and noticeably less noise does not.
        assert!(
            eps(accountant, b / n, sigma, steps, 1e-5) <= target,
            "{case}: σ = {sigma}"
        );
        assert!(
            eps(accountant, b / n, sigma - 2e-3, steps, 1e-5) > target,
            "{case}: σ = {sigma}"
        );
    }
}

#[test]
fn rdp_calibration_matches_opacus_noise_multipliers() {
    check_calibration(Accountant::Rdp, "sigma_rdp");
}

#[test]
fn pld_calibration_matches_dp_accounting_noise_multipliers() {
    check_calibration(Accountant::Pld, "sigma_pld");
}

#[test]
fn out_of_range_arguments_are_rejected_with_the_matching_error() {
    use PrivacyError::*;
    let ok = SubsampledGaussian::new(0.01, 1.0, 100).unwrap();
    for q in [0.0, -0.1, 1.5, f64::NAN] {
        assert!(
            matches!(
                SubsampledGaussian::new(q, 1.0, 100),
                Err(InvalidSampleRate(_))
            ),
            "q = {q}"
        );
        assert!(matches!(
            calibrate_noise(Accountant::Rdp, q, 100, 1.0, 1e-5),
            Err(InvalidSampleRate(_))
        ));
    }
    for sigma in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        assert!(
            matches!(
                SubsampledGaussian::new(0.01, sigma, 100),
                Err(InvalidNoiseMultiplier(_))
            ),
            "σ = {sigma}"
        );
    }
    assert!(matches!(
        SubsampledGaussian::new(0.01, 1.0, 0),
        Err(InvalidSteps)
    ));
    assert!(matches!(
        calibrate_noise(Accountant::Pld, 0.01, 0, 1.0, 1e-5),
        Err(InvalidSteps)
    ));
    for delta in [0.0, -1e-5, 1.0, 2.0, f64::NAN] {
        for accountant in [Accountant::Rdp, Accountant::Pld] {
            assert!(
                matches!(
                    privacy::epsilon(accountant, &ok, delta),
                    Err(InvalidDelta(_))
                ),
                "δ = {delta}"
            );
            assert!(matches!(
                calibrate_noise(accountant, 0.01, 100, 1.0, delta),
                Err(InvalidDelta(_))
            ));
        }
    }
    for target in [0.0, -1.0, f64::NAN] {
        assert!(matches!(
            calibrate_noise(Accountant::Pld, 0.01, 100, target, 1e-5),
            Err(InvalidEpsilon(_))
        ));
    }
    // The fields are public, so epsilon() re-checks a hand-built mechanism.
    let bad = SubsampledGaussian {
        sample_rate: 2.0,
        ..ok
    };
    assert!(matches!(
        privacy::epsilon(Accountant::Pld, &bad, 1e-5),
        Err(InvalidSampleRate(_))
    ));
}

#[test]
fn a_target_that_no_allowed_noise_reaches_is_an_error() {
    // q = 1, 10 steps, σ = 1000 is still a Gaussian mechanism with μ = √10/1000, whose
    // ε at δ = 1e-5 is about 0.013, far above 1e-6.
    assert!(eps(Accountant::Pld, 1.0, MAX_SIGMA, 10, 1e-5) > 1e-3);
    for accountant in [Accountant::Rdp, Accountant::Pld] {
        let err = calibrate_noise(accountant, 1.0, 10, 1e-6, 1e-5).unwrap_err();
        assert!(
            matches!(err, PrivacyError::UnreachableEpsilon { .. }),
            "{accountant:?}: {err:?}"
        );
        assert!(err.to_string().contains("unreachable"), "{err}");
    }
}

#[test]
fn error_messages_name_the_parameter_and_its_allowed_range() {
    let msg = |e: PrivacyError| e.to_string();
    assert!(msg(PrivacyError::InvalidSampleRate(1.5)).contains("sample rate q must be in (0, 1]"));
    assert!(
        msg(PrivacyError::InvalidDelta(1.0)).contains("delta must be strictly between 0 and 1")
    );
    assert!(msg(PrivacyError::InvalidEpsilon(0.0)).contains("epsilon must be greater than 0"));
    assert!(msg(PrivacyError::InvalidNoiseMultiplier(0.0)).contains("noise multiplier sigma"));
    assert!(msg(PrivacyError::InvalidSteps).contains("steps must be at least 1"));
}

#[test]
fn epsilon_falls_as_noise_grows_and_rises_with_steps_for_both_accountants() {
    let (q, delta) = (0.01, 1e-5);
    let sigmas = [0.6, 0.8, 1.0, 1.5, 3.0];
    let steps = [10, 100, 1000, 5000];
    for accountant in [Accountant::Rdp, Accountant::Pld] {
        let grid: Vec<Vec<f64>> = sigmas
            .iter()
            .map(|&s| {
                steps
                    .iter()
                    .map(|&t| eps(accountant, q, s, t, delta))
                    .collect()
            })
            .collect();
        for (i, row) in grid.iter().enumerate() {
            for j in 0..steps.len() {
                if j + 1 < steps.len() {
                    assert!(
                        row[j] < row[j + 1],
                        "{accountant:?} σ={}: {row:?}",
                        sigmas[i]
                    );
                }
                if i + 1 < sigmas.len() {
                    assert!(
                        grid[i + 1][j] < row[j],
                        "{accountant:?} T={}: {grid:?}",
                        steps[j]
                    );
                }
            }
        }
    }
}

#[test]
fn a_finer_pld_grid_gives_a_slightly_smaller_but_still_pessimistic_epsilon() {
    // EMNIST-like case: the default grid against ten times coarser.
    let (q, sigma, steps, delta) = (0.002_051_282_051_282_051_3, 1.0, 14_625, 1e-5);
    let fine = pld::epsilon(q, sigma, steps, delta, 1e-4);
    let coarse = pld::epsilon(q, sigma, steps, delta, 1e-3);
    assert!(
        coarse >= fine && coarse - fine < 0.02,
        "fine {fine}, coarse {coarse}"
    );
    // δ at the reported ε is within the budget (and only just).
    let d = pld::delta(q, sigma, steps, fine, 1e-4);
    assert!(d <= delta * (1.0 + 1e-9) && d > 0.9 * delta, "{d}");
}

#[test]
fn accountant_parses_and_serialises_in_kebab_case_with_pld_the_default() {
    assert_eq!(Accountant::default(), Accountant::Pld);
    assert_eq!(serde_json::to_string(&Accountant::Rdp).unwrap(), "\"rdp\"");
    assert_eq!(
        serde_json::from_str::<Accountant>("\"pld\"").unwrap(),
        Accountant::Pld
    );
    use clap::ValueEnum;
    assert_eq!(Accountant::from_str("rdp", false), Ok(Accountant::Rdp));
}

/// Exact ε(δ) of T steps of the plain Gaussian mechanism (q = 1, sensitivity 1): one
/// Gaussian with σ/√T, i.e. μ = √T/σ, whose privacy profile is Balle & Wang 2018's
/// `δ(ε) = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2)`, inverted by bisection.
fn gaussian_exact_epsilon(sigma: f64, steps: u64, delta: f64) -> f64 {
    let phi = |z: f64| 0.5 * libm::erfc(-z / std::f64::consts::SQRT_2);
    let mu = (steps as f64).sqrt() / sigma;
    let delta_at = |eps: f64| phi(-eps / mu + mu / 2.0) - eps.exp() * phi(-eps / mu - mu / 2.0);
    if delta_at(0.0) <= delta {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    while delta_at(hi) > delta {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if delta_at(mid) > delta {
            lo = mid
        } else {
            hi = mid
        }
    }
    hi
}

#[test]
fn the_exact_gaussian_formula_reproduces_the_fixture() {
    // Guards the reference used below against a typo.
    for case in vectors()["plain_gaussian"]["cases"].as_array().unwrap() {
        let (sigma, steps, delta) = (
            num(case, "sigma"),
            case["steps"].as_u64().unwrap(),
            num(case, "delta"),
        );
        let got = gaussian_exact_epsilon(sigma, steps, delta);
        assert!(rel_err(got, num(case, "exact")) < 1e-6, "{case}: {got}");
    }
}

/// σ from 1e-300 to f64::MAX: every fifth decade from 1e0 to 1e300 (so both sides of
/// σ² = f64::MAX at σ ≈ 1.34e154), the cases around that edge, and two σ too small for
/// any grid (ε = ∞, which must come out without overflow or panic).
fn sigma_sweep() -> Vec<f64> {
    let mut sigmas = vec![1e-300, 1e-10];
    sigmas.extend((0..=300).step_by(5).map(|k| 10f64.powi(k)));
    sigmas.extend([1.3e154, 1.35e154, 1e155, 1e300, f64::MAX]);
    sigmas.sort_by(f64::total_cmp);
    sigmas.dedup();
    sigmas
}

#[test]
fn huge_noise_gives_a_small_finite_epsilon_that_never_rises_with_sigma() {
    // `ppml accountant --sample-rate 0.064 --steps 15 --noise-multiplier 1e155` was ε = ∞:
    // σ² overflowed in the PLD. ε must be finite, ≥ 0 and non-increasing in σ throughout.
    let delta = 1e-5;
    for q in [0.064, 0.5, 1.0] {
        for accountant in [Accountant::Pld, Accountant::Rdp] {
            let mut previous = f64::INFINITY;
            for sigma in sigma_sweep() {
                let e = eps(accountant, q, sigma, 15, delta);
                assert!(
                    e >= 0.0 && e <= previous,
                    "{accountant:?} q={q} σ={sigma}: {e} after {previous}"
                );
                if sigma >= 1.0 {
                    assert!(e.is_finite(), "{accountant:?} q={q} σ={sigma}: {e}");
                }
                previous = e;
            }
            // At σ = 1e300 no finite-precision output distinguishes the datasets: PLD says
            // ε = 0 (δ(0) ≈ 1e-300 ≤ δ); RDP, with orders ≤ 63, plateaus at about
            // −ln δ/62 − ln(63)/62 + ln(62/63) ≈ 0.10.
            let far = eps(accountant, q, 1e300, 15, delta);
            match accountant {
                Accountant::Pld => assert_eq!(far, 0.0, "q={q}"),
                Accountant::Rdp => assert!((0.09..0.12).contains(&far), "q={q}: {far}"),
            }
        }
    }
}

#[test]
fn pld_matches_the_exact_gaussian_epsilon_for_large_sigma_and_never_undercuts_it() {
    // q = 1: T steps compose to one Gaussian; ε runs from 1.5 (σ = 10) through 1.2e-5
    // (σ = 1e5, below the 1e-4 loss grid) to exactly 0 (δ(0) ≤ δ from σ ≈ 1e6 on).
    let (steps, delta) = (15, 1e-5);
    for sigma in [
        10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e10, 1e100, 1e154, 1e155, 1e300,
    ] {
        let exact = gaussian_exact_epsilon(sigma, steps, delta);
        let got = eps(Accountant::Pld, 1.0, sigma, steps, delta);
        assert!(
            got >= exact * (1.0 - 1e-6) && got <= exact * (1.0 + 1e-3) + 2e-4,
            "σ = {sigma}: PLD {got}, exact {exact}"
        );
        // RDP is an upper bound too, only a looser one.
        let rdp = eps(Accountant::Rdp, 1.0, sigma, steps, delta);
        assert!(
            rdp >= exact && rdp.is_finite(),
            "σ = {sigma}: RDP {rdp}, exact {exact}"
        );
    }
}

#[test]
fn epsilon_is_never_negative() {
    // Balle et al.'s conversion goes below 0 for large δ: this case was −0.693.
    let (e, order) = rdp::epsilon(0.01, 100.0, 10, 0.5);
    assert_eq!(e, 0.0);
    assert!(order > 1.0, "{order}");
    assert_eq!(rdp::epsilon_from_rdp(&[2.0, 8.0], &[0.0, 0.0], 0.9).0, 0.0);
    for accountant in [Accountant::Rdp, Accountant::Pld] {
        for delta in [0.5, 0.9, 1.0 - 1e-12] {
            let e = eps(accountant, 0.01, 100.0, 10, delta);
            assert_eq!(e, 0.0, "{accountant:?} δ = {delta}");
        }
        let spent = PrivacySpent::of(
            &SubsampledGaussian::new(0.01, 100.0, 10).unwrap(),
            0.5,
            accountant,
        )
        .unwrap();
        assert_eq!(
            (spent.epsilon, spent.epsilon_rdp, spent.epsilon_pld),
            (0.0, 0.0, 0.0)
        );
    }
}

#[test]
fn calibrating_to_an_infinite_epsilon_is_an_error_that_exits_with_2() {
    for accountant in [Accountant::Rdp, Accountant::Pld] {
        let err = calibrate(accountant, 0.01, 100, f64::INFINITY, 1e-5).unwrap_err();
        assert!(matches!(err, PrivacyError::InfiniteEpsilon), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("needs no noise") && msg.contains("--noise-multiplier"),
            "{msg}"
        );
        assert!(matches!(
            calibrate_noise(accountant, 0.01, 100, f64::INFINITY, 1e-5),
            Err(PrivacyError::InfiniteEpsilon)
        ));
        assert_eq!(ppml::Error::from(err).exit_code(), 2);
    }
    // NaN stays InvalidEpsilon (see out_of_range_arguments_…), also exit code 2.
    let err = calibrate(Accountant::Rdp, 0.01, 100, f64::NAN, 1e-5).unwrap_err();
    assert!(matches!(err, PrivacyError::InvalidEpsilon(_)), "{err:?}");
    assert_eq!(ppml::Error::from(err).exit_code(), 2);
}

#[test]
fn a_target_met_at_the_search_floor_is_flagged_not_called_the_smallest_sigma() {
    // A huge target: σ = MIN_SIGMA already meets it, and nothing below was searched.
    let floor = Calibration {
        noise_multiplier: MIN_SIGMA,
        at_search_floor: true,
    };
    let target = 1e6;
    assert!(eps(Accountant::Rdp, 0.01, MIN_SIGMA, 10, 1e-5) <= target);
    assert_eq!(
        calibrate(Accountant::Rdp, 0.01, 10, target, 1e-5).unwrap(),
        floor
    );
    assert_eq!(
        calibrate_noise(Accountant::Rdp, 0.01, 10, target, 1e-5).unwrap(),
        MIN_SIGMA
    );
    // PLD at σ = 0.05 is slow in a debug build (a 2²²-point grid), hence one step and one
    // call: the RDP guess is the floor, which PLD then confirms with a single evaluation.
    assert_eq!(
        calibrate(Accountant::Pld, 0.01, 1, target, 1e-5).unwrap(),
        floor
    );
    // An ordinary target is bracketed from below: a true smallest σ, not at the floor.
    let c = calibrate(Accountant::Rdp, 0.01, 1000, 2.0, 1e-5).unwrap();
    assert!(!c.at_search_floor && c.noise_multiplier > 1.0, "{c:?}");
    assert_eq!(
        calibrate_noise(Accountant::Rdp, 0.01, 1000, 2.0, 1e-5).unwrap(),
        c.noise_multiplier
    );
}

#[test]
fn an_infinite_epsilon_is_written_as_the_string_inf_not_null() {
    let mech = SubsampledGaussian::new(0.01, 0.5, 100).unwrap();
    let spent =
        PrivacySpent::from_epsilons(&mech, 1e-5, Accountant::Pld, f64::INFINITY, (7.5, 3.0));
    let json = serde_json::to_value(&spent).unwrap();
    assert_eq!(json["epsilon"], "inf", "{json}");
    assert_eq!(json["epsilon_pld"], "inf", "{json}");
    assert_eq!(json["epsilon_rdp"], 7.5, "{json}");
    assert_eq!(
        privacy::epsilon_from_json(&json["epsilon"]),
        Some(f64::INFINITY)
    );
    // Finite ε stays a plain number, and the helper works through #[serde(flatten)] as in
    // the `privacy` block of metrics.json.
    #[derive(serde::Serialize)]
    struct Block {
        #[serde(flatten)]
        spent: PrivacySpent,
        #[serde(serialize_with = "privacy::serialize_optional_epsilon")]
        target_epsilon: Option<f64>,
    }
    let spent = PrivacySpent::from_epsilons(&mech, 1e-5, Accountant::Rdp, 1.5, (2.25, 8.0));
    let text = serde_json::to_string(&Block {
        spent,
        target_epsilon: Some(f64::INFINITY),
    })
    .unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (
            &json["epsilon"],
            &json["epsilon_pld"],
            &json["target_epsilon"]
        ),
        (&Value::from(2.25), &Value::from(1.5), &Value::from("inf")),
        "{text}"
    );
}
