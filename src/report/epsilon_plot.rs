//! The audit plot: empirical ε (lower bounds) against the claimed ε, with the diagonal where an
//! audit would be tight. Points above the diagonal are contradictions: a bug, or a positive
//! control doing its job.

use std::path::Path;

use plotters::prelude::*;

use super::ReportError;
use super::plot::{COLORS, render};

/// One analysis's points `(claimed ε, empirical ε)`.
pub struct EpsilonSeries<'a> {
    /// Legend entry.
    pub name: &'a str,
    /// Points, claimed ε increasing.
    pub points: &'a [(f64, f64)],
    /// Drawn dashed and thinner: a secondary figure.
    pub dashed: bool,
}

/// Draws `series` to `path`, a `.png`, with both axes from 0 to a little above the largest
/// value. On failure no file is left behind.
pub fn epsilon_png(
    path: &Path,
    title: &str,
    series: &[EpsilonSeries<'_>],
) -> Result<(), ReportError> {
    render(path, |file| draw(file, title, series))
}

fn draw(
    file: &Path,
    title: &str,
    series: &[EpsilonSeries<'_>],
) -> Result<(), Box<dyn std::error::Error>> {
    let top = series
        .iter()
        .flat_map(|s| s.points.iter())
        .flat_map(|&(x, y)| [x, y])
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max)
        * 1.08;
    let root = BitMapBackend::new(file, (720, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..top, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("claimed ε (accountant)")
        .y_desc("empirical ε (lower bound)")
        .label_style(("sans-serif", 14))
        .draw()?;
    let grey = RGBColor(150, 150, 150);
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, 0.0), (top, top)],
            6,
            4,
            grey.stroke_width(2),
        ))?
        .label("tight audit (empirical = claimed)")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey.stroke_width(2)));
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let (width, radius) = if s.dashed { (1, 3) } else { (2, 5) };
        let style = color.stroke_width(width);
        let drawn = if s.dashed {
            chart.draw_series(DashedLineSeries::new(points.clone(), 5, 4, style))?
        } else {
            chart.draw_series(LineSeries::new(points.clone(), style))?
        };
        drawn
            .label(s.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
        chart.draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, radius, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(legend_corner(series))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Where the legend hides no point: the upper left (above the diagonal) is empty unless an
/// audit proved more than was claimed, and then the lower right is.
fn legend_corner(series: &[EpsilonSeries<'_>]) -> SeriesLabelPosition {
    let above = series
        .iter()
        .flat_map(|s| s.points.iter())
        .any(|&(claimed, empirical)| empirical > claimed);
    if above {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperLeft
    }
}
