//! ROC plots of membership attacks as PNG, log-scale on both axes: the low-FPR corner, where an
//! attack is useful (Carlini et al. 2022), takes most of the picture.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::ReportError;

/// DejaVu Sans, embedded so plots render the same on every machine without system fonts
/// (licence: `assets/DejaVuSans.LICENSE`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Curve colours, distinct for readers with the common colour-vision deficiencies (Okabe & Ito).
pub(super) const COLORS: [RGBColor; 7] = [
    RGBColor(213, 94, 0),
    RGBColor(0, 114, 178),
    RGBColor(0, 158, 115),
    RGBColor(230, 159, 0),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// A named curve of `(fpr, tpr)` points.
pub struct Curve<'a> {
    /// Legend entry.
    pub name: &'a str,
    /// Points, FPR increasing.
    pub points: &'a [(f64, f64)],
}

/// Registers the embedded font as "sans-serif", once per process (ROC plots and image grids).
pub(super) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans is a valid font"));
    });
}

/// Draws `curves` (and, dashed in black, the DP ceiling when given) to `path`, a `.png`. On
/// failure no file is left behind.
pub fn roc_png(
    path: &Path,
    title: &str,
    curves: &[Curve<'_>],
    ceiling: Option<&[(f64, f64)]>,
    min_fpr: f64,
) -> Result<(), ReportError> {
    let lo = min_fpr.clamp(1e-6, 0.1);
    render(path, |file| draw(file, title, curves, ceiling, lo))
}

/// Runs `draw` on `path` with the embedded font registered; on failure removes whatever it
/// left behind and reports the path.
pub(super) fn render(
    path: &Path,
    draw: impl FnOnce(&Path) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<(), ReportError> {
    register_font();
    draw(path).map_err(|e| {
        let _ = std::fs::remove_file(path);
        ReportError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        }
    })
}

fn draw(
    file: &Path,
    title: &str,
    curves: &[Curve<'_>],
    ceiling: Option<&[(f64, f64)]>,
    lo: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(file, (720, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((lo..1.0).log_scale(), (lo..1.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("false-positive rate")
        .y_desc("true-positive rate")
        .x_label_formatter(&|v| format!("{v:.0e}"))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .label_style(("sans-serif", 14))
        .draw()?;
    let clamp = |&(x, y): &(f64, f64)| (x.max(lo), y.max(lo));
    chart
        .draw_series(LineSeries::new(
            [(lo, lo), (1.0, 1.0)],
            RGBColor(150, 150, 150).stroke_width(1),
        ))?
        .label("chance")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RGBColor(150, 150, 150)));
    if let Some(c) = ceiling {
        chart
            .draw_series(DashedLineSeries::new(
                c.iter().map(clamp),
                6,
                4,
                BLACK.stroke_width(2),
            ))?
            .label("DP ceiling (any attack)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    }
    for (i, curve) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                curve.points.iter().map(clamp),
                color.stroke_width(2),
            ))?
            .label(curve.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}
