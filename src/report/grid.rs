//! Reconstructions drawn under the images they were matched to, as a PNG: the figure
//! gradient-inversion papers print (Zhu et al. 2019, "Deep Leakage from Gradients"; Geiping et
//! al. 2020, "Inverting Gradients"). Originals fill a row, each reconstruction sits under its
//! original with a caption (its SSIM), and past [`MAX_COLUMNS`] images the grid wraps into
//! further row pairs.
//!
//! Pixels are row-major, the first row drawn at the top, in grayscale from 0 (black) to 1
//! (white), each one a 4×4 block so that single pixels of a 28×28 image can be seen. Values
//! outside [0, 1] are clipped; a NaN or infinite pixel is drawn red, so a diverged
//! reconstruction cannot pass for a dark one.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use super::plot::register_font;

/// Images per row pair; more wrap onto the next.
pub const MAX_COLUMNS: usize = 10;
/// Each image pixel becomes a `SCALE`×`SCALE` block.
const SCALE: u32 = 4;
const MARGIN: u32 = 12;
const TITLE_H: u32 = 34;
/// Room for the row labels ("original", "reconstruction") left of the images.
const LABEL_W: u32 = 110;
/// Between neighbouring columns.
const GAP: u32 = 10;
/// Between an original and its reconstruction.
const ROW_GAP: u32 = 4;
const CAPTION_H: u32 = 22;
/// Between one row pair and the next.
const BLOCK_GAP: u32 = 14;
const TITLE_FONT: (&str, u32) = ("sans-serif", 18);
const LABEL_FONT: (&str, u32) = ("sans-serif", 14);
/// Non-finite pixels, red so they stand out from any gray.
const INVALID: [u8; 3] = [220, 30, 30];

/// Images that cannot make a grid: always a bug in the caller.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[allow(missing_docs)] // variant fields are named in the messages
pub enum GridError {
    /// Not one reconstruction and one caption per original.
    #[error(
        "a grid needs one reconstruction and one caption per original: got {originals} originals, {reconstructions} reconstructions, {captions} captions"
    )]
    Counts {
        originals: usize,
        reconstructions: usize,
        captions: usize,
    },
    /// An image whose pixel count is not side².
    #[error("image {index} holds {found} pixels, but {side}×{side} images hold {}", side * side)]
    WrongLength {
        index: usize,
        found: usize,
        side: usize,
    },
    /// Nothing to draw.
    #[error("a grid of no images (or of 0×0 images) draws nothing")]
    Empty,
}

/// Where everything goes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Layout {
    /// One image's side on the canvas, in pixels.
    image: u32,
    cols: u32,
    rows: u32,
    /// At least the title's width plus margins.
    min_width: u32,
}

impl Layout {
    fn new(count: usize, side: usize, title_width: u32) -> Self {
        let cols = count.min(MAX_COLUMNS) as u32;
        Self {
            image: side as u32 * SCALE,
            cols,
            rows: count.div_ceil(MAX_COLUMNS) as u32,
            min_width: title_width + 2 * MARGIN,
        }
    }

    /// An original, its reconstruction and the caption.
    fn block_height(&self) -> u32 {
        2 * self.image + ROW_GAP + CAPTION_H
    }

    fn size(&self) -> (u32, u32) {
        let grid_w = LABEL_W + self.cols * self.image + (self.cols - 1) * GAP;
        let grid_h = TITLE_H + self.rows * self.block_height() + (self.rows - 1) * BLOCK_GAP;
        (
            (grid_w + 2 * MARGIN).max(self.min_width),
            grid_h + 2 * MARGIN,
        )
    }

    /// Top-left corner of row pair `row`'s first original.
    fn block_origin(&self, row: u32) -> (i32, i32) {
        let y = MARGIN + TITLE_H + row * (self.block_height() + BLOCK_GAP);
        ((MARGIN + LABEL_W) as i32, y as i32)
    }

    /// Top-left corner of original `k`; its reconstruction is `image + ROW_GAP` below.
    fn original(&self, k: usize) -> (i32, i32) {
        let (k, cols) = (k as u32, self.cols);
        let (x, y) = self.block_origin(k / cols);
        (x + ((k % cols) * (self.image + GAP)) as i32, y)
    }

    fn reconstruction(&self, k: usize) -> (i32, i32) {
        let (x, y) = self.original(k);
        (x, y + (self.image + ROW_GAP) as i32)
    }
}

