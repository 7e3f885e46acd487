//! Pillow's `Image.resize` for 8-bit RGB, to the bit: what torchvision's and timm's
//! evaluation transforms run on a PIL image, so that a backbone sees the pixels its
//! reference sees (a random or sharp network moves visibly under ±1 level noise).
//!
//! Bilinear and bicubic (a = -0.5) are separable convolutions, antialiased when
//! downscaling (the kernel widened by the scale), with weights normalised in f64,
//! rounded to 22-bit fixed point, and two passes in Pillow 13's order (see
//! `resize_region`), the first one's output rounded and clipped to u8 before the
//! second reads it. Nearest takes the source pixel under
//! each output pixel's center, stepping the coordinate by repeated addition as
//! Pillow's affine scaler does.
//!
//! Only the requested region of the resized image is computed (a center crop needs
//! no more): every output pixel depends only on its own weights, so the region's
//! bytes equal the same region of the full resize.

use std::ops::Range;

/// 32 bits less 8 for the pixel and 2 for weights whose sum exceeds 1 or whose
/// partial sums go negative.
const PRECISION_BITS: u32 = 22;
const HALF: i32 = 1 << (PRECISION_BITS - 1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    Nearest,
    Bilinear,
    Bicubic,
}

impl Filter {
    /// The kernel's half-width at scale 1.
    fn support(self) -> f64 {
        match self {
            Filter::Nearest => 0.0,
            Filter::Bilinear => 1.0,
            Filter::Bicubic => 2.0,
        }
    }

    /// The kernel, written in the order Pillow evaluates it so the f64 weights agree.
    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Filter::Nearest => unreachable!("nearest has no kernel"),
            Filter::Bilinear => {
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Filter::Bicubic => {
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

/// The fixed-point weights of one axis: output `i` is the sum over `taps[i]` of
/// `weights[i * width + k] × source[first[i] + k]`.
struct Axis {
    first: Vec<usize>,
    taps: Vec<usize>,
    weights: Vec<i32>,
    width: usize,
}

impl Axis {
    /// Pillow's `precompute_coeffs` and `normalize_coeffs_8bpc` for `in_size → out_size`.
    fn new(in_size: usize, out_size: usize, filter: Filter, antialias: bool) -> Axis {
        let scale = in_size as f64 / out_size as f64;
        let filter_scale = if antialias { scale.max(1.0) } else { 1.0 };
        let support = filter.support() * filter_scale;
        let width = support.ceil() as usize * 2 + 1;
        let inverse = 1.0 / filter_scale;
        let mut axis = Axis {
            first: Vec::with_capacity(out_size),
            taps: Vec::with_capacity(out_size),
            weights: vec![0; out_size * width],
            width,
        };
        let mut row = vec![0.0f64; width];
        for out in 0..out_size {
            let center = (out as f64 + 0.5) * scale;
            // C's (int) casts: truncation toward zero.
            let first = ((center - support + 0.5) as i64).max(0) as usize;
            let end = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let taps = end.saturating_sub(first).min(width);
            let mut total = 0.0;
            for (k, w) in row.iter_mut().enumerate().take(taps) {
                *w = filter.weight(((first + k) as f64 - center + 0.5) * inverse);
                total += *w;
            }
            let fixed = &mut axis.weights[out * width..out * width + taps];
            for (slot, w) in fixed.iter_mut().zip(&row) {
                let w = if total != 0.0 { w / total } else { *w };
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                *slot = if w < 0.0 {
                    (scaled - 0.5) as i32
                } else {
                    (scaled + 0.5) as i32
                };
            }
            axis.first.push(first);
            axis.taps.push(taps);
        }
        axis
    }

    fn weights(&self, out: usize) -> &[i32] {
        &self.weights[out * self.width..out * self.width + self.taps[out]]
    }

    /// The source range the outputs `outs` read.
    fn reads(&self, outs: &Range<usize>) -> Range<usize> {
        let start = self.first[outs.start];
        let end = (outs.start..outs.end)
            .map(|i| self.first[i] + self.taps[i])
            .max()
            .unwrap_or(start);
        start..end
    }
}

/// Pillow's `clip8`: the fixed-point sum back to a byte (an arithmetic shift, then
/// saturation).
#[inline]
fn clip8(sum: i32) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// An RGB8 image's bytes and size.
#[derive(Clone, Copy)]
pub struct Pixels<'a> {
    pub bytes: &'a [u8],
    pub width: usize,
    pub height: usize,
}

/// Where the computed region goes: `columns × rows` of the resized image land in
/// `out` (rows of `out_row_bytes`) at byte offset `out_offset`.
pub struct Region<'a> {
    pub columns: Range<usize>,
    pub rows: Range<usize>,
    pub out: &'a mut [u8],
    pub out_offset: usize,
    pub out_row_bytes: usize,
}

/// Part of an RGB8 image in full-image coordinates: columns from `left` and rows
/// from `top`, `stride` bytes per row.
#[derive(Clone, Copy)]
struct Plane<'a> {
    bytes: &'a [u8],
    stride: usize,
    left: usize,
    top: usize,
}

