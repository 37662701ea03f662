//! Which HTTP statuses count as healthy: `-c`/`codes` items `200`, `2xx` and `200-399`,
//! mixed and repeated (superlance took one number per `-c`; that form still works).

use std::fmt;
use std::ops::RangeInclusive;

/// The healthy statuses; superlance's default is 200 alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCodes(Vec<RangeInclusive<u16>>);

impl Default for StatusCodes {
    fn default() -> StatusCodes {
        StatusCodes(vec![200..=200])
    }
}

impl StatusCodes {
    /// Reads items as written (`200`, `2xx`, `200-399`; a comma separates several in
    /// one item). No item at all is the default, 200.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<StatusCodes, String> {
        let mut ranges = Vec::new();
        for item in items {
            for part in item.as_ref().split(',') {
                ranges.push(range(part.trim())?);
            }
        }
        if ranges.is_empty() {
            return Ok(StatusCodes::default());
        }
        Ok(StatusCodes(ranges))
    }

    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|r| r.contains(&status))
    }
}

/// One item: a status, a class (`2xx`) or an inclusive range (`200-399`).
fn range(item: &str) -> Result<RangeInclusive<u16>, String> {
    let bad = || {
        format!(
            "{item:?} is not an HTTP status, class or range: use e.g. 200, 2xx or 200-399 \
             (statuses are 100 to 599)"
        )
    };
    let lower = item.to_ascii_lowercase();
    if let Some(class) = lower.strip_suffix("xx") {
        let digit: u16 = class.parse().map_err(|_| bad())?;
        if class.len() != 1 || !(1..=5).contains(&digit) {
            return Err(bad());
        }
        return Ok(digit * 100..=digit * 100 + 99);
    }
    let status = |s: &str| {
        s.parse::<u16>()
            .ok()
            .filter(|c| s.len() == 3 && (100..=599).contains(c))
            .ok_or_else(bad)
    };
    match lower.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (status(from)?, status(to)?);
            if from > to {
                return Err(format!(
                    "{item:?} is an empty range: write the lower status first, e.g. 200-399"
                ));
            }
            Ok(from..=to)
        }
        None => status(&lower).map(|c| c..=c),
    }
}

/// As they would be written: `200,2xx,300-399`.
impl fmt::Display for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let (from, to) = (*r.start(), *r.end());
            if from == to {
                write!(f, "{from}")?;
            } else if from % 100 == 0 && to == from + 99 {
                write!(f, "{}xx", from / 100)?;
            } else {
                write!(f, "{from}-{to}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classes_and_ranges_mix() {
        let codes = StatusCodes::parse(&["200", "3XX", "401-403,418"]).expect("parses");
        for yes in [200, 300, 302, 399, 401, 402, 403, 418] {
            assert!(codes.contains(yes), "{yes}");
        }
        for no in [199, 201, 204, 400, 404, 500] {
            assert!(!codes.contains(no), "{no}");
        }
        assert_eq!(codes.to_string(), "200,3xx,401-403,418");
    }

    #[test]
    fn no_item_is_200_alone() {
        let codes = StatusCodes::parse::<&str>(&[]).expect("parses");
        assert_eq!(codes, StatusCodes::default());
        assert!(codes.contains(200) && !codes.contains(204));
        assert!(StatusCodes::parse(&["2xx"]).expect("2xx").contains(204));
    }

    #[test]
    fn bad_items_are_refused_with_an_example() {
        for bad in [
            "", "7xx", "0xx", "20x", "2", "2000", "099", "600", "abc", "200-", "-200", "200-600",
            "1xx-2xx",
        ] {
            let e = StatusCodes::parse(&[bad]).expect_err(bad);
            assert!(e.contains("e.g. 200, 2xx or 200-399"), "{bad}: {e}");
        }
        let e = StatusCodes::parse(&["399-200"]).expect_err("reversed");
        assert!(e.contains("empty range"), "{e}");
    }
}
