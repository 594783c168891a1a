//! Resource quantities (`250m`, `1Gi`, `1.5e3`) as the reference parses and
//! prints them: the Kubernetes `resource.Quantity` of its vendored copy,
//! including rounding up to whole nano-units, the canonical printed form and
//! the int64 results of `Value` and `MilliValue`.
//!
//! Amounts that the reference keeps in arbitrary precision are kept here in
//! 128 bits; a quantity too large for that is refused (the reference would
//! accept it, then clamp or wrap when asked for a value).

use crate::schema::{Result, SchemaError};
use std::cmp::Ordering;
use std::fmt;

const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const NUMERIC: &str = "unable to parse numeric part of quantity";
const SUFFIX: &str = "unable to parse quantity's suffix";
const OUT_OF_RANGE: &str = "quantity is too large";

/// Digits of the largest amount kept: leaves room to scale by 100.
const MAX_UNSCALED: i128 = 10i128.pow(35);
/// Exponents beyond this are refused rather than computed.
const MAX_EXPONENT: i64 = 1000;
/// Smallest scale kept: nano-units.
const NANO: i64 = -9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DecimalExponent,
    BinarySi,
    DecimalSi,
}

/// The amount: either `value × 10^scale` in 64 bits (the fast form), or
/// `unscaled × 10^-scale` (the general form, scale as in decimal libraries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Amount {
    Int { value: i64, scale: i64 },
    Dec { unscaled: i128, scale: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    amount: Amount,
    format: Format,
    /// The input, kept when it was already in canonical form.
    text: Option<String>,
}

fn pow10(n: i64) -> Option<i128> {
    u32::try_from(n).ok().and_then(|n| 10i128.checked_pow(n))
}

struct Parts<'a> {
    positive: bool,
    value: &'a str,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// The reference's scanner: sign, digits with leading zeros stripped, an
/// optional fraction, then a suffix of unit letters and an exponent.
fn scan(s: &str) -> Result<Parts<'_>> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok(Parts {
            positive,
            value: "0",
            num: "0",
            denom: "",
            suffix: "",
        });
    }
    let num_start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let mut num = &s[num_start..pos];
    if pos >= end {
        return Ok(Parts {
            positive,
            value: s,
            num,
            denom: "",
            suffix: "",
        });
    }
    if num.is_empty() {
        num = "0";
    }
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[start..pos];
        if pos >= end {
            return Ok(Parts {
                positive,
                value: s,
                num,
                denom,
                suffix: "",
            });
        }
    }
    let value = &s[..pos];
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(SchemaError::new(FORMAT_WRONG));
    }
    Ok(Parts {
        positive,
        value,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// The base, exponent and format a suffix stands for.
fn interpret(suffix: &str) -> Result<(u32, i64, Format)> {
    let dec = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(e) = dec {
        return Ok((10, e, Format::DecimalSi));
    }
    let bin = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
        .iter()
        .position(|&x| x == suffix);
    if let Some(i) = bin {
        return Ok((2, 10 * (i as i64 + 1), Format::BinarySi));
    }
    if suffix.len() > 1 && (suffix.starts_with('e') || suffix.starts_with('E')) {
        let e: i64 = suffix[1..].parse().map_err(|_| SchemaError::new(SUFFIX))?;
        if e.abs() > MAX_EXPONENT {
            return Err(SchemaError::new(OUT_OF_RANGE));
        }
        return Ok((10, e, Format::DecimalExponent));
    }
    Err(SchemaError::new(SUFFIX))
}

/// Parses a plain decimal (`-3.01`) into unscaled digits and a scale.
fn parse_decimal(s: &str) -> Result<(i128, i64)> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(SchemaError::new(NUMERIC));
    }
    let all = format!("{int}{frac}");
    let all = all.trim_start_matches('0');
    if all.len() > 36 {
        return Err(SchemaError::new(OUT_OF_RANGE));
    }
    let unscaled: i128 = if all.is_empty() {
        0
    } else {
        all.parse().map_err(|_| SchemaError::new(NUMERIC))?
    };
    Ok((if neg { -unscaled } else { unscaled }, frac.len() as i64))
}

/// Rounds `unscaled × 10^-scale` to `new_scale`, away from zero.
fn round_away(unscaled: i128, scale: i64, new_scale: i64) -> Option<i128> {
    if scale <= new_scale {
        return unscaled.checked_mul(pow10(new_scale - scale)?);
    }
    let Some(d) = pow10(scale - new_scale) else {
        return Some(unscaled.signum());
    };
    let (q, r) = (unscaled / d, unscaled % d);
    Some(if r == 0 { q } else { q + unscaled.signum() })
}

fn int64_multiply(a: i64, b: i64) -> (i64, bool) {
    if a == 0 || b == 0 || a == 1 || b == 1 {
        return (a.wrapping_mul(b), true);
    }
    if a == i64::MIN || b == i64::MIN {
        return (0, false);
    }
    let c = a.wrapping_mul(b);
    (c, c / b == a)
}

