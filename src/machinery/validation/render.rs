//! Printing bad values the way `field.Error.ErrorBody` does.
//!
//! Kubernetes prints strings with Go's `%q`, numbers and booleans plainly, `nil` as `null`,
//! values with a `String()` method (quantities, int-or-string, times) through that method,
//! and everything else as compact JSON (`encoding/json.Marshal`: sorted map keys, HTML-safe
//! escaping). Servers before the JSON change printed composite values with Go's `%#v`
//! (`map[string]string{"app":"nginx"}`); [`render_value_go_syntax`] reproduces that form for
//! the values where it can be reconstructed.

use serde_json::Value;

/// A bad value as v1.35 prints it: `"abc"`, `-1`, `true`, `null`, `{"app":"nginx"}`.
pub fn render_value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => render_str(s),
        Value::Array(_) | Value::Object(_) => go_json(v),
    }
}

/// A string as Go's `strconv.Quote` prints it.
pub fn render_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`, approximated: graphic characters plus the ASCII space.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c as u32, 0xad | 0x200b..=0x200f | 0x2028..=0x202e | 0xfeff))
}

/// Compact JSON as `encoding/json.Marshal` writes it (sorted keys, `<>&` escaped).
pub(crate) fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out);
    out
}

fn write_go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&go_json_string(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&go_json_string(k));
                out.push(':');
                if let Some(item) = map.get(k) {
                    write_go_json(item, out);
                }
            }
            out.push('}');
        }
    }
}

/// A JSON string literal with `encoding/json`'s escaping.
fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A bad value as servers before the JSON change printed it with `%#v`:
/// `map[string]string{"a":"b", "c":"d"}` for string maps, `[]string{"a", "b"}` for string
/// lists; other values as [`render_value`] prints them.
pub fn render_value_go_syntax(v: &Value) -> String {
    match v {
        Value::Object(map) if map.values().all(Value::is_string) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let body = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        render_str(k),
                        render_str(map.get(k).and_then(Value::as_str).unwrap_or(""))
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!("map[string]string{{{body}}}")
        }
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let body = items
                .iter()
                .map(|s| render_str(s.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", ");
            format!("[]string{{{body}}}")
        }
        other => render_value(other),
    }
}

/// A label or annotation map as a bad value (`null` when absent).
pub(crate) fn render_string_map(
    map: Option<&std::collections::BTreeMap<String, String>>,
) -> String {
    match map {
        None => "null".to_string(),
        Some(m) => render_value(&serde_json::to_value(m).unwrap_or(Value::Null)),
    }
}

/// Any serializable API value as a bad value.
pub(crate) fn render_json<T: serde::Serialize>(v: &T) -> String {
    render_value(&serde_json::to_value(v).unwrap_or(Value::Null))
}

/// A Go struct as `encoding/json` writes it: fields in declaration order, given here as
/// `(key, already rendered JSON value)` pairs; `None` values are left out (`omitempty`).
pub(crate) fn render_struct(fields: &[(&str, Option<String>)]) -> String {
    let body = fields
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{}:{v}", go_json_string(k))))
        .collect::<Vec<_>>()
        .join(",");
    format!("{{{body}}}")
}

