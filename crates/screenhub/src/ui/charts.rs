//! Small charts drawn by the server as inline SVG: no script, no assets.
//! Pure functions of their data.

use std::fmt::Write;

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 12.0;

/// One column of a chart: its label and one or two values (drawn behind
/// each other, the first one wider and lighter).
pub struct Column {
    pub label: String,
    pub values: Vec<f64>,
}

/// The value at percentile `p` (0–100) of sorted `values`, nearest-rank.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A round number at or above `max`, so the axis reads well.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * magnitude)
}

/// A bar chart; `unit` follows each value in tooltips and on the axis.
pub fn bars(title: &str, columns: &[Column], unit: &str) -> String {
    let max = columns
        .iter()
        .flat_map(|c| c.values.iter().copied())
        .fold(0.0, f64::max);
    let top = nice_ceiling(max);
    let plot_h = HEIGHT - BOTTOM - TOP;
    let slot = (WIDTH - LEFT) / columns.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="system-ui,sans-serif">"#
    );
    for i in 0..=2 {
        let v = top * f64::from(i) / 2.0;
        let y = TOP + plot_h - plot_h * f64::from(i) / 2.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{WIDTH}" y1="{y:.1}" y2="{y:.1}" stroke="#e3e6ea"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#5b6470">{}{unit}</text>"##,
            LEFT - 6.0,
            y + 4.0,
            short(v)
        );
    }
    for (i, column) in columns.iter().enumerate() {
        let x = LEFT + slot * i as f64;
        for (k, value) in column.values.iter().enumerate() {
            let h = plot_h * value / top;
            let (inset, fill) = if k == 0 && column.values.len() > 1 {
                (0.15, "#b4c3f5")
            } else if column.values.len() > 1 {
                (0.32, "#3b5bdb")
            } else {
                (0.18, "#3b5bdb")
            };
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" rx="2" fill="{fill}"><title>{}: {}{unit}</title></rect>"#,
                x + slot * inset,
                TOP + plot_h - h,
                slot * (1.0 - 2.0 * inset),
                column.label,
                short(*value)
            );
        }
        if i % 2 == columns.len() % 2 {
            continue;
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#5b6470">{}</text>"##,
            x + slot / 2.0,
            HEIGHT - 6.0,
            column.label
        );
    }
    svg.push_str("</svg>");
    svg
}

fn short(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(95));
        assert_eq!(percentile(&[7], 95.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn bars_scale_to_a_round_maximum() {
        let columns = vec![
            Column {
                label: "a".into(),
                values: vec![3.0],
            },
            Column {
                label: "b".into(),
                values: vec![7.0],
            },
        ];
        let svg = bars("orders", &columns, "");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(">10</text>"), "axis tops out at 10: {svg}");
        assert!(svg.contains("<title>b: 7</title>"));
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(130.0), 200.0);
    }
}