/// `base × 10^scale` in int64, with the reference's overflow results.
fn positive_scale_int64(base: i64, scale: i64) -> (i64, bool) {
    match scale {
        0 => (base, true),
        1 | 2 | 3 | 6 | 9 => int64_multiply(base, 10i64.pow(scale as u32)),
        _ => {
            let mut value = base;
            for _ in 0..scale {
                let (v, ok) = int64_multiply(value, 10);
                if !ok {
                    return (0, false);
                }
                value = v;
            }
            (value, true)
        }
    }
}

/// `base ÷ 10^scale` rounded away from zero, and whether it was exact.
fn negative_scale_int64(base: i64, scale: i64) -> (i64, bool) {
    if scale == 0 {
        return (base, true);
    }
    let mut value = base;
    let mut fraction = false;
    for _ in 0..scale {
        if !fraction && value % 10 != 0 {
            fraction = true;
        }
        value /= 10;
        if value == 0 {
            return match (fraction, base > 0) {
                (false, _) => (0, true),
                (true, true) => (1, false),
                (true, false) => (-1, false),
            };
        }
    }
    if fraction {
        value += if base > 0 { 1 } else { -1 };
    }
    (value, !fraction)
}

fn remove_factors(mut v: i128, base: i128) -> (i128, i64) {
    let mut times = 0;
    while v != 0 && v % base == 0 {
        v /= base;
        times += 1;
    }
    (v, times)
}

impl Quantity {
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(SchemaError::new(FORMAT_WRONG));
        }
        if s == "0" {
            let amount = Amount::Int { value: 0, scale: 0 };
            return Ok(Quantity {
                amount,
                format: Format::DecimalSi,
                text: Some(s.into()),
            });
        }
        let p = scan(s)?;
        let (base, exponent, mut format) = interpret(p.suffix)?;

        // The fast path: the whole amount fits an int64 at scale ≥ nano.
        let digits = (p.num.len() + p.denom.len()) as i64;
        let (precision, mut scale, mantissa) = match format {
            Format::BinarySi if p.denom.is_empty() => (
                15 - p.num.len() as i64 - exponent * 3 / 10 - 1,
                0,
                1i64 << exponent,
            ),
            Format::BinarySi => (-1, 0, 1),
            _ => (18 - digits, exponent, 1),
        };
        if precision >= 0 {
            scale -= p.denom.len() as i64;
            if scale >= NANO {
                let shifted = format!("{}{}", p.num, p.denom);
                let value: i64 = shifted.parse().map_err(|_| SchemaError::new(NUMERIC))?;
                if let Some(mut result) = value.checked_mul(mantissa) {
                    if !p.positive {
                        result = -result;
                    }
                    let canonical = match format {
                        Format::BinarySi => exponent % 10 == 0 && value & 7 != 0,
                        _ => {
                            scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0')
                        }
                    };
                    let amount = Amount::Int {
                        value: result,
                        scale,
                    };
                    return Ok(Quantity {
                        amount,
                        format,
                        text: canonical.then(|| s.to_string()),
                    });
                }
            }
        }

        let (mut unscaled, mut scale) = parse_decimal(p.value)?;
        let too_large = || SchemaError::new(OUT_OF_RANGE);
        if base == 10 {
            scale -= exponent;
        } else {
            unscaled = unscaled
                .checked_mul(1i128 << exponent)
                .ok_or_else(too_large)?;
        }
        let negative = unscaled < 0;
        unscaled = unscaled.abs();
        if unscaled != 0 {
            // Round non-zero amounts up to at least one nano-unit.
            unscaled = round_away(unscaled, scale, -NANO).ok_or_else(too_large)?;
            scale = -NANO;
        }
        let max = i64::MAX as i128;
        if format == Format::BinarySi && cmp_dec(unscaled, scale, max) == Ordering::Greater {
            (unscaled, scale) = (max, 0);
        }
        if format == Format::BinarySi
            && cmp_dec(unscaled, scale, 1) == Ordering::Less
            && unscaled > 0
        {
            format = Format::DecimalSi;
        }
        if unscaled > MAX_UNSCALED {
            return Err(too_large());
        }
        if negative {
            unscaled = -unscaled;
        }
        Ok(Quantity {
            amount: Amount::Dec { unscaled, scale },
            format,
            text: None,
        })
    }

    /// The amount as `unscaled × 10^-scale`.
    fn as_dec(&self) -> (i128, i64) {
        match self.amount {
            Amount::Int { value, scale } => (value as i128, -scale),
            Amount::Dec { unscaled, scale } => (unscaled, scale),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.as_dec().0 == 0
    }

    /// `ceil(q × 10^scale)` as an int64, with the reference's wrap-around
    /// when it does not fit.
    pub fn scaled_value(&self, scale: i64) -> i64 {
        match self.amount {
            Amount::Int { value, scale: s } if s < scale => {
                negative_scale_int64(value, scale - s).0
            }
            Amount::Int { value, scale: s } => positive_scale_int64(value, s - scale).0,
            Amount::Dec { unscaled, scale: s } => {
                let dif = s + scale;
                if dif == 0 {
                    return unscaled as i64;
                }
                if dif < 0 {
                    let factor = if -dif <= 18 {
                        10i64.pow((-dif) as u32)
                    } else {
                        i64::MIN
                    };
                    return (unscaled as i64).wrapping_mul(factor);
                }
                if unscaled < i64::MAX as i128 && dif < 19 {
                    let d = 10i64.pow(dif as u32);
                    let u = unscaled as i64;
                    return if u % d != 0 { u / d + 1 } else { u / d };
                }
                let (q, r) = match pow10(dif) {
                    Some(d) => (unscaled.div_euclid(d), unscaled.rem_euclid(d)),
                    None if unscaled >= 0 => (0, unscaled),
                    None => (-1, 1),
                };
                (q as i64).wrapping_add((r != 0) as i64)
            }
        }
    }

    /// The value in whole units, rounded up.
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }

    /// The value in thousandths, rounded up.
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(-3)
    }

    fn canonical(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let (unscaled, scale) = self.as_dec();
        let mut format = self.format;
        if format == Format::BinarySi {
            let small = cmp_dec(unscaled, scale, -1024) == Ordering::Greater
                && cmp_dec(unscaled, scale, 1024) == Ordering::Less;
            if small || self.whole_units().is_none() {
                format = Format::DecimalSi;
            }
        }
        if format == Format::BinarySi {
            let whole = self.whole_units().unwrap_or(0);
            let (n, times) = remove_factors(whole, 1024);
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
                .get(times as usize)
                .unwrap_or(&"");
            return format!("{n}{suffix}");
        }
        let (mut n, times) = remove_factors(unscaled, 10);
        let mut exponent = times - scale;
        while exponent % 3 != 0 {
            n *= 10;
            exponent -= 1;
        }
        let suffix = match format {
            Format::DecimalExponent if exponent == 0 => String::new(),
            Format::DecimalExponent => format!("e{exponent}"),
            _ => match exponent {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                18 => "E",
                _ => "",
            }
            .to_string(),
        };
        format!("{n}{suffix}")
    }

    /// The amount in whole units if that is exact.
    fn whole_units(&self) -> Option<i128> {
        match self.amount {
            Amount::Int { value, scale } if scale >= 0 => {
                Some(positive_scale_int64(value, scale).0 as i128)
            }
            Amount::Int { value, scale } => match negative_scale_int64(value, -scale) {
                (v, true) => Some(v as i128),
                _ => None,
            },
            Amount::Dec { unscaled, scale } => {
                let r = round_away(unscaled, scale, 0)?;
                (cmp_dec(unscaled, scale, r) == Ordering::Equal).then_some(r)
            }
        }
    }
}

