//! Resource quantities: `250m` of CPU, `128Mi` of memory, `1e3`, `2G`.
//!
//! Owns the parsing, comparison, arithmetic and canonical printing of the
//! numbers in `resources.requests`, `resources.limits`, `status.capacity`,
//! quotas and limit ranges. Mirrors apimachinery's `pkg/api/resource`
//! (`ParseQuantity`, `Quantity.String`, `Value`, `MilliValue`).
//!
//! Grammar (as Kubernetes):
//!
//! ```text
//! quantity ::= [+-] number suffix
//! number   ::= digits | digits "." digits | digits "." | "." digits
//! suffix   ::= binarySI | decimalSI | decimalExponent
//! binarySI ::= Ki | Mi | Gi | Ti | Pi | Ei              (powers of 1024)
//! decimalSI ::= n | u | m | "" | k | M | G | T | P | E  (powers of 1000)
//! decimalExponent ::= ("e" | "E") [+-] digits
//! ```
//!
//! A value is held exactly as a whole number of nano-units in an `i128`
//! (no floating point): finer values are rounded up, away from zero, to
//! `1n`, as Kubernetes does, and magnitudes beyond about 10^29 are refused.
//! A quantity remembers which kind of suffix it was written with and prints
//! itself canonically in that style: `1.5Gi` prints as `1536Mi`, `0.5` as
//! `500m`, `2000` as `2k`, `1e3` as `1e3`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use serde_json::Value;

const NANOS_PER_UNIT: i128 = 1_000_000_000;
const NANOS_PER_MILLI: i128 = 1_000_000;
/// Binary quantities are capped at 2^63-1 units when parsed, as upstream does.
const MAX_BINARY_NANOS: i128 = i64::MAX as i128 * NANOS_PER_UNIT;

const DECIMAL_SUFFIXES: [(&str, i32); 9] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];
const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// Why a quantity string was refused. The first three messages are
/// Kubernetes' own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    FormatWrong,
    #[error("unable to parse quantity's suffix")]
    Suffix,
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// The value does not fit minik's fixed-point range (about ±1.7·10^29).
    #[error("quantity {0:?} is too large")]
    TooLarge(String),
    /// A JSON value that is neither a string, a number nor null.
    #[error("a quantity must be a string or a number, not {0}")]
    WrongType(String),
}

/// How a quantity prints itself: the style of suffix it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// `k`, `M`, `m`, … (powers of 1000). Plain numbers are DecimalSI too.
    #[default]
    DecimalSI,
    /// `Ki`, `Mi`, `Gi`, … (powers of 1024).
    BinarySI,
    /// `1e3`, `12e6`, `5e-3`.
    DecimalExponent,
}