impl<'a> Plane<'a> {
    /// Row `y`, columns `columns`, as bytes.
    fn row(&self, y: usize, columns: &Range<usize>) -> &'a [u8] {
        let start = (y - self.top) * self.stride + (columns.start - self.left) * 3;
        &self.bytes[start..start + columns.len() * 3]
    }
}

/// Resizes `source` to `width × height` as Pillow does and writes the region.
///
/// Pillow 13 runs the vertical pass first when the height shrinks by more than
/// twice as many pixels as the width does, and the horizontal pass first
/// otherwise (earlier Pillow: always horizontal first); the order decides how the
/// intermediate is rounded, so it is followed here.
pub fn resize_region(
    source: Pixels,
    (width, height): (usize, usize),
    filter: Filter,
    antialias: bool,
    region: Region,
) {
    if region.columns.is_empty() || region.rows.is_empty() {
        return;
    }
    if filter == Filter::Nearest {
        return nearest(source, (width, height), region);
    }
    let horizontal =
        (width != source.width).then(|| Axis::new(source.width, width, filter, antialias));
    let vertical =
        (height != source.height).then(|| Axis::new(source.height, height, filter, antialias));
    let shrink = |from: usize, to: usize| from as i64 - to as i64;
    let vertical_first = shrink(source.height, height) > 0
        && shrink(source.height, height) > 2 * shrink(source.width, width);
    let whole = Plane {
        bytes: source.bytes,
        stride: source.width * 3,
        left: 0,
        top: 0,
    };
    let (columns, rows) = (&region.columns, &region.rows);
    let resized = match (&horizontal, &vertical) {
        (None, None) => copy(whole, columns, rows),
        (Some(h), None) => horizontal_pass(whole, h, columns, rows),
        (None, Some(v)) => vertical_pass(whole, v, columns, rows),
        (Some(h), Some(v)) if vertical_first => {
            let read = h.reads(columns);
            let middle = vertical_pass(whole, v, &read, rows);
            let plane = Plane {
                bytes: &middle,
                stride: read.len() * 3,
                left: read.start,
                top: rows.start,
            };
            horizontal_pass(plane, h, columns, rows)
        }
        (Some(h), Some(v)) => {
            let read = v.reads(rows);
            let middle = horizontal_pass(whole, h, columns, &read);
            let plane = Plane {
                bytes: &middle,
                stride: columns.len() * 3,
                left: columns.start,
                top: read.start,
            };
            vertical_pass(plane, v, columns, rows)
        }
    };
    let row_bytes = columns.len() * 3;
    for (index, line) in resized.chunks_exact(row_bytes).enumerate() {
        let at = region.out_offset + index * region.out_row_bytes;
        region.out[at..at + row_bytes].copy_from_slice(line);
    }
}

/// `columns × rows` of `plane`, unchanged.
fn copy(plane: Plane, columns: &Range<usize>, rows: &Range<usize>) -> Vec<u8> {
    rows.clone()
        .flat_map(|y| plane.row(y, columns))
        .copied()
        .collect()
}

/// Source rows the horizontal pass takes at once.
const BLOCK_ROWS: usize = 8;
/// Their bytes in one source column.
const BLOCK_LANES: usize = BLOCK_ROWS * 3;