/// `image` as RGB bytes, each pixel a `SCALE`×`SCALE` block, first row on top.
fn upscaled(image: &[f32], side: usize) -> Vec<u8> {
    let scale = SCALE as usize;
    let width = side * scale;
    let mut out = vec![0; width * width * 3];
    for (k, &p) in image.iter().enumerate() {
        let rgb = if p.is_finite() {
            let v = (p.clamp(0.0, 1.0) * 255.0).round() as u8;
            [v, v, v]
        } else {
            INVALID
        };
        let (r, c) = (k / side, k % side);
        for dy in 0..scale {
            let row = (r * scale + dy) * width;
            for dx in 0..scale {
                let at = (row + c * scale + dx) * 3;
                out[at..at + 3].copy_from_slice(&rgb);
            }
        }
    }
    out
}

fn check(
    originals: &[&[f32]],
    reconstructions: &[&[f32]],
    side: usize,
    captions: &[String],
) -> Result<(), GridError> {
    let n = originals.len();
    if reconstructions.len() != n || captions.len() != n {
        return Err(GridError::Counts {
            originals: n,
            reconstructions: reconstructions.len(),
            captions: captions.len(),
        });
    }
    if n == 0 || side == 0 {
        return Err(GridError::Empty);
    }
    for (index, image) in originals.iter().chain(reconstructions).enumerate() {
        if image.len() != side * side {
            return Err(GridError::WrongLength {
                index: index % n,
                found: image.len(),
                side,
            });
        }
    }
    Ok(())
}

/// Draws `originals` (`side`×`side`, row-major, in [0, 1]) in the top row of each row pair,
/// `reconstructions[k]` under `originals[k]` captioned `captions[k]`, and `title` above, to
/// `path`, a `.png`. On failure no file is left behind.
pub fn image_grid_png(
    path: &Path,
    title: &str,
    originals: &[&[f32]],
    reconstructions: &[&[f32]],
    side: usize,
    captions: &[String],
) -> Result<(), ReportError> {
    check(originals, reconstructions, side, captions)?;
    register_font();
    let io = |e: Box<dyn std::error::Error>| {
        let _ = std::fs::remove_file(path);
        ReportError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        }
    };
    let title_width = TITLE_FONT
        .into_font()
        .box_size(title)
        .map_err(|e| io(e.into()))?
        .0;
    let layout = Layout::new(originals.len(), side, title_width);
    let root = BitMapBackend::new(path, layout.size()).into_drawing_area();
    draw(
        &root,
        &layout,
        title,
        originals,
        reconstructions,
        side,
        captions,
    )
    .and_then(|()| Ok(root.present()?))
    .map_err(io)
}