/// A fixed-point resource amount with a preferred print format.
///
/// Equality, ordering and hashing look at the amount only: `1000m == 1`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl Quantity {
    /// Parses a quantity string such as `250m`, `1`, `0.5`, `128Mi`, `2G`,
    /// `1e3` (Kubernetes' `ParseQuantity`; no surrounding blanks allowed).
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        let bytes = s.as_bytes();
        let mut pos = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                pos += 1;
                true
            }
            Some(b'+') => {
                pos += 1;
                false
            }
            _ => false,
        };
        let int_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        let int_digits = &s[int_start..pos];
        let mut frac_digits = "";
        if pos < bytes.len() && bytes[pos] == b'.' {
            pos += 1;
            let frac_start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            frac_digits = &s[frac_start..pos];
        }
        // Upstream reads a number without digits ("", "-", "k") as zero; minik
        // asks for at least one digit, as the grammar does.
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        let suffix = &s[pos..];
        if !suffix_has_valid_shape(suffix) {
            return Err(QuantityError::FormatWrong);
        }
        let (binary, exponent, mut format) =
            interpret_suffix(suffix).ok_or(QuantityError::Suffix)?;

        // digits × 10^(exp10 - frac_len) × 2^exp2, as a decimal digit string.
        let mut digits: Vec<u8> = int_digits
            .bytes()
            .chain(frac_digits.bytes())
            .map(|b| b - b'0')
            .collect();
        let mut shift = -(frac_digits.len() as i64) + 9; // to nano-units
        if binary {
            multiply_digits(&mut digits, 1u64 << exponent);
        } else {
            shift += i64::from(exponent);
        }
        let too_large = || QuantityError::TooLarge(s.to_string());
        let mut nanos = digits_to_nanos(&digits, shift).ok_or_else(too_large)?;

        if format == Format::BinarySI {
            nanos = nanos.min(MAX_BINARY_NANOS);
            if nanos > 0 && nanos < NANOS_PER_UNIT {
                // A fraction of a unit cannot be shown with a binary suffix.
                format = Format::DecimalSI;
            }
        }
        Ok(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    /// Reads a quantity from JSON as Kubernetes decodes one: a string (blanks
    /// around it ignored), a bare number such as `1` or `0.5`, or null (zero).
    pub fn from_json(v: &Value) -> Result<Quantity, QuantityError> {
        match v {
            Value::String(s) => Quantity::parse(s.trim()),
            Value::Number(n) => Quantity::parse(&n.to_string()),
            Value::Null => Ok(Quantity::default()),
            other => Err(QuantityError::WrongType(other.to_string())),
        }
    }

    /// `value` whole units, printed in `format`.
    pub fn from_value(value: i64, format: Format) -> Quantity {
        Quantity {
            nanos: i128::from(value) * NANOS_PER_UNIT,
            format,
        }
    }

    /// `millis` thousandths (CPU millicores), DecimalSI.
    pub fn from_millis(millis: i64) -> Quantity {
        Quantity {
            nanos: i128::from(millis) * NANOS_PER_MILLI,
            format: Format::DecimalSI,
        }
    }

    /// An exact amount in nano-units.
    pub fn from_nanos(nanos: i128, format: Format) -> Quantity {
        Quantity { nanos, format }
    }

    /// The amount in nano-units (exact).
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The value × 1000, rounded up (away from zero): CPU in millicores.
    /// Saturates at the `i64` range. Kubernetes' `MilliValue`.
    pub fn millis(&self) -> i64 {
        saturate(div_away_from_zero(self.nanos, NANOS_PER_MILLI))
    }

    /// The value rounded up (away from zero) to a whole number: bytes, pods.
    /// Saturates at the `i64` range. Kubernetes' `Value`.
    pub fn value(&self) -> i64 {
        saturate(div_away_from_zero(self.nanos, NANOS_PER_UNIT))
    }

    /// An approximation for ratios and display (e.g. HPA utilisation).
    pub fn as_f64(&self) -> f64 {
        self.nanos as f64 / NANOS_PER_UNIT as f64
    }

    /// The canonical text (also what [`Display`](fmt::Display) prints):
    /// no fractional digits, the largest suffix that keeps the value exact,
    /// in the quantity's own format. Binary quantities below 1024 or with a
    /// fractional part print as DecimalSI.
    fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let whole_units = self.nanos % NANOS_PER_UNIT == 0;
        let format = match self.format {
            Format::BinarySI
                if self.nanos.unsigned_abs() < 1024 * NANOS_PER_UNIT as u128 || !whole_units =>
            {
                Format::DecimalSI
            }
            f => f,
        };
        if format == Format::BinarySI {
            let (mantissa, power) =
                strip_factor(self.nanos / NANOS_PER_UNIT, 1024, BINARY_SUFFIXES.len() - 1);
            return format!("{mantissa}{}", BINARY_SUFFIXES[power]);
        }
        // mantissa × 10^exponent with the exponent a multiple of 3, as large as possible.
        let (mut mantissa, tens) = strip_factor(self.nanos, 10, usize::MAX);
        let mut exponent = tens as i32 - 9;
        while exponent.rem_euclid(3) != 0 {
            mantissa *= 10;
            exponent -= 1;
        }
        let suffix = match format {
            Format::DecimalSI if exponent == 0 => String::new(),
            Format::DecimalSI => match DECIMAL_SUFFIXES.iter().find(|(_, e)| *e == exponent) {
                Some((s, _)) => s.to_string(),
                // Beyond E (10^18) there is no SI suffix; upstream falls back to an exponent.
                None => format!("e{exponent}"),
            },
            _ if exponent == 0 => String::new(),
            _ => format!("e{exponent}"),
        };
        format!("{mantissa}{suffix}")
    }
}

/// Parses a quantity string; the same as [`Quantity::parse`].
pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
    Quantity::parse(s)
}

/// Reads a quantity from JSON; the same as [`Quantity::from_json`].
pub fn from_json(v: &Value) -> Result<Quantity, QuantityError> {
    Quantity::from_json(v)
}

/// CPU millicores as a quantity string: `250` → `250m`, `2000` → `2`.
pub fn format_cpu_millis(m: i64) -> String {
    Quantity::from_millis(m).to_string()
}

