//! Line plots of one figure against another, as PNG: the summary plots of `ppml report
//! --plots`. Each series is a line through its points with a marker at each, and, when a point
//! is a mean over seeds, a bar of ± one standard deviation; a value without DP (ε = ∞, which
//! has no place on an ε axis) is a dashed horizontal line in its series' colour. A logarithmic
//! axis is drawn as the logarithm on a linear axis, labelled back in the data's own units.

use std::path::Path;

use plotters::prelude::*;

use super::ReportError;
use super::plot::{COLORS, render};

/// How an axis maps the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// As is.
    Linear,
    /// Base-2 logarithm (bins per sample: 1, 4, 16, 64).
    Log2,
    /// Base-10 logarithm.
    Log10,
}

impl Scale {
    fn to_axis(self, v: f64) -> f64 {
        match self {
            Scale::Linear => v,
            Scale::Log2 => v.log2(),
            Scale::Log10 => v.log10(),
        }
    }

    fn to_data(self, a: f64) -> f64 {
        match self {
            Scale::Linear => a,
            Scale::Log2 => a.exp2(),
            Scale::Log10 => 10f64.powf(a),
        }
    }
}

/// One curve.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y, standard deviation of y)`, x increasing.
    pub points: Vec<(f64, f64, f64)>,
    /// A horizontal line at this y (the value without DP).
    pub level: Option<f64>,
    /// Drawn dashed and without markers: a theoretical curve or a bound.
    pub theory: bool,
    /// Colour index (series that belong together share one).
    pub color: usize,
}

/// A plot.
#[derive(Debug, Clone)]
pub struct XyPlot {
    /// Title above the plot.
    pub title: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// Horizontal scale.
    pub x_scale: Scale,
    /// Vertical range; from the data when `None`.
    pub y_range: Option<(f64, f64)>,
    /// The curves.
    pub series: Vec<Series>,
}

/// Width of a panel's plotting part, in pixels.
const PLOT_W: u32 = 620;
/// Width of the legend to its right: never over the data.
const LEGEND_W: u32 = 300;