/// Compares `unscaled × 10^-scale` with the integer `y`.
fn cmp_dec(unscaled: i128, scale: i64, y: i128) -> Ordering {
    if scale >= 0 {
        match pow10(scale).and_then(|p| y.checked_mul(p)) {
            Some(rhs) => unscaled.cmp(&rhs),
            None => 0.cmp(&y),
        }
    } else {
        match pow10(-scale).and_then(|p| unscaled.checked_mul(p)) {
            Some(lhs) => lhs.cmp(&y),
            None => unscaled.cmp(&0),
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.text {
            Some(t) => f.write_str(t),
            None => f.write_str(&self.canonical()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> (String, i64, i64) {
        let q = Quantity::parse(s).unwrap();
        (q.to_string(), q.value(), q.milli_value())
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(q("1e14").0, "100e12");
        assert_eq!(q("0.5e0").0, "500e-3");
        assert_eq!(q("100.035Ki"), ("102435840m".into(), 102436, 102435840));
        assert_eq!(q("125952Ki").0, "123Mi");
        assert_eq!(q("0.000000000001Ki").0, "2n");
        assert_eq!(q("1.1E-9").0, "2e-9");
        assert_eq!(q("9.01"), ("9010m".into(), 10, 9010));
        assert_eq!(q("1.").0, "1.");
        assert_eq!(q("1000").0, "1k");
    }

    #[test]
    fn int64_overflow_as_the_reference() {
        assert_eq!(q("3Ei"), ("3Ei".into(), 3458764513820540928, i64::MIN));
        assert_eq!(q("9Ei"), ("9223372036854775807".into(), i64::MAX, -1000));
        assert_eq!(q("12E"), ("12E".into(), 0, 0));
        assert_eq!(q("1E").2, 0);
    }

    #[test]
    fn errors() {
        assert_eq!(Quantity::parse("1K").unwrap_err().to_string(), SUFFIX);
        assert_eq!(Quantity::parse(" 1").unwrap_err().to_string(), FORMAT_WRONG);
        assert_eq!(
            Quantity::parse("1.1.M").unwrap_err().to_string(),
            FORMAT_WRONG
        );
        assert!(Quantity::parse("1e99999999").is_err());
        assert!(Quantity::parse("999999999999999999999999999999999999999999").is_err());
    }
}
