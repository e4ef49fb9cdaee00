//! ε in JSON. serde_json writes a non-finite f64 as `null`, which a reader takes for
//! "missing" — but an infinite ε is a result (no finite guarantee holds), not a gap. So ε
//! fields are written as a number when finite and as the string `"inf"` when infinite.

use serde::{Serialize, Serializer};

/// Writes ε as a JSON number when finite and as `"inf"` when +∞, for
/// `#[serde(serialize_with = "crate::privacy::serialize_epsilon")]` on an `f64` field.
///
/// The accountants never return NaN or −∞, but if one got here it is written the same
/// way (`"NaN"`, `"-inf"`) rather than as an indistinguishable `null`.
pub fn serialize_epsilon<S: Serializer>(epsilon: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if epsilon.is_finite() {
        serializer.serialize_f64(*epsilon)
    } else {
        // f64's Display: "inf", "-inf", "NaN".
        serializer.collect_str(epsilon)
    }
}

/// ε as a file or folder name shows it: as written (`1.5`, `inf`) when that is short, in
/// scientific notation otherwise (`1e308`, not 309 digits that no file system accepts).
pub fn epsilon_label(epsilon: f64) -> String {
    let plain = epsilon.to_string();
    if plain.len() <= 12 {
        plain
    } else {
        format!("{epsilon:e}")
    }
}

/// [`serialize_epsilon`] for a list of ε values (`[8.0, "inf"]`).
pub fn serialize_epsilons<S: Serializer>(
    epsilons: &[f64],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    struct One(f64);
    impl serde::Serialize for One {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serialize_epsilon(&self.0, serializer)
        }
    }
    let mut seq = serializer.serialize_seq(Some(epsilons.len()))?;
    for &eps in epsilons {
        seq.serialize_element(&One(eps))?;
    }
    seq.end()
}

/// [`serialize_epsilon`] for an `Option<f64>` field: `None` is `null`, `Some(ε)` as above.
pub fn serialize_optional_epsilon<S: Serializer>(
    epsilon: &Option<f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    /// Lets `serialize_some` call [`serialize_epsilon`].
    struct Epsilon(f64);
    impl Serialize for Epsilon {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serialize_epsilon(&self.0, serializer)
        }
    }
    match epsilon {
        Some(eps) => serializer.serialize_some(&Epsilon(*eps)),
        None => serializer.serialize_none(),
    }
}

/// Reads back what [`serialize_epsilon`] wrote: a number, or `"inf"` for +∞ (also
/// `"-inf"`, `"NaN"`). `None` for anything else, `null` included.
pub fn epsilon_from_json(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => match s.as_str() {
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            "NaN" => Some(f64::NAN),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn epsilon_labels_stay_short() {
        assert_eq!(epsilon_label(1.5), "1.5");
        assert_eq!(epsilon_label(3.0), "3");
        assert_eq!(epsilon_label(f64::INFINITY), "inf");
        assert_eq!(epsilon_label(1e308), "1e308");
        assert_eq!(epsilon_label(1e-308), "1e-308");
    }

    #[derive(Serialize)]
    struct Row {
        #[serde(serialize_with = "crate::privacy::serialize_epsilon")]
        eps: f64,
        #[serde(serialize_with = "crate::privacy::serialize_optional_epsilon")]
        target: Option<f64>,
    }

    fn row(eps: f64, target: Option<f64>) -> Value {
        serde_json::to_value(Row { eps, target }).unwrap()
    }

    #[test]
    fn finite_epsilon_is_a_number_and_infinite_epsilon_is_the_string_inf() {
        assert_eq!(row(1.25, Some(3.0)), json!({"eps": 1.25, "target": 3.0}));
        assert_eq!(row(0.0, None), json!({"eps": 0.0, "target": null}));
        assert_eq!(
            row(f64::INFINITY, Some(f64::INFINITY)),
            json!({"eps": "inf", "target": "inf"})
        );
        // Through the string writer too, not just Value.
        let text = serde_json::to_string(&Row {
            eps: f64::INFINITY,
            target: None,
        })
        .unwrap();
        assert_eq!(text, r#"{"eps":"inf","target":null}"#);
    }

    #[test]
    fn written_epsilons_read_back_and_null_stays_missing() {
        for eps in [0.0, 2.5, 1e-300, f64::INFINITY] {
            assert_eq!(epsilon_from_json(&row(eps, None)["eps"]), Some(eps));
        }
        assert!(epsilon_from_json(&json!("NaN")).unwrap().is_nan());
        assert_eq!(epsilon_from_json(&Value::Null), None);
        assert_eq!(epsilon_from_json(&json!("infinity")), None);
    }
}
