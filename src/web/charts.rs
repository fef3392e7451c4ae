//! Charts for the dashboard, drawn as SVG on the server with plotters: no script, readable in
//! any browser, each beside the table of its numbers. Axes start at zero and each bar carries
//! its number.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::figures::Week;

/// Colours for on time, late and not yet (distinct also for red-green colour blindness, and
/// each labelled in the legend and the table).
const ON_TIME: RGBColor = RGBColor(0x1d, 0x4e, 0xd8);
const LATE: RGBColor = RGBColor(0xd9, 0x77, 0x06);
const NOT_YET: RGBColor = RGBColor(0xa1, 0xa1, 0xaa);

/// A stacked bar per week: learners who submitted on time, late, and not yet, each part with
/// its number in it.
pub fn submissions(weeks: &[Week]) -> String {
    let mut svg = String::new();
    let learners = weeks.iter().map(|w| w.on_time + w.late + w.not_yet).max().unwrap_or(0).max(1) as f64;
    let n = (weeks.len() as u32).max(1);
    let width = (140 + 110 * n).clamp(420, 1200);
    {
        let root = SVGBackend::with_string(&mut svg, (width, 340)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d((0u32..n - 1).into_segmented(), 0f64..learners * 1.05);
        let Ok(mut chart) = chart else { return svg_fallback() };
        let labels: Vec<String> = weeks.iter().map(|w| format!("Week {}", w.week)).collect();
        let _ = chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(n as usize)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_formatter(&|v| if v.fract() == 0.0 { format!("{v:.0}") } else { String::new() })
            .y_desc("learners")
            .draw();
        for (i, w) in weeks.iter().enumerate() {
            let i = i as u32;
            let mut base = 0.0;
            for (count, colour, ink) in
                [(w.on_time, ON_TIME, WHITE), (w.late, LATE, BLACK), (w.not_yet, NOT_YET, BLACK)]
            {
                if count == 0 {
                    continue;
                }
                let top = base + count as f64;
                let mut bar = Rectangle::new(
                    [(SegmentValue::Exact(i), base), (SegmentValue::Exact(i + 1), top)],
                    colour.filled(),
                );
                bar.set_margin(0, 0, 14, 14);
                let _ = chart.draw_series(std::iter::once(bar));
                let style = ("sans-serif", 13).into_font().color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
                let label = Text::new(count.to_string(), (SegmentValue::CenterOf(i), (base + top) / 2.0), style);
                let _ = chart.draw_series(std::iter::once(label));
                base = top;
            }
        }
        let _ = root.present();
    }
    svg
}

fn svg_fallback() -> String {
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"></svg>".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_week_has_its_bars_and_their_numbers() {
        let week = |n, on_time, late, not_yet| Week {
            week: n,
            title: String::new(),
            on_time,
            late,
            not_yet,
            assigned: 0,
            done: 0,
            median_review: None,
            escalated: 0,
        };
        let svg = submissions(&[week(1, 7, 2, 1), week(2, 5, 0, 5)]);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("Week 1") && svg.contains("Week 2"), "{svg}");
        let numbers: Vec<&str> = svg.split("</text>").filter_map(|t| t.rsplit('>').next()).map(str::trim).collect();
        for n in ["7", "2", "1", "5"] {
            assert!(numbers.contains(&n), "{n} beside its bar: {svg}");
        }
        assert_eq!(svg.matches("fill=\"#1D4ED8\"").count(), 2, "an on-time bar per week");
        let one = submissions(&[week(1, 0, 1, 2)]);
        assert!(one.contains("Week 1") && one.contains("fill=\"#D97706\""), "one week: {one}");
    }
}
