//! `apiequality.Semantic.DeepEqual` for API objects seen as JSON: absent, `null`, empty
//! strings, empty lists and empty maps are equal (Go zero values), and quantities compare
//! by value (`1Gi` equals `1024Mi`).

use serde_json::{Map, Value};

use crate::machinery::quantity;

/// Keys whose values are maps of quantities.
const QUANTITY_MAPS: [&str; 7] = [
    "requests",
    "limits",
    "capacity",
    "allocatable",
    "overhead",
    "hard",
    "used",
];

/// Whether two values are semantically equal.
pub fn equal(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

/// `v` with zero values dropped and quantities canonicalised.
pub fn normalize(v: &Value) -> Value {
    normalize_in(v, Ctx::Plain).unwrap_or(Value::Null)
}

/// What a value is known to hold.
#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Plain,
    QuantityMap,
    Quantity,
}

fn normalize_in(v: &Value, ctx: Ctx) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) if ctx == Ctx::Quantity => Some(Value::String(
            quantity::parse_nanos(s).map_or_else(|| s.clone(), |n| format!("{n}n")),
        )),
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .map(|i| normalize_in(i, Ctx::Plain).unwrap_or(Value::Null))
                .collect(),
        )),
        Value::Object(map) => {
            let out: Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| {
                    let child_ctx = match ctx {
                        Ctx::QuantityMap => Ctx::Quantity,
                        _ if QUANTITY_MAPS.contains(&k.as_str()) => Ctx::QuantityMap,
                        _ => Ctx::Plain,
                    };
                    normalize_in(v, child_ctx).map(|v| (k.clone(), v))
                })
                .collect();
            if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zero_values_and_quantities() {
        assert!(equal(
            &json!({"a": null, "b": [], "c": {}, "d": ""}),
            &json!({})
        ));
        assert!(equal(
            &json!({"requests": {"storage": "1Gi"}}),
            &json!({"requests": {"storage": "1024Mi"}})
        ));
        assert!(!equal(
            &json!({"requests": {"storage": "1Gi"}}),
            &json!({"requests": {"storage": "2Gi"}})
        ));
        assert!(!equal(&json!({"a": false}), &json!({"a": true})));
        assert!(!equal(&json!({"name": "1Gi"}), &json!({"name": "1024Mi"})));
    }
}
