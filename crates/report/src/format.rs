//! Number formatting of the seed's table: thousands separators, 4 decimals for
//! losses and scores.

pub const MISSING: &str = "–";

/// `5288548` → `5,288,548`.
pub fn thousands(value: u64) -> String {
    group_digits(&value.to_string())
}

/// `0.12345` → `0.1235`.
pub fn decimal4(value: f64) -> String {
    fixed(value, 4)
}

/// A difference: `+0.0123`, `-0.0400`.
pub fn signed4(value: f64) -> String {
    let text = fixed(value, 4);
    if text.starts_with('-') {
        text
    } else {
        format!("+{text}")
    }
}

/// Seconds with four decimals and thousands separators, `1,234.5678`: for the
/// CSV-like contexts that want a fixed unit.
pub fn seconds(value: f64) -> String {
    fixed(value, 4)
}

/// `value` to three significant figures, no exponent: `0.129`, `5.49`, `40.9`, `285`.
pub fn significant3(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).max(0) as usize;
    let rounded = format!("{value:.decimals$}");
    // Rounding can carry into a new digit (9.996 -> 10.00): drop the extra one.
    match rounded.parse::<f64>() {
        Ok(r) if (r.abs().log10().floor() as i32) > magnitude && decimals > 0 => {
            format!("{value:.prec$}", prec = decimals - 1)
        }
        _ => rounded,
    }
}

/// A duration as people read it, three significant figures: `1.20 ms`,
/// `0.129 s`, `40.9 s`, `4 m 45 s`, `2 h 03 m`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return MISSING.to_string();
    }
    if seconds < 0.01 && seconds > 0.0 {
        return format!("{} ms", significant3(seconds * 1e3));
    }
    if seconds < 60.0 {
        return format!("{} s", significant3(seconds));
    }
    let whole = seconds.round() as u64;
    if whole < 3600 {
        return format!("{} m {:02} s", whole / 60, whole % 60);
    }
    let minutes = (seconds / 60.0).round() as u64;
    format!("{} h {:02} m", minutes / 60, minutes % 60)
}

/// A p-value as tables print it: two significant figures, `< 0.001` below that.
pub fn p_value(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".to_string()
    } else if p >= 0.1 {
        format!("{p:.2}")
    } else {
        format!("{p:.3}")
    }
}

/// `[0.884, 0.964]`: an interval to three decimals.
pub fn interval(low: f64, high: f64) -> String {
    format!("[{}, {}]", fixed(low, 3), fixed(high, 3))
}

/// `2.5` → `2.50×`.
pub fn ratio(value: f64) -> String {
    format!("{}×", fixed(value, 2))
}

/// Decimal megabytes, one decimal: `21,436,608` bytes → `21.4 MB`.
pub fn megabytes(bytes: u64) -> String {
    format!("{} MB", fixed(bytes as f64 / 1e6, 1))
}

/// Fixed decimals with the integer part grouped by thousands; `-0.0000` prints as `0.0000`.
pub fn fixed(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = format!("{value:.decimals$}");
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) if rest.bytes().any(|b| b.is_ascii_digit() && b != b'0') => ("-", rest),
        Some(rest) => ("", rest),
        None => ("", text.as_str()),
    };
    let (integer, fraction) = match digits.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (digits, None),
    };
    let grouped = group_digits(integer);
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_seed() {
        assert_eq!(thousands(5_288_548), "5,288,548");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(decimal4(0.123_456), "0.1235");
        assert_eq!(signed4(0.012_34), "+0.0123");
        assert_eq!(signed4(-0.04), "-0.0400");
        assert_eq!(signed4(-0.000_01), "+0.0000");
        assert_eq!(seconds(1_234.567_89), "1,234.5679");
        assert_eq!(seconds(-1234.5), "-1,234.5000");
        assert_eq!(ratio(2.5), "2.50×");
        assert_eq!(megabytes(21_436_608), "21.4 MB");
        assert_eq!(fixed(1_234_567.0, 0), "1,234,567");
    }

    #[test]
    fn durations_as_people_read_them() {
        assert_eq!(duration(0.0012), "1.20 ms");
        assert_eq!(duration(0.129_4), "0.129 s");
        assert_eq!(duration(5.4879), "5.49 s");
        assert_eq!(duration(40.9656), "41.0 s");
        assert_eq!(duration(285.2531), "4 m 45 s");
        assert_eq!(duration(59.99), "60.0 s");
        assert_eq!(duration(7_384.0), "2 h 03 m");
        assert_eq!(significant3(9.996), "10.0");
        assert_eq!(significant3(0.009_996), "0.0100");
        assert_eq!(interval(0.8843, 0.96451), "[0.884, 0.965]");
    }
}
