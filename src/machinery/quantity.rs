//! `resource.Quantity`: values in nano-units to compare quantities, and the canonical form
//! (`Quantity.String()`) tables print.

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

// ---------------------------------------------------------------------------------------------
// resource.Quantity canonical form (Quantity.String())
// ---------------------------------------------------------------------------------------------

/// How a quantity was written, which decides how it is printed back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum QuantityFormat {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// The canonical `Quantity.String()` of `text` (`1024Mi` → `1Gi`, `1.5G` → `1500M`, `0.5` → `500m`);
/// unparsable or out-of-range input is returned unchanged.
pub fn canonical(text: &str) -> String {
    parse_and_canonicalize(text.trim()).unwrap_or_else(|| text.to_string())
}

fn decimal_suffix(exponent: i32) -> Option<&'static str> {
    Some(match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

fn binary_suffix(power: u32) -> Option<&'static str> {
    ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
        .get(power as usize)
        .copied()
}

/// Suffix → (decimal exponent, binary power of 1024, format).
fn interpret_suffix(suffix: &str) -> Option<(i32, u32, QuantityFormat)> {
    let decimal = |e| Some((e, 0, QuantityFormat::DecimalSi));
    let binary = |p| Some((0, p, QuantityFormat::BinarySi));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        _ => {
            let exponent = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))?;
            let exponent: i32 = exponent.parse().ok()?;
            Some((exponent, 0, QuantityFormat::DecimalExponent))
        }
    }
}

fn pow10(exponent: u32) -> Option<i128> {
    10i128.checked_pow(exponent)
}

fn parse_and_canonicalize(text: &str) -> Option<String> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let (exponent, binary_power, format) = interpret_suffix(suffix)?;

    // value = mantissa * 10^exponent10 (exactly).
    let digits = format!("{whole}{fraction}");
    let mut mantissa: i128 = digits.parse().ok()?;
    let fraction_len = i32::try_from(fraction.len()).ok()?;
    let mut exponent10 = exponent.checked_sub(fraction_len)?;
    if binary_power > 0 {
        mantissa = mantissa.checked_mul(1i128.checked_shl(10 * binary_power)?)?;
    }
    if mantissa == 0 {
        return Some("0".into());
    }
    // Round up (away from zero) to nano precision.
    if exponent10 < -9 {
        let divisor = pow10(u32::try_from(-9 - exponent10).ok()?)?;
        mantissa = mantissa / divisor + i128::from(mantissa % divisor != 0);
        exponent10 = -9;
    }
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent10 += 1;
    }
    let sign = if negative { "-" } else { "" };

    // BinarySI prints in powers of 1024 only for integers with magnitude >= 1024.
    let integer_value = if exponent10 >= 0 {
        pow10(u32::try_from(exponent10).ok()?).and_then(|p| mantissa.checked_mul(p))
    } else {
        None
    };
    if format == QuantityFormat::BinarySi
        && let Some(mut value) = integer_value
        && value >= 1024
    {
        let mut power = 0u32;
        while value % 1024 == 0 && power < 6 {
            value /= 1024;
            power += 1;
        }
        return Some(format!("{sign}{value}{}", binary_suffix(power)?));
    }

    // Decimal: exponent rounded down to a multiple of three.
    let adjust = exponent10.rem_euclid(3);
    mantissa = mantissa.checked_mul(pow10(u32::try_from(adjust).ok()?)?)?;
    exponent10 -= adjust;
    let suffix = match format {
        QuantityFormat::DecimalExponent if exponent10 == 0 => String::new(),
        QuantityFormat::DecimalExponent => format!("e{exponent10}"),
        _ => decimal_suffix(exponent10)?.to_string(),
    };
    Some(format!("{sign}{mantissa}{suffix}"))
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