/// Bytes with the largest binary suffix that is exact: `134217728` →
/// `128Mi`, `1024` → `1Ki`; otherwise the plain number (`1000`, `1536`).
pub fn format_bytes(b: i64) -> String {
    if b == 0 {
        return "0".to_string();
    }
    let (mantissa, power) = strip_factor(i128::from(b), 1024, BINARY_SUFFIXES.len() - 1);
    format!("{mantissa}{}", BINARY_SUFFIXES[power])
}

/// Divides `n` by `factor` while it divides evenly, at most `max` times;
/// returns what is left and how many divisions were made.
fn strip_factor(mut n: i128, factor: i128, max: usize) -> (i128, usize) {
    let mut count = 0;
    while count < max && n != 0 && n % factor == 0 {
        n /= factor;
        count += 1;
    }
    (n, count)
}

fn div_away_from_zero(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d != 0 {
        q + n.signum()
    } else {
        q
    }
}

fn saturate(n: i128) -> i64 {
    n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Upstream's suffix scanner: letters from `eEinumkKMGTP`, then an optional
/// sign, then digits, then the end of the string.
fn suffix_has_valid_shape(suffix: &str) -> bool {
    let rest = suffix.trim_start_matches(|c: char| "eEinumkKMGTP".contains(c));
    let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    rest.bytes().all(|b| b.is_ascii_digit())
}

/// (is it binary, power of 2 or 10, format) for a suffix.
fn interpret_suffix(suffix: &str) -> Option<(bool, i32, Format)> {
    if suffix.is_empty() {
        return Some((false, 0, Format::DecimalSI));
    }
    if let Some((_, e)) = DECIMAL_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        return Some((false, *e, Format::DecimalSI));
    }
    if let Some(i) = BINARY_SUFFIXES.iter().skip(1).position(|s| *s == suffix) {
        return Some((true, 10 * (i as i32 + 1), Format::BinarySI));
    }
    let exponent = suffix.strip_prefix(['e', 'E'])?;
    if exponent.is_empty() {
        return None;
    }
    exponent
        .parse::<i32>()
        .ok()
        .map(|e| (false, e, Format::DecimalExponent))
}

/// Multiplies a big-endian decimal digit string in place.
fn multiply_digits(digits: &mut Vec<u8>, factor: u64) {
    let mut carry: u128 = 0;
    for d in digits.iter_mut().rev() {
        let product = u128::from(*d) * u128::from(factor) + carry;
        *d = (product % 10) as u8;
        carry = product / 10;
    }
    while carry > 0 {
        digits.insert(0, (carry % 10) as u8);
        carry /= 10;
    }
}

/// `digits × 10^shift` as a whole number, any non-zero remainder rounding
/// the magnitude up. `None` when it does not fit an `i128`.
fn digits_to_nanos(digits: &[u8], shift: i64) -> Option<i128> {
    let first_nonzero = digits.iter().position(|&d| d != 0);
    let Some(first_nonzero) = first_nonzero else {
        return Some(0);
    };
    let digits = &digits[first_nonzero..];
    let (whole, fraction): (&[u8], &[u8]) = if shift >= 0 {
        // i128 holds 38 full decimal digits.
        if digits.len() as i64 + shift > 39 {
            return None;
        }
        (digits, &[])
    } else {
        let drop = usize::try_from(-shift)
            .unwrap_or(usize::MAX)
            .min(digits.len());
        digits.split_at(digits.len() - drop)
    };
    let mut n: i128 = 0;
    for &d in whole {
        n = n.checked_mul(10)?.checked_add(i128::from(d))?;
    }
    if shift > 0 {
        n = n.checked_mul(10i128.checked_pow(shift as u32)?)?;
    }
    if fraction.iter().any(|&d| d != 0) {
        n = n.checked_add(1)?;
    }
    Some(n)
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Add for Quantity {
    type Output = Quantity;
    /// Sums the amounts (saturating); a zero left side takes the right side's format.
    fn add(self, rhs: Quantity) -> Quantity {
        let format = if self.nanos == 0 {
            rhs.format
        } else {
            self.format
        };
        Quantity {
            nanos: self.nanos.saturating_add(rhs.nanos),
            format,
        }
    }
}

impl Sub for Quantity {
    type Output = Quantity;
    fn sub(self, rhs: Quantity) -> Quantity {
        let format = if self.nanos == 0 {
            rhs.format
        } else {
            self.format
        };
        Quantity {
            nanos: self.nanos.saturating_sub(rhs.nanos),
            format,
        }
    }
}

impl AddAssign for Quantity {
    fn add_assign(&mut self, rhs: Quantity) {
        *self = *self + rhs;
    }
}

impl SubAssign for Quantity {
    fn sub_assign(&mut self, rhs: Quantity) {
        *self = *self - rhs;
    }
}

impl Neg for Quantity {
    type Output = Quantity;
    fn neg(self) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_neg(),
            format: self.format,
        }
    }
}