fn draw(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    layout: &Layout,
    title: &str,
    originals: &[&[f32]],
    reconstructions: &[&[f32]],
    side: usize,
    captions: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let title_style = TITLE_FONT.into_font().color(&BLACK);
    root.draw_text(title, &title_style, (MARGIN as i32, MARGIN as i32))?;
    let label = LABEL_FONT
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let half = layout.image as i32 / 2;
    for row in 0..layout.rows {
        let (_, y) = layout.block_origin(row);
        let below = y + (layout.image + ROW_GAP) as i32;
        root.draw_text("original", &label, (MARGIN as i32, y + half))?;
        root.draw_text("reconstruction", &label, (MARGIN as i32, below + half))?;
    }
    let caption = LABEL_FONT
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    let size = (layout.image, layout.image);
    for (k, text) in captions.iter().enumerate() {
        for (at, image) in [
            (layout.original(k), originals[k]),
            (layout.reconstruction(k), reconstructions[k]),
        ] {
            let element = BitMapElement::with_owned_buffer(at, size, upscaled(image, side))
                .expect("upscaled() fills exactly image² RGB pixels");
            root.draw(&element)?;
        }
        let (x, y) = layout.reconstruction(k);
        root.draw_text(text, &caption, (x + half, y + layout.image as i32 + 4))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIDE: usize = 28;

    /// White top-left quadrant, black elsewhere: shows which way up and which way round.
    fn quadrant() -> Vec<f32> {
        (0..SIDE * SIDE)
            .map(|k| f32::from(u8::from(k / SIDE < SIDE / 2 && k % SIDE < SIDE / 2)))
            .collect()
    }

    fn png_size(path: &Path) -> (u32, u32) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        (be(16), be(20))
    }

    fn grid(n: usize, title: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        let images = vec![quadrant(); n];
        let refs: Vec<&[f32]> = images.iter().map(Vec::as_slice).collect();
        let captions = vec!["SSIM 0.50".to_string(); n];
        image_grid_png(&path, title, &refs, &refs, SIDE, &captions).unwrap();
        (dir, path)
    }

    #[test]
    fn three_pairs_make_a_png_of_one_row_pair() {
        let (_dir, path) = grid(3, "t");
        // Width: 12 + 110 + 3 · 112 + 2 · 10 + 12; height: 12 + 34 + (2 · 112 + 4 + 22) + 12.
        assert_eq!(png_size(&path), (490, 308));
    }

    #[test]
    fn twelve_pairs_wrap_into_two_row_pairs_of_ten_columns() {
        let (_dir, path) = grid(12, "t");
        // Width: 12 + 110 + 10 · 112 + 9 · 10 + 12; height: 12 + 34 + 2 · 250 + 14 + 12.
        assert_eq!(png_size(&path), (1344, 572));
    }

    #[test]
    fn a_long_title_widens_the_canvas_to_fit() {
        let title = "a title far longer than one image and its labels could ever hold";
        let (_dir, path) = grid(1, title);
        let (w, _) = png_size(&path);
        assert!(w > 12 + 110 + 112 + 12, "{w}");
    }

    #[test]
    fn originals_sit_above_their_reconstructions_right_way_up_and_scaled_4x() {
        register_font();
        let n = 11; // the 11th wraps to the second row pair
        let originals = vec![quadrant(); n];
        let recs = vec![vec![0.5f32; SIDE * SIDE]; n];
        let o: Vec<&[f32]> = originals.iter().map(Vec::as_slice).collect();
        let r: Vec<&[f32]> = recs.iter().map(Vec::as_slice).collect();
        let layout = Layout::new(n, SIDE, 0);
        let (w, h) = layout.size();
        let mut buf = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            let captions = vec!["SSIM 0.12".to_string(); n];
            draw(&root, &layout, "t", &o, &r, SIDE, &captions).unwrap();
            root.present().unwrap();
        }
        let px = |(x, y): (i32, i32)| {
            let at = ((y as u32 * w + x as u32) * 3) as usize;
            buf[at]
        };
        for k in [0, 10] {
            let (x, y) = layout.original(k);
            let last = (SIDE * 4 - 1) as i32;
            assert_eq!(px((x, y)), 255, "top-left pixel of original {k} is white");
            // Image pixel (13, 13) is the quadrant's last white one: canvas pixels 52..=55.
            assert_eq!(px((x + 55, y + 55)), 255);
            assert_eq!(px((x + 56, y + 55)), 0, "pixel (13, 14) is black");
            assert_eq!(px((x + 55, y + 56)), 0, "pixel (14, 13) is black");
            assert_eq!(px((x + last, y + last)), 0, "bottom-right is black");
            let (rx, ry) = layout.reconstruction(k);
            assert_eq!((rx, ry - y), (x, 112 + 4), "reconstruction {k} right below");
            assert_eq!(px((rx + 1, ry + 1)), 128);
            assert_eq!(px((rx + last, ry + last)), 128);
        }
        assert!(
            layout.original(10).1 > layout.reconstruction(9).1,
            "wrapped"
        );
    }

    #[test]
    fn non_finite_pixels_are_red_and_out_of_range_ones_clipped() {
        let image = [f32::NAN, 2.0, -1.0, 0.5];
        let rgb = upscaled(&image, 2);
        let at = |r: usize, c: usize| &rgb[(r * 8 + c) * 3..(r * 8 + c) * 3 + 3];
        assert_eq!(at(0, 0), INVALID);
        assert_eq!(at(3, 3), INVALID, "pixel (0, 0) fills the 4×4 block");
        assert_eq!(at(0, 4), [255; 3]);
        assert_eq!(at(4, 0), [0; 3]);
        assert_eq!(at(7, 7), [128; 3]);
    }

    #[test]
    fn mismatched_counts_and_sizes_are_refused_without_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        let img = quadrant();
        let short = vec![0.0f32; 10];
        let one = ["c".to_string()];
        let err = image_grid_png(&path, "t", &[&img], &[], SIDE, &one).unwrap_err();
        assert!(
            err.to_string().contains("1 originals, 0 reconstructions"),
            "{err}"
        );
        let err = image_grid_png(&path, "t", &[&img], &[&short], SIDE, &one).unwrap_err();
        assert!(matches!(
            err,
            ReportError::Grid(GridError::WrongLength {
                index: 0,
                found: 10,
                ..
            })
        ));
        let none: [&[f32]; 0] = [];
        let err = image_grid_png(&path, "t", &none, &none, SIDE, &[]).unwrap_err();
        assert!(matches!(err, ReportError::Grid(GridError::Empty)));
        assert!(!path.exists());
    }
}
