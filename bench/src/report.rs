//! Figures: printed as `name: value unit` when measured, and again as a table at the end, with
//! the aims checked where one applies.

/// A target a figure should meet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Aim {
    AtLeast(f64),
    Below(f64),
}

impl Aim {
    fn met(self, value: f64) -> bool {
        match self {
            Aim::AtLeast(t) => value >= t,
            Aim::Below(t) => value < t,
        }
    }

    fn describe(self) -> String {
        match self {
            Aim::AtLeast(t) => format!(">= {}", format_value(t)),
            Aim::Below(t) => format!("< {}", format_value(t)),
        }
    }
}

struct Figure {
    name: String,
    value: f64,
    unit: &'static str,
    aim: Option<Aim>,
}

/// Every figure measured so far, in order.
#[derive(Default)]
pub struct Report {
    figures: Vec<Figure>,
}

/// A number with as many decimals as its size warrants.
pub fn format_value(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

impl Report {
    /// Records and prints one figure.
    pub fn add(&mut self, name: impl Into<String>, value: f64, unit: &'static str) {
        self.push(name.into(), value, unit, None);
    }

    /// Records and prints one figure that has an aim.
    pub fn add_with_aim(
        &mut self,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
        aim: Aim,
    ) {
        self.push(name.into(), value, unit, Some(aim));
    }

    fn push(&mut self, name: String, value: f64, unit: &'static str, aim: Option<Aim>) {
        println!("{name}: {} {unit}", format_value(value));
        self.figures.push(Figure {
            name,
            value,
            unit,
            aim,
        });
    }

    /// The summary table.
    pub fn table(&self) -> String {
        let width = self
            .figures
            .iter()
            .map(|f| f.name.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let mut out = format!(
            "{:<width$}  {:>12}  {:<10}  aim\n",
            "figure", "value", "unit"
        );
        for f in &self.figures {
            let aim = match f.aim {
                Some(aim) if aim.met(f.value) => format!("{} (met)", aim.describe()),
                Some(aim) => format!("{} (MISSED)", aim.describe()),
                None => String::new(),
            };
            out += &format!(
                "{:<width$}  {:>12}  {:<10}  {aim}\n",
                f.name,
                format_value(f.value),
                f.unit
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_get_fewer_decimals_as_they_grow() {
        assert_eq!(format_value(0.12345), "0.123");
        assert_eq!(format_value(4.56789), "4.57");
        assert_eq!(format_value(123.456), "123.5");
        assert_eq!(format_value(3456.7), "3457");
        assert_eq!(format_value(42.0), "42");
    }

    #[test]
    fn the_table_marks_a_missed_aim() {
        let mut r = Report::default();
        r.add_with_aim("watch_p99", 12.0, "ms", Aim::Below(10.0));
        assert!(r.table().contains("< 10 (MISSED)"), "{}", r.table());
    }

    #[test]
    fn the_table_marks_a_met_aim() {
        let mut r = Report::default();
        r.add_with_aim("creates", 3500.0, "creates/s", Aim::AtLeast(3000.0));
        assert!(r.table().contains(">= 3000 (met)"), "{}", r.table());
    }
}