impl std::iter::Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::default(), Add::add)
    }
}

impl serde::Serialize for Quantity {
    /// As Kubernetes: always a string in canonical form.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical())
    }
}

impl<'de> serde::Deserialize<'de> for Quantity {
    /// Accepts what [`Quantity::from_json`] accepts.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(deserializer)?;
        Quantity::from_json(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn parses_and_reads_values() {
        let cases: &[(&str, i64, i64)] = &[
            // text, millis, value
            ("250m", 250, 1),
            ("1", 1000, 1),
            ("0.5", 500, 1),
            ("128Mi", 134_217_728_000, 134_217_728),
            ("1Gi", 1_073_741_824_000, 1_073_741_824),
            ("2G", 2_000_000_000_000, 2_000_000_000),
            ("1e3", 1_000_000, 1000),
            ("100k", 100_000_000, 100_000),
            ("1.5", 1500, 2),
            ("0.1m", 1, 1),
            ("1n", 1, 1),
            ("500u", 1, 1),
            ("-1", -1000, -1),
            ("-250m", -250, -1),
            ("+2", 2000, 2),
            (".5", 500, 1),
            ("5.", 5000, 5),
            ("0", 0, 0),
            ("000", 0, 0),
            ("0.0", 0, 0),
            (
                "1E",
                1_000_000_000_000_000_000i64.saturating_mul(1000),
                1_000_000_000_000_000_000,
            ),
            ("1E3", 1_000_000, 1000),
            ("1e-3", 1, 1),
            ("2.5Ki", 2_560_000, 2560),
        ];
        for (text, millis, value) in cases {
            let parsed = q(text);
            assert_eq!(parsed.millis(), *millis, "millis of {text}");
            assert_eq!(parsed.value(), *value, "value of {text}");
        }
    }

    #[test]
    fn canonical_forms() {
        let cases: &[(&str, &str)] = &[
            ("250m", "250m"),
            ("1", "1"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("1.2345", "1234500u"),
            ("2000", "2k"),
            ("1500", "1500"),
            ("100k", "100k"),
            ("1000k", "1M"),
            ("2G", "2G"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("129M", "129M"),
            ("12e6", "12e6"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("1e-3", "1e-3"),
            ("1.5e-3", "1500e-6"),
            ("123Mi", "123Mi"),
            ("128Mi", "128Mi"),
            ("1024Mi", "1Gi"),
            ("1000Mi", "1000Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("1.1Ki", "1126400m"),
            ("1025Ki", "1025Ki"),
            ("0.5Ei", "512Pi"),
            ("8Ei", "9223372036854775807"),
            ("0.9n", "1n"),
            ("0.0000000001", "1n"),
            ("-0.0000000001", "-1n"),
            ("-1Gi", "-1Gi"),
            ("-1.5", "-1500m"),
            ("0Gi", "0"),
            ("1000E", "1e21"),
            ("1e1", "10"),
            ("1e-300", "1e-9"),
        ];
        for (text, canonical) in cases {
            assert_eq!(q(text).to_string(), *canonical, "canonical form of {text}");
        }
        // Canonical text parses back to the same amount.
        for (text, canonical) in cases {
            assert_eq!(q(canonical), q(text), "{canonical} re-parsed");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(q("1Gi").format(), Format::BinarySI);
        assert_eq!(q("0.5Ki").format(), Format::BinarySI);
        assert_eq!(q("0.0005Ki").format(), Format::DecimalSI);
        assert_eq!(q("1e3").format(), Format::DecimalExponent);
        assert_eq!(q("1k").format(), Format::DecimalSI);
        assert_eq!(q("8Ei").value(), i64::MAX);
    }

    #[test]
    fn errors() {
        let format_wrong = QuantityError::FormatWrong;
        for bad in [
            "", "abc", "1x", "1 Gi", " 1", "1 ", "1e3.5", "1.5.5", "-", ".", "k", "1Mi-5x",
        ] {
            assert_eq!(Quantity::parse(bad), Err(format_wrong.clone()), "{bad:?}");
        }
        for bad in [
            "1K", "1ki", "1e", "1Gi5", "1mi", "1kk", "1e+", "1E-", "1Mi-", "1-",
        ] {
            assert_eq!(Quantity::parse(bad), Err(QuantityError::Suffix), "{bad:?}");
        }
        assert_eq!(
            format_wrong.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
        assert_eq!(
            QuantityError::Suffix.to_string(),
            "unable to parse quantity's suffix"
        );
        assert!(matches!(
            Quantity::parse("1e1000"),
            Err(QuantityError::TooLarge(_))
        ));
        assert!(matches!(
            Quantity::parse(&"9".repeat(40)),
            Err(QuantityError::TooLarge(_))
        ));
        assert!(Quantity::parse(&"9".repeat(29)).is_ok());
        assert_eq!(q(&format!("0.{}1", "0".repeat(60))).nanos(), 1);
    }

    #[test]
    fn json_values() {
        assert_eq!(Quantity::from_json(&json!("1Gi")).unwrap(), q("1Gi"));
        assert_eq!(Quantity::from_json(&json!(" 2 ")).unwrap(), q("2"));
        assert_eq!(Quantity::from_json(&json!(1)).unwrap(), q("1"));
        assert_eq!(Quantity::from_json(&json!(0.5)).unwrap().millis(), 500);
        assert_eq!(Quantity::from_json(&json!(1e3)).unwrap().value(), 1000);
        assert_eq!(Quantity::from_json(&json!(-2)).unwrap().value(), -2);
        assert!(Quantity::from_json(&Value::Null).unwrap().is_zero());
        assert_eq!(
            Quantity::from_json(&json!(true)).unwrap_err().to_string(),
            "a quantity must be a string or a number, not true"
        );
        assert!(Quantity::from_json(&json!("1 Gi")).is_err());

        let round: Quantity = serde_json::from_value(json!("1.5Gi")).unwrap();
        assert_eq!(serde_json::to_value(round).unwrap(), json!("1536Mi"));
        let number: Quantity = serde_json::from_value(json!(2)).unwrap();
        assert_eq!(serde_json::to_value(number).unwrap(), json!("2"));
        assert!(serde_json::from_value::<Quantity>(json!("bogus")).is_err());
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(format_cpu_millis(250), "250m");
        assert_eq!(format_cpu_millis(2000), "2");
        assert_eq!(format_cpu_millis(1500), "1500m");
        assert_eq!(format_cpu_millis(0), "0");
        assert_eq!(format_cpu_millis(100), "100m");
        assert_eq!(format_bytes(134_217_728), "128Mi");
        assert_eq!(format_bytes(1024), "1Ki");
        assert_eq!(format_bytes(1 << 30), "1Gi");
        assert_eq!(format_bytes(3 << 29), "1536Mi");
        assert_eq!(format_bytes(1536), "1536");
        assert_eq!(format_bytes(1000), "1000");
        assert_eq!(format_bytes(0), "0");
        assert_eq!(format_bytes(1 << 62), "4Ei");
        assert_eq!(format_bytes(-2048), "-2Ki");
    }

    #[test]
    fn comparison_and_arithmetic() {
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("1Ki"), q("1024"));
        assert!(q("1Gi") > q("1G"));
        assert!(q("250m") < q("0.3"));
        assert_eq!((q("1Gi") + q("512Mi")).to_string(), "1536Mi");
        assert_eq!((q("1") - q("250m")).to_string(), "750m");
        assert_eq!((Quantity::default() + q("1Gi")).to_string(), "1Gi");
        assert_eq!((-q("2")).to_string(), "-2");
        let total: Quantity = ["100m", "250m", "1"].iter().map(|s| q(s)).sum();
        assert_eq!(total.millis(), 1350);
        let mut acc = q("1Mi");
        acc += q("1Mi");
        acc -= q("512Ki");
        assert_eq!(acc.to_string(), "1536Ki");
        assert_eq!(Quantity::from_value(3, Format::BinarySI).to_string(), "3");
        assert_eq!(
            Quantity::from_value(2048, Format::BinarySI).to_string(),
            "2Ki"
        );
        assert_eq!(Quantity::from_millis(1500).value(), 2);
        assert!((q("1.5").as_f64() - 1.5).abs() < 1e-12);
        assert_eq!("2Gi".parse::<Quantity>().unwrap().value(), 2 << 30);
    }
}
