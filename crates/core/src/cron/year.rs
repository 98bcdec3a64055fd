//! The Quartz year field (7th field), which croner does not support.

/// Smallest year the field accepts (as Quartz).
pub(super) const MIN_YEAR: i32 = 1970;
/// Largest year the field accepts (as Quartz).
pub(super) const MAX_YEAR: i32 = 2099;

/// Allowed years, sorted; `None` when every year is allowed (`*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Years(Option<Vec<i32>>);

impl Years {
    /// Every year.
    pub(super) fn any() -> Self {
        Years(None)
    }

    /// Parses `*`, `2027`, `2027-2029`, `2027-2029/2`, `*/2`, `2027/2` and
    /// comma lists of these.
    pub(super) fn parse(field: &str) -> Result<Self, String> {
        let field = field.trim();
        if field == "*" {
            return Ok(Years(None));
        }
        let mut years = Vec::new();
        for part in field.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("empty item in `{field}`"));
            }
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => {
                    let step: i32 = s
                        .parse()
                        .map_err(|_| format!("step `{s}` is not a number"))?;
                    if step < 1 {
                        return Err(format!("step `{s}` must be at least 1"));
                    }
                    (r, Some(step))
                }
                None => (part, None),
            };
            let (start, end) = if range == "*" {
                (MIN_YEAR, MAX_YEAR)
            } else if let Some((a, b)) = range.split_once('-') {
                (year(a)?, year(b)?)
            } else {
                let y = year(range)?;
                // `2027/2` means from 2027 on, every 2 years.
                (y, if step.is_some() { MAX_YEAR } else { y })
            };
            if start > end {
                return Err(format!("range `{range}` ends before it starts"));
            }
            let step = step.unwrap_or(1) as usize;
            years.extend((start..=end).step_by(step));
        }
        years.sort_unstable();
        years.dedup();
        Ok(Years(Some(years)))
    }

    /// Whether `y` is allowed.
    pub(super) fn contains(&self, y: i32) -> bool {
        self.0.as_ref().is_none_or(|v| v.binary_search(&y).is_ok())
    }

    /// The first allowed year `>= y`, if any.
    pub(super) fn first_from(&self, y: i32) -> Option<i32> {
        match &self.0 {
            None => Some(y),
            Some(v) => v.iter().copied().find(|&a| a >= y),
        }
    }

    /// The last allowed year, when the field restricts years.
    pub(super) fn last(&self) -> Option<i32> {
        self.0.as_ref().and_then(|v| v.last().copied())
    }
}

fn year(s: &str) -> Result<i32, String> {
    let y: i32 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a year"))?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&y) {
        return Err(format!("year {y} is outside {MIN_YEAR}-{MAX_YEAR}"));
    }
    Ok(y)
}
