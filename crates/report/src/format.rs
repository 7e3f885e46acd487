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

/// Seconds with four decimals (a head trains in milliseconds) and thousands
/// separators: `1,234.5678`.
pub fn seconds(value: f64) -> String {
    fixed(value, 4)
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
}
