//! Server-rendered charts: plain SVG in the page (no script, readable by screen readers via
//! its title and a table the page shows beside it).

use super::formats::Formats;

/// One bar: its label and value (`None`: nothing known for it, drawn as a gap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: Option<u64>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A round upper bound for the axis: 1, 2 or 5 times a power of ten.
fn nice_ceiling(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= max.max(1) {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// A bar chart as an `<svg>` element.
pub fn bars(title: &str, bars: &[Bar], f: &Formats) -> String {
    let grouped = |v: u64| f.number(i64::try_from(v).unwrap_or(i64::MAX));
    let (width, height, left, bottom, top) = (640.0, 220.0, 56.0, 28.0, 12.0);
    let max = nice_ceiling(
        bars.iter()
            .filter_map(|b| b.value)
            .max()
            .unwrap_or(0)
            .max(4),
    );
    let plot_h = height - bottom - top;
    let slot = (width - left - 8.0) / bars.len().max(1) as f64;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{t}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>",
        t = escape(title)
    );
    for i in 0..=4 {
        let v = max.saturating_mul(i) / 4;
        let y = top + plot_h - plot_h * (v as f64 / max as f64);
        svg.push_str(&format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"grid\"/>\
             <text x=\"{}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{}</text>",
            width - 8.0,
            left - 6.0,
            y + 4.0,
            grouped(v)
        ));
    }
    for (i, b) in bars.iter().enumerate() {
        let x = left + slot * i as f64 + slot * 0.15;
        let w = slot * 0.7;
        match b.value {
            Some(v) => {
                let h = plot_h * (v as f64 / max as f64);
                svg.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" class=\"bar\">\
                     <title>{}: {}</title></rect>",
                    top + plot_h - h,
                    escape(&b.label),
                    grouped(v)
                ));
            }
            None => svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"2\" class=\"gap\">\
                 <title>{}: no reading</title></rect>",
                top + plot_h - 2.0,
                escape(&b.label)
            )),
        }
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"middle\">{}</text>",
            x + w / 2.0,
            height - 8.0,
            escape(&b.label)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// One series of a stacked chart: a device and its value per month (`None`: unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<u64>>,
}

/// Series stacked in one bar per label, each series in its own colour (`s0`…`s7`, repeating),
/// every segment titled with its series, label and value.
pub fn stacked(title: &str, labels: &[String], series: &[Series], f: &Formats) -> String {
    let grouped = |v: u64| f.number(i64::try_from(v).unwrap_or(i64::MAX));
    let (width, height, left, bottom, top) = (640.0, 220.0, 56.0, 28.0, 12.0);
    let totals: Vec<u64> = (0..labels.len())
        .map(|i| {
            series
                .iter()
                .filter_map(|s| s.values.get(i).copied().flatten())
                .sum()
        })
        .collect();
    let max = nice_ceiling(totals.iter().copied().max().unwrap_or(0).max(4));
    let plot_h = height - bottom - top;
    let slot = (width - left - 8.0) / labels.len().max(1) as f64;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{t}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>",
        t = escape(title)
    );
    for i in 0..=4 {
        let v = max.saturating_mul(i) / 4;
        let y = top + plot_h - plot_h * (v as f64 / max as f64);
        svg.push_str(&format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"grid\"/>\
             <text x=\"{}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{}</text>",
            width - 8.0,
            left - 6.0,
            y + 4.0,
            grouped(v)
        ));
    }
    for (i, label) in labels.iter().enumerate() {
        let x = left + slot * i as f64 + slot * 0.15;
        let w = slot * 0.7;
        let mut base = top + plot_h;
        for (n, s) in series.iter().enumerate() {
            let Some(v) = s.values.get(i).copied().flatten().filter(|v| *v > 0) else {
                continue;
            };
            let h = plot_h * (v as f64 / max as f64);
            base -= h;
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{base:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" class=\"s{}\">\
                 <title>{} {}: {}</title></rect>",
                n % 8,
                escape(&s.name),
                escape(label),
                grouped(v)
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"middle\">{}</text>",
            x + w / 2.0,
            height - 8.0,
            escape(label)
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round_and_labels_escaped() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(1_999), 2_000);
        assert_eq!(nice_ceiling(4_001), 5_000);
        let svg = bars(
            "Pages <per> month",
            &[
                Bar {
                    label: "Jan".into(),
                    value: Some(1_234),
                },
                Bar {
                    label: "<Feb>".into(),
                    value: None,
                },
            ],
            &Formats::from_codes("UTC", "iso", "fr"),
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;per&gt;") && svg.contains("&lt;Feb&gt;: no reading"));
        assert!(!svg.contains("<Feb>"));
        assert!(svg.contains("Jan: 1\u{202f}234"));
    }

    #[test]
    fn series_stack_in_one_bar_per_month() {
        let svg = stacked(
            "Pages per month",
            &["Jan".into(), "Feb".into()],
            &[
                Series {
                    name: "Front <desk>".into(),
                    values: vec![Some(1_000), None],
                },
                Series {
                    name: "Back office".into(),
                    values: vec![Some(3_000), Some(500)],
                },
            ],
            &Formats::default(),
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Front &lt;desk&gt; Jan: 1,000"));
        assert!(svg.contains("Back office Jan: 3,000") && svg.contains("class=\"s1\""));
        assert!(
            !svg.contains("Front &lt;desk&gt; Feb"),
            "an unknown month draws nothing"
        );
        // the axis reaches the tallest stack (4,000), not the tallest segment
        assert!(svg.contains(">5,000</text>") || svg.contains(">4,000</text>"));
    }
}