/// A `metav1.LabelSelector` as a bad value (`{"matchLabels":{..},"matchExpressions":[..]}`,
/// empty fields left out).
pub(crate) fn render_label_selector(
    sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> String {
    let labels = sel
        .match_labels
        .as_ref()
        .filter(|m| !m.is_empty())
        .map(|m| go_json(&serde_json::to_value(m).unwrap_or(Value::Null)));
    let exprs = sel
        .match_expressions
        .as_ref()
        .filter(|e| !e.is_empty())
        .map(|exprs| {
            let items = exprs
                .iter()
                .map(|r| {
                    let values = r
                        .values
                        .as_ref()
                        .filter(|v| !v.is_empty())
                        .map(|v| go_json(&serde_json::to_value(v).unwrap_or(Value::Null)));
                    render_struct(&[
                        ("key", Some(go_json_string(&r.key))),
                        ("operator", Some(go_json_string(&r.operator))),
                        ("values", values),
                    ])
                })
                .collect::<Vec<_>>()
                .join(",");
            format!("[{items}]")
        });
    render_struct(&[("matchLabels", labels), ("matchExpressions", exprs)])
}

/// An `IntOrString` as JSON (`1` or `"50%"`), `null` when absent.
pub(crate) fn render_int_or_string_json(
    v: Option<&k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>,
) -> String {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    match v {
        None => "null".to_string(),
        Some(IntOrString::Int(i)) => i.to_string(),
        Some(IntOrString::String(s)) => go_json_string(s),
    }
}

/// A JSON string literal as `encoding/json` writes it.
pub(crate) fn json_str(s: &str) -> String {
    go_json_string(s)
}

/// An RFC 3339 timestamp as Go's `time.Time.String()` prints it (UTC):
/// `2024-01-02 03:04:05 +0000 UTC`.
pub(crate) fn render_go_time(rfc3339: &str) -> String {
    let trimmed = rfc3339.trim_end_matches('Z');
    match trimmed.split_once('T') {
        Some((date, time)) => format!("{date} {time} +0000 UTC"),
        None => rfc3339.to_string(),
    }
}

/// A line diff of two values, pretty-printed with sorted keys, in the spirit of the
/// `cmp.Diff` Kubernetes appends to "immutable spec" messages: unchanged lines start
/// with two spaces, removed lines with `-`, added lines with `+`; long unchanged runs
/// are elided.
pub fn render_diff(old: &Value, new: &Value) -> String {
    let a = pretty_lines(old);
    let b = pretty_lines(new);
    let ops = line_diff(&a, &b);
    let mut out = Vec::new();
    let keep = |i: usize| {
        ops[i.saturating_sub(3)..(i + 4).min(ops.len())]
            .iter()
            .any(|(t, _)| *t != ' ')
    };
    let mut elided = false;
    for (i, (tag, line)) in ops.iter().enumerate() {
        if *tag == ' ' && !keep(i) {
            if !elided {
                out.push("  \t... // unchanged".to_string());
                elided = true;
            }
            continue;
        }
        elided = false;
        let prefix = match tag {
            '-' => "- ",
            '+' => "+ ",
            _ => "  ",
        };
        out.push(format!("{prefix}\t{line}"));
    }
    out.join("\n")
}

fn pretty_lines(v: &Value) -> Vec<String> {
    let mut out = String::new();
    write_pretty(v, 0, &mut out);
    out.lines().map(str::to_string).collect()
}

fn write_pretty(v: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth + 1);
    let close = "  ".repeat(depth);
    match v {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                out.push_str(&format!("{pad}{}: ", go_json_string(k)));
                if let Some(item) = map.get(*k) {
                    write_pretty(item, depth + 1, out);
                }
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{close}}}"));
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad);
                write_pretty(item, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{close}]"));
        }
        other => out.push_str(&go_json(other)),
    }
}

/// Longest-common-subsequence line diff: (' ' | '-' | '+', line).
fn line_diff<'a>(a: &'a [String], b: &'a [String]) -> Vec<(char, &'a str)> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n && j < m {
        if a[i] == b[j] {
            ops.push((' ', a[i].as_str()));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            ops.push(('-', a[i].as_str()));
            i += 1;
        } else {
            ops.push(('+', b[j].as_str()));
            j += 1;
        }
    }
    ops.extend(a[i..].iter().map(|l| ('-', l.as_str())));
    ops.extend(b[j..].iter().map(|l| ('+', l.as_str())));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_values_like_field_error() {
        let cases = [
            (json!("abc"), "\"abc\""),
            (json!("a\"b\\c"), "\"a\\\"b\\\\c\""),
            (json!("tab\there\n"), "\"tab\\there\\n\""),
            (json!("\u{1}"), "\"\\x01\""),
            (json!("héllo"), "\"héllo\""),
            (json!(-1), "-1"),
            (json!(0), "0"),
            (json!(true), "true"),
            (json!(null), "null"),
            (json!({"b": "2", "a": "1"}), "{\"a\":\"1\",\"b\":\"2\"}"),
            (json!({"k": "<x>&"}), "{\"k\":\"\\u003cx\\u003e\\u0026\"}"),
            (json!(["a", 1]), "[\"a\",1]"),
        ];
        for (value, want) in cases {
            assert_eq!(render_value(&value), want, "value {value}");
        }
    }

    #[test]
    fn renders_legacy_go_syntax() {
        let cases = [
            (
                json!({"b": "2", "a": "1"}),
                "map[string]string{\"a\":\"1\", \"b\":\"2\"}",
            ),
            (json!({}), "map[string]string{}"),
            (json!(["x", "y"]), "[]string{\"x\", \"y\"}"),
            (json!("s"), "\"s\""),
            (json!(null), "null"),
            (json!(7), "7"),
        ];
        for (value, want) in cases {
            assert_eq!(render_value_go_syntax(&value), want, "value {value}");
        }
    }

    #[test]
    fn renders_go_time() {
        assert_eq!(
            render_go_time("2024-01-02T03:04:05Z"),
            "2024-01-02 03:04:05 +0000 UTC"
        );
    }

    #[test]
    fn diff_marks_changed_lines() {
        let old = json!({"a": 1, "b": "x"});
        let new = json!({"a": 1, "b": "y"});
        let d = render_diff(&old, &new);
        assert!(d.contains("- \t  \"b\": \"x\""), "{d}");
        assert!(d.contains("+ \t  \"b\": \"y\""), "{d}");
        assert!(d.contains("  \t  \"a\": 1,"), "{d}");
    }
}