/// Draws `plots` side by side into one PNG at `path`. On failure no file is left behind.
pub fn xy_png(path: &Path, plots: &[XyPlot]) -> Result<(), ReportError> {
    render(path, |file| {
        let width = (PLOT_W + LEGEND_W) * plots.len().max(1) as u32;
        let root = BitMapBackend::new(file, (width, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let panels = root.split_evenly((1, plots.len().max(1)));
        for (plot, panel) in plots.iter().zip(&panels) {
            draw(panel, plot)?;
        }
        root.present()?;
        Ok(())
    })
}

/// The smallest and largest finite values, widened a little (and to a span when equal).
fn span(values: impl Iterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if lo > hi {
        return None;
    }
    let width = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    Some((lo - pad * width, hi + pad * width))
}

fn draw(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    plot: &XyPlot,
) -> Result<(), Box<dyn std::error::Error>> {
    let scale = plot.x_scale;
    let xs = || {
        plot.series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| scale.to_axis(p.0)))
    };
    let (x_lo, x_hi) = span(xs(), 0.06).unwrap_or((0.0, 1.0));
    let levels = plot.series.iter().any(|s| s.level.is_some());
    let (y_lo, y_hi) = plot.y_range.unwrap_or_else(|| {
        let ys = || {
            plot.series.iter().flat_map(|s| {
                s.points
                    .iter()
                    .flat_map(|p| [p.1 - p.2, p.1 + p.2])
                    .chain(s.level)
            })
        };
        let (lo, hi) = span(ys(), 0.08).unwrap_or((0.0, 1.0));
        // Rates, accuracies and fractions do not go below 0: neither does their axis.
        // and one near 0 starts there.
        let lo = if ys().all(|y| y >= 0.0) {
            if lo < 0.5 * hi { 0.0 } else { lo }
        } else {
            lo
        };
        (lo, hi)
    });
    let width = area.dim_in_pixel().0;
    let (area, legend_area) = area.split_horizontally(width.saturating_sub(LEGEND_W));
    let mut chart = ChartBuilder::on(&area)
        .caption(&plot.title, ("sans-serif", 18))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
    // A logarithmic axis is labelled at whole powers only (1, 2, 4, … or 1, 10, 100).
    let x_format = |a: &f64| {
        if scale != Scale::Linear && (a - a.round()).abs() > 1e-6 {
            return String::new();
        }
        let a = if scale == Scale::Linear {
            *a
        } else {
            a.round()
        };
        let v = scale.to_data(a);
        let text = format!("{v:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let x_labels = match scale {
        Scale::Linear => 10,
        _ => ((x_hi - x_lo).ceil() as usize + 1).max(2),
    };
    chart
        .configure_mesh()
        .x_labels(x_labels)
        .x_desc(&plot.x_label)
        .y_desc(&plot.y_label)
        .x_label_formatter(&x_format)
        .label_style(("sans-serif", 14))
        .draw()?;
    for s in &plot.series {
        let color = COLORS[s.color % COLORS.len()];
        let style = color.stroke_width(2);
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|&(x, y, _)| (scale.to_axis(x), y))
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        if s.theory {
            chart.draw_series(DashedLineSeries::new(points, 5, 4, style))?;
            continue;
        }
        if !points.is_empty() {
            chart.draw_series(LineSeries::new(points.clone(), style))?;
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
            // ± one standard deviation: a vertical bar with caps 2% of the axis wide.
            let cap = 0.01 * (x_hi - x_lo);
            for &(x, y, sd) in s.points.iter().filter(|p| p.2 > 0.0) {
                let x = scale.to_axis(x);
                let bar = [
                    vec![(x, y - sd), (x, y + sd)],
                    vec![(x - cap, y - sd), (x + cap, y - sd)],
                    vec![(x - cap, y + sd), (x + cap, y + sd)],
                ];
                chart.draw_series(bar.into_iter().map(|p| PathElement::new(p, style)))?;
            }
        }
        if let Some(level) = s.level {
            let line = DashedLineSeries::new([(x_lo, level), (x_hi, level)], 8, 5, style);
            chart.draw_series(line)?;
        }
    }
    let mut entries: Vec<(String, RGBColor, bool)> = plot
        .series
        .iter()
        .filter(|s| !s.name.is_empty())
        .map(|s| (s.name.clone(), COLORS[s.color % COLORS.len()], s.theory))
        .collect();
    if levels {
        // One entry explains every dashed level, each drawn in its series' colour.
        entries.push((
            "the same without DP (ε = ∞)".into(),
            RGBColor(110, 110, 110),
            true,
        ));
    }
    draw_legend(&legend_area, &entries)?;
    Ok(())
}

/// The legend, in its own area right of the plot: a sample of each line and its name.
fn draw_legend(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    entries: &[(String, RGBColor, bool)],
) -> Result<(), Box<dyn std::error::Error>> {
    let (x, top, step) = (6, 52, 22);
    for (i, (name, color, dashed)) in entries.iter().enumerate() {
        let y = top + step * i as i32;
        let style = color.stroke_width(2);
        if *dashed {
            for k in 0..3 {
                let x0 = x + 9 * k;
                area.draw(&PathElement::new([(x0, y), (x0 + 5, y)], style))?;
            }
        } else {
            area.draw(&PathElement::new([(x, y), (x + 24, y)], style))?;
            area.draw(&Circle::new((x + 12, y), 4, color.filled()))?;
        }
        area.draw(&Text::new(
            name.clone(),
            (x + 32, y - 8),
            ("sans-serif", 13).into_font().color(&BLACK),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_is_written_as_a_png_and_a_log_axis_maps_back() {
        for scale in [Scale::Log2, Scale::Log10] {
            assert!((scale.to_data(scale.to_axis(64.0)) - 64.0).abs() < 1e-9);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        let plot = XyPlot {
            title: "t".into(),
            x_label: "ε".into(),
            y_label: "accuracy".into(),
            x_scale: Scale::Linear,
            y_range: None,
            series: vec![Series {
                name: "CNN".into(),
                points: vec![(1.5, 0.85, 0.01), (3.0, 0.867, 0.0)],
                level: Some(0.894),
                ..Series::default()
            }],
        };
        xy_png(&path, &[plot.clone(), plot]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert_eq!(span([2.0, 2.0].into_iter(), 0.1), Some((1.8, 2.2)));
    }
}