/// The horizontal pass for the output `columns × rows`, each value rounded to a
/// byte as Pillow's intermediate image is.
///
/// Taken `BLOCK_ROWS` rows at a time and transposed, so that a source column of
/// the block is `BLOCK_LANES` contiguous bytes: an output column is then the
/// weighted sum of whole source columns, a loop the compiler vectorises as it does
/// the vertical pass. The sums are integers, exact in any order: Pillow's bytes.
#[inline(always)]
fn horizontal_pass_body(
    plane: Plane,
    axis: &Axis,
    columns: &Range<usize>,
    rows: &Range<usize>,
) -> Vec<u8> {
    let read = axis.reads(columns);
    let row_bytes = columns.len() * 3;
    let mut out = vec![0u8; rows.len() * row_bytes];
    let mut block = vec![0u8; read.len() * BLOCK_LANES];
    for (block_index, block_rows) in out.chunks_mut(BLOCK_ROWS * row_bytes).enumerate() {
        let first_row = rows.start + block_index * BLOCK_ROWS;
        let count = block_rows.len() / row_bytes;
        for r in 0..count {
            let source = plane.row(first_row + r, &read);
            for (column, pixel) in block
                .chunks_exact_mut(BLOCK_LANES)
                .zip(source.chunks_exact(3))
            {
                column[r * 3..r * 3 + 3].copy_from_slice(pixel);
            }
        }
        for (index, x) in columns.clone().enumerate() {
            let mut sums = [HALF; BLOCK_LANES];
            let first = axis.first[x] - read.start;
            for (k, &w) in axis.weights(x).iter().enumerate() {
                let column = &block[(first + k) * BLOCK_LANES..(first + k + 1) * BLOCK_LANES];
                for (sum, &byte) in sums.iter_mut().zip(column) {
                    *sum += i32::from(byte) * w;
                }
            }
            // Lanes of rows past the last one hold stale bytes; never written out.
            for (r, line) in block_rows.chunks_exact_mut(row_bytes).enumerate() {
                for (channel, value) in line[index * 3..index * 3 + 3].iter_mut().enumerate() {
                    *value = clip8(sums[r * 3 + channel]);
                }
            }
        }
    }
    out
}

/// The vertical pass for the output `columns × rows`: each output row the
/// weighted sum of its source rows, byte by byte (a loop the compiler vectorises).
#[inline(always)]
fn vertical_pass_body(
    plane: Plane,
    axis: &Axis,
    columns: &Range<usize>,
    rows: &Range<usize>,
) -> Vec<u8> {
    let row_bytes = columns.len() * 3;
    let mut out = vec![0u8; rows.len() * row_bytes];
    let mut sums = vec![HALF; row_bytes];
    for (line, y) in out.chunks_exact_mut(row_bytes).zip(rows.clone()) {
        sums.fill(HALF);
        for (k, &w) in axis.weights(y).iter().enumerate() {
            let source = plane.row(axis.first[y] + k, columns);
            for (sum, &byte) in sums.iter_mut().zip(source) {
                *sum += i32::from(byte) * w;
            }
        }
        for (byte, &sum) in line.iter_mut().zip(&sums) {
            *byte = clip8(sum);
        }
    }
    out
}

/// The passes compiled twice, as written and with AVX2 (eight 32-bit lanes
/// instead of SSE2's four), the AVX2 build chosen when the CPU has it: the same
/// integer arithmetic either way, so the same bytes.
macro_rules! with_avx2 {
    ($name:ident, $avx2:ident, $body:ident) => {
        fn $name(
            plane: Plane,
            axis: &Axis,
            columns: &Range<usize>,
            rows: &Range<usize>,
        ) -> Vec<u8> {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { $avx2(plane, axis, columns, rows) };
                }
            }
            $body(plane, axis, columns, rows)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx2(
            plane: Plane,
            axis: &Axis,
            columns: &Range<usize>,
            rows: &Range<usize>,
        ) -> Vec<u8> {
            $body(plane, axis, columns, rows)
        }
    };
}

with_avx2!(horizontal_pass, horizontal_pass_avx2, horizontal_pass_body);
with_avx2!(vertical_pass, vertical_pass_avx2, vertical_pass_body);

/// Pillow's nearest-neighbour scaler: the source index under each output center,
/// `(i + 0.5) × in / out` accumulated by repeated addition and truncated.
fn nearest_indices(in_size: usize, out_size: usize) -> Vec<usize> {
    let step = in_size as f64 / out_size as f64;
    let mut position = step * 0.5;
    (0..out_size)
        .map(|_| {
            let index = (position as usize).min(in_size - 1);
            position += step;
            index
        })
        .collect()
}

