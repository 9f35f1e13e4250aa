//! Just enough of `resource.Quantity` to compare quantities: a parsed value in nano-units.

use std::cmp::Ordering;

/// The value of a quantity string (`500m`, `1Gi`, `1e3`, `0.5`) in units of 10⁻⁹,
/// rounded up like Kubernetes rounds below nano precision. `None` when the string is not
/// a quantity or the value does not fit.
pub fn parse_nanos(s: &str) -> Option<i128> {
    let s = s.trim();
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (exp10, exp2): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        other => {
            let exp = other
                .strip_prefix('e')
                .or_else(|| other.strip_prefix('E'))?;
            (exp.parse::<i32>().ok()?, 0)
        }
    };
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let mut mantissa: i128 = 0;
    for b in digits.bytes() {
        mantissa = mantissa
            .checked_mul(10)?
            .checked_add(i128::from(b - b'0'))?;
    }
    mantissa = mantissa.checked_mul(1i128.checked_shl(exp2)?)?;
    let scale = 9 + exp10 - i32::try_from(frac_part.len()).ok()?;
    let value = if scale >= 0 {
        mantissa.checked_mul(10i128.checked_pow(u32::try_from(scale).ok()?)?)?
    } else {
        let div = 10i128.checked_pow(u32::try_from(-scale).ok()?)?;
        mantissa.checked_add(div - 1)? / div
    };
    Some(if negative { -value } else { value })
}

/// Compares two quantity strings by value; `None` when either does not parse.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(parse_nanos(a)?.cmp(&parse_nanos(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quantities() {
        let cases = [
            ("1", Some(1_000_000_000)),
            ("500m", Some(500_000_000)),
            ("0.5", Some(500_000_000)),
            ("1Gi", Some(1_073_741_824_000_000_000)),
            ("1e3", Some(1_000_000_000_000)),
            ("-2k", Some(-2_000_000_000_000)),
            ("1n", Some(1)),
            ("0.1n", Some(1)),
            ("", None),
            ("abc", None),
            ("1Xi", None),
            ("1.2.3", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_nanos(input), want, "input {input:?}");
        }
    }

    #[test]
    fn compares_equal_values_in_different_forms() {
        assert_eq!(compare("1024Mi", "1Gi"), Some(Ordering::Equal));
        assert_eq!(compare("100m", "0.1"), Some(Ordering::Equal));
        assert_eq!(compare("2", "1500m"), Some(Ordering::Greater));
        assert_eq!(compare("x", "1"), None);
    }
}