fn nearest(source: Pixels, (width, height): (usize, usize), region: Region) {
    let columns = nearest_indices(source.width, width);
    let rows = nearest_indices(source.height, height);
    for (index, y) in region.rows.clone().enumerate() {
        let source_row = &source.bytes[rows[y] * source.width * 3..];
        let target = &mut region.out[region.out_offset + index * region.out_row_bytes..];
        for (pixel, x) in target.chunks_exact_mut(3).zip(region.columns.clone()) {
            pixel.copy_from_slice(&source_row[columns[x] * 3..columns[x] * 3 + 3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RGB bytes of `width × height` with detail at every scale: byte `v` is
    /// `(v × step + v / drift) mod 256`.
    fn texture(width: usize, height: usize, step: usize, drift: usize) -> Vec<u8> {
        (0..width * height * 3)
            .map(|v| ((v * step + v / drift) % 256) as u8)
            .collect()
    }

    /// `columns × rows` of `source` resized (antialiased) to `target`, packed.
    fn resized(
        source: Pixels,
        target: (usize, usize),
        filter: Filter,
        columns: Range<usize>,
        rows: Range<usize>,
    ) -> Vec<u8> {
        let out_row_bytes = columns.len() * 3;
        let mut out = vec![0; out_row_bytes * rows.len()];
        resize_region(
            source,
            target,
            filter,
            true,
            Region {
                columns,
                rows,
                out: &mut out,
                out_offset: 0,
                out_row_bytes,
            },
        );
        out
    }

    #[test]
    fn weights_of_each_output_sum_to_one_in_fixed_point() {
        for (in_size, out_size) in [(500, 256), (256, 500), (7, 3), (3, 7), (100, 100)] {
            for filter in [Filter::Bilinear, Filter::Bicubic] {
                let axis = Axis::new(in_size, out_size, filter, true);
                for out in 0..out_size {
                    let total: i32 = axis.weights(out).iter().sum();
                    assert!(
                        (total - (1 << PRECISION_BITS)).abs() <= axis.width as i32,
                        "{in_size}->{out_size} {filter:?} output {out}: {total}"
                    );
                }
            }
        }
    }

    #[test]
    fn same_size_is_the_identity() {
        let bytes: Vec<u8> = (0..5 * 4 * 3).map(|v| (v * 7 % 256) as u8).collect();
        let source = Pixels {
            bytes: &bytes,
            width: 5,
            height: 4,
        };
        assert_eq!(resized(source, (5, 4), Filter::Bicubic, 0..5, 0..4), bytes);
    }

    #[test]
    fn a_region_equals_the_same_region_of_the_whole_resize() {
        let (width, height) = (37, 23);
        let bytes = texture(width, height, 31, 7);
        let source = Pixels {
            bytes: &bytes,
            width,
            height,
        };
        // 37×23 to 20×13 runs the horizontal pass first, to 30×8 the vertical.
        for (target, filter) in [(20, 13), (30, 8)].into_iter().flat_map(|target| {
            [Filter::Nearest, Filter::Bilinear, Filter::Bicubic].map(|filter| (target, filter))
        }) {
            let whole = resized(source, target, filter, 0..target.0, 0..target.1);
            let (columns, rows) = (3..17, 2..7);
            let part = resized(source, target, filter, columns.clone(), rows.clone());
            for (index, y) in rows.clone().enumerate() {
                let expected = &whole[(y * target.0 + columns.start) * 3..][..columns.len() * 3];
                let row = &part[index * columns.len() * 3..][..columns.len() * 3];
                assert_eq!(row, expected, "{target:?} {filter:?} row {y}");
            }
        }
    }

    #[test]
    fn the_dispatched_passes_give_the_portable_bytes() {
        let (width, height) = (61, 45);
        let bytes = texture(width, height, 131, 11);
        let plane = Plane {
            bytes: &bytes,
            stride: width * 3,
            left: 0,
            top: 0,
        };
        let (columns, rows) = (2..19, 1..13);
        for filter in [Filter::Bilinear, Filter::Bicubic] {
            let across = Axis::new(width, 20, filter, true);
            let down = Axis::new(height, 14, filter, true);
            let read = across.reads(&columns);
            assert_eq!(
                horizontal_pass(plane, &across, &columns, &rows),
                horizontal_pass_body(plane, &across, &columns, &rows),
                "{filter:?} horizontal"
            );
            assert_eq!(
                vertical_pass(plane, &down, &read, &rows),
                vertical_pass_body(plane, &down, &read, &rows),
                "{filter:?} vertical"
            );
        }
    }
}
