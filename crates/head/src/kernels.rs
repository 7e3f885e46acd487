//! The inner loops. Each keeps 16 independent accumulators so the compiler can
//! vectorise without reassociating (Rust never does on its own), reduces them in a
//! fixed order, and uses no FMA: the AVX2 build and the portable build of the same
//! function give identical bits, so results never depend on the machine's path.

const LANES: usize = 16;

#[inline(always)]
fn reduce_f32(acc: [f32; LANES]) -> f32 {
    let mut half = [0.0f32; 8];
    for i in 0..8 {
        half[i] = acc[i] + acc[i + 8];
    }
    let quarter = [
        half[0] + half[4],
        half[1] + half[5],
        half[2] + half[6],
        half[3] + half[7],
    ];
    (quarter[0] + quarter[2]) + (quarter[1] + quarter[3])
}

#[inline(always)]
fn reduce_f64(acc: [f64; LANES]) -> f64 {
    let mut half = [0.0f64; 8];
    for i in 0..8 {
        half[i] = acc[i] + acc[i + 8];
    }
    let quarter = [
        half[0] + half[4],
        half[1] + half[5],
        half[2] + half[6],
        half[3] + half[7],
    ];
    (quarter[0] + quarter[2]) + (quarter[1] + quarter[3])
}

#[inline(always)]
fn dot_f32_body(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let whole = n / LANES * LANES;
    let mut acc = [0.0f32; LANES];
    for start in (0..whole).step_by(LANES) {
        let ca: &[f32; LANES] = a[start..start + LANES].try_into().expect("LANES elements");
        let cb: &[f32; LANES] = b[start..start + LANES].try_into().expect("LANES elements");
        for i in 0..LANES {
            acc[i] += ca[i] * cb[i];
        }
    }
    for i in whole..n {
        acc[i - whole] += a[i] * b[i];
    }
    reduce_f32(acc)
}

#[inline(always)]
fn dot_mixed_body(x: &[f32], w: &[f64]) -> f64 {
    let n = x.len().min(w.len());
    let whole = n / LANES * LANES;
    let mut acc = [0.0f64; LANES];
    for start in (0..whole).step_by(LANES) {
        let cx: &[f32; LANES] = x[start..start + LANES].try_into().expect("LANES elements");
        let cw: &[f64; LANES] = w[start..start + LANES].try_into().expect("LANES elements");
        for i in 0..LANES {
            acc[i] += cx[i] as f64 * cw[i];
        }
    }
    for i in whole..n {
        acc[i - whole] += x[i] as f64 * w[i];
    }
    reduce_f64(acc)
}

#[inline(always)]
fn dot_f64_body(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let whole = n / 8 * 8;
    let mut lanes = [0.0f64; 8];
    for (ca, cb) in a[..whole].chunks_exact(8).zip(b[..whole].chunks_exact(8)) {
        for l in 0..8 {
            lanes[l] += ca[l] * cb[l];
        }
    }
    for (l, (x, y)) in a[whole..n].iter().zip(&b[whole..n]).enumerate() {
        lanes[l] += x * y;
    }
    reduce8(lanes)
}

#[inline(always)]
fn axpy_f64_body(y: &mut [f64], alpha: f64, x: &[f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

#[inline(always)]
fn axpy_f32_body(y: &mut [f32], alpha: f32, x: &[f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

#[inline(always)]
fn axpy_mixed_body(y: &mut [f64], alpha: f64, x: &[f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * *xi as f64;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn adam_update_body(
    w: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    beta1: f32,
    beta2: f32,
    step_size: f32,
    epsilon: f32,
) {
    let n = w.len().min(g.len()).min(m.len()).min(v.len());
    let (w, g, m, v) = (&mut w[..n], &g[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        m[i] = beta1 * m[i] + (1.0 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i];
        w[i] -= step_size * m[i] / (v[i].sqrt() + epsilon);
    }
}

/// Rows handled together by an Adam step's kernels: each weight is loaded once
/// per group, and the group's rows give independent sums to overlap.
pub const GROUP: usize = 4;

#[inline(always)]
fn dots_f32_group_body(xs: [&[f32]; GROUP], w: &[f32]) -> [f32; GROUP] {
    xs.map(|x| dot_f32_body(x, w))
}

#[inline(always)]
fn axpy_f32_group_body(y: &mut [f32], alphas: [f32; GROUP], xs: [&[f32]; GROUP]) {
    let n = y.len();
    let xs = xs.map(|x| &x[..n]);
    for j in 0..n {
        let mut v = y[j];
        for r in 0..GROUP {
            v += alphas[r] * xs[r][j];
        }
        y[j] = v;
    }
}

/// Rows handled together by the full-batch pass: each weight is loaded once per
/// block, and the block's independent sums keep the floating-point units busy.
pub const BLOCK: usize = 4;

#[inline(always)]
fn reduce8(l: [f64; 8]) -> f64 {
    ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
}

#[inline(always)]
fn dots_block_body(xs: [&[f32]; BLOCK], w: &[f64]) -> [f64; BLOCK] {
    let n = w.len();
    let whole = n / 8 * 8;
    let mut acc = [[0.0f64; 8]; BLOCK];
    for start in (0..whole).step_by(8) {
        let cw: &[f64; 8] = w[start..start + 8].try_into().expect("8 elements");
        for (r, x) in xs.iter().enumerate() {
            let cx: &[f32; 8] = x[start..start + 8].try_into().expect("8 elements");
            for l in 0..8 {
                acc[r][l] += cx[l] as f64 * cw[l];
            }
        }
    }
    for j in whole..n {
        for (r, x) in xs.iter().enumerate() {
            acc[r][j - whole] += x[j] as f64 * w[j];
        }
    }
    acc.map(reduce8)
}

#[inline(always)]
fn axpy_block_body(y: &mut [f64], alphas: [f64; BLOCK], xs: [&[f32]; BLOCK]) {
    let n = y.len();
    let xs = xs.map(|x| &x[..n]);
    for j in 0..n {
        let mut v = y[j];
        for r in 0..BLOCK {
            v += alphas[r] * xs[r][j] as f64;
        }
        y[j] = v;
    }
}

#[inline(always)]
fn square_block_body(y: &mut [f64], alphas: [f64; BLOCK], xs: [&[f32]; BLOCK]) {
    let n = y.len();
    let xs = xs.map(|x| &x[..n]);
    for j in 0..n {
        let mut v = y[j];
        for r in 0..BLOCK {
            let x = xs[r][j] as f64;
            v += alphas[r] * x * x;
        }
        y[j] = v;
    }
}

/// The body of a kernel with a hand-written AVX2 version: that version when the
/// CPU has AVX2 (the check is cached by std), else the portable expression.
macro_rules! avx2_or {
    ($avx:expr, $portable:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { $avx };
            }
        }
        $portable
    }};
}

macro_rules! dispatch {
    ($(#[$doc:meta])* pub fn $name:ident / $avx:ident ($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = $body:ident;) => {
        $(#[$doc])*
        #[inline]
        #[allow(clippy::too_many_arguments)]
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            avx2_or!($avx($($arg),*), $body($($arg),*))
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $avx($($arg: $ty),*) $(-> $ret)? {
            $body($($arg),*)
        }
    };
}

/// Σ a_i b_i in f32.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    avx2_or!(avx2::dot_f32(a, b), dot_f32_body(a, b))
}

/// [`dot_f32`], while asking the L2 cache for `ahead` (the next row to be
/// visited), one line per line consumed: rows come in shuffled order and the
/// hardware prefetcher stops at every 4 KiB page, so without this each row starts
/// cold, and prefetching a whole row at once stalls on the fill buffers. Into L2
/// rather than L1: the L1's few miss buffers then stay free for the loads
/// (shuffled rows went from 1.6x to 1.2x the time of an in-order pass).
#[inline]
pub fn dot_f32_prefetching(a: &[f32], b: &[f32], ahead: &[u8]) -> f32 {
    avx2_or!(avx2::dot_f32_prefetching(a, b, ahead), {
        let _ = ahead;
        dot_f32_body(a, b)
    })
}

/// Σ x_i w_i, accumulated in f64.
#[inline]
pub fn dot_mixed(x: &[f32], w: &[f64]) -> f64 {
    avx2_or!(avx2::dot_mixed(x, w), dot_mixed_body(x, w))
}

/// `[Σ_j x_r[j] w[j] for each row r of the block]`, accumulated in f64, while
/// asking the L2 cache for the rows of the next block (`ahead`, as bytes; empty
/// for none), one line per row every 16 columns: the pass then keeps memory busy
/// while it computes (a single-threaded pass went from 21 to 15 ms).
#[inline]
pub fn dots_block(xs: [&[f32]; BLOCK], w: &[f64], ahead: [&[u8]; BLOCK]) -> [f64; BLOCK] {
    avx2_or!(avx2::dots_block(xs, w, ahead), {
        let _ = ahead;
        dots_block_body(xs, w)
    })
}

/// `[dot_f32(x, w) for x in xs]`, bit for bit, the rows' sums interleaved so
/// that they overlap, while asking the L2 cache for `ahead` (rows to be visited
/// later, as bytes; empty for none), one line of each per 16 columns.
#[inline]
pub fn dots_f32_group(xs: [&[f32]; GROUP], w: &[f32], ahead: [&[u8]; GROUP]) -> [f32; GROUP] {
    avx2_or!(avx2::dots_f32_group(xs, w, ahead), {
        let _ = ahead;
        dots_f32_group_body(xs, w)
    })
}

/// [`dots_f32_group`] of each `block`-wide slice of the columns in turn (the
/// last may be narrower), `out[b]` for slice `b`: the same bits in one call.
/// `ahead` holds rows of `ahead_element` bytes a column; each slice asks for
/// its own columns of them.
#[inline]
pub fn dots_f32_group_blocks(
    xs: [&[f32]; GROUP],
    w: &[f32],
    block: usize,
    ahead: [&[u8]; GROUP],
    ahead_element: usize,
    out: &mut [[f32; GROUP]],
) {
    assert!(
        block > 0 && out.len() == w.len().div_ceil(block),
        "one output per block"
    );
    avx2_or!(
        avx2::dots_f32_group_blocks(xs, w, block, ahead, ahead_element, out),
        {
            let _ = (ahead, ahead_element);
            for (b, out) in out.iter_mut().enumerate() {
                let (lo, hi) = (b * block, ((b + 1) * block).min(w.len()));
                *out = dots_f32_group_body(xs.map(|x| &x[lo..hi]), &w[lo..hi]);
            }
        }
    )
}

/// `bytes[start..start + len]`, cut to what there is.
pub(crate) fn byte_range(bytes: &[u8], start: usize, len: usize) -> &[u8] {
    bytes
        .get(start..)
        .map_or(&[][..], |rest| &rest[..rest.len().min(len)])
}

/// `y += alphas[0] · xs[0]; y += alphas[1] · xs[1]; …` element by element in
/// row order (the bits of [`axpy_f32`] row after row, with `y` loaded and stored
/// once), while asking the L2 cache for `ahead` as [`dots_f32_group`] does.
#[inline]
pub fn axpy_f32_group(
    y: &mut [f32],
    alphas: [f32; GROUP],
    xs: [&[f32]; GROUP],
    ahead: [&[u8]; GROUP],
) {
    avx2_or!(avx2::axpy_f32_group(y, alphas, xs, ahead), {
        let _ = ahead;
        axpy_f32_group_body(y, alphas, xs)
    })
}

/// The same lane arithmetic as the portable bodies (lane i accumulates elements
/// i, i + 16, …; multiply then add, no FMA), written with intrinsics because the
/// compiler does not vectorise the reductions well on its own.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{reduce_f32, reduce_f64, BLOCK, GROUP, LANES};

    /// Asks the L2 cache for the line of each of `ahead` at byte `offset`.
    #[inline(always)]
    unsafe fn prefetch_lines(ahead: &[&[u8]; GROUP], offset: usize) {
        for next in ahead {
            if offset < next.len() {
                _mm_prefetch(next.as_ptr().add(offset) as *const i8, _MM_HINT_T1);
            }
        }
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn dots_f32_group(
        xs: [&[f32]; GROUP],
        w: &[f32],
        ahead: [&[u8]; GROUP],
    ) -> [f32; GROUP] {
        let n = w.len();
        let whole = n / LANES * LANES;
        for x in &xs {
            assert!(x.len() >= n, "row shorter than the weights");
        }
        let pw = w.as_ptr();
        let px = xs.map(|x| x.as_ptr());
        let mut lo = [_mm256_setzero_ps(); GROUP];
        let mut hi = [_mm256_setzero_ps(); GROUP];
        let mut i = 0;
        while i < whole {
            prefetch_lines(&ahead, i * 4);
            let w_lo = _mm256_loadu_ps(pw.add(i));
            let w_hi = _mm256_loadu_ps(pw.add(i + 8));
            for r in 0..GROUP {
                lo[r] = _mm256_add_ps(lo[r], _mm256_mul_ps(_mm256_loadu_ps(px[r].add(i)), w_lo));
                hi[r] = _mm256_add_ps(
                    hi[r],
                    _mm256_mul_ps(_mm256_loadu_ps(px[r].add(i + 8)), w_hi),
                );
            }
            i += LANES;
        }
        let mut out = [0.0f32; GROUP];
        for r in 0..GROUP {
            let mut acc = [0.0f32; LANES];
            _mm256_storeu_ps(acc.as_mut_ptr(), lo[r]);
            _mm256_storeu_ps(acc.as_mut_ptr().add(8), hi[r]);
            for k in whole..n {
                acc[k - whole] += xs[r][k] * w[k];
            }
            out[r] = reduce_f32(acc);
        }
        out
    }

    /// [`dots_f32_group`] of each `block`-wide slice of the columns in turn,
    /// `out[b]` for slice `b`, in one call.
    #[target_feature(enable = "avx2")]
    pub unsafe fn dots_f32_group_blocks(
        xs: [&[f32]; GROUP],
        w: &[f32],
        block: usize,
        ahead: [&[u8]; GROUP],
        ahead_element: usize,
        out: &mut [[f32; GROUP]],
    ) {
        let n = w.len();
        for (b, out) in out.iter_mut().enumerate() {
            let lo = b * block;
            let hi = (lo + block).min(n);
            let x = xs.map(|x| &x[lo..hi]);
            let next =
                ahead.map(|a| super::byte_range(a, lo * ahead_element, (hi - lo) * ahead_element));
            *out = dots_f32_group(x, &w[lo..hi], next);
        }
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn axpy_f32_group(
        y: &mut [f32],
        alphas: [f32; GROUP],
        xs: [&[f32]; GROUP],
        ahead: [&[u8]; GROUP],
    ) {
        let n = y.len();
        for x in &xs {
            assert!(x.len() >= n, "row shorter than the gradient");
        }
        let py = y.as_mut_ptr();
        let px = xs.map(|x| x.as_ptr());
        let a = alphas.map(|a| _mm256_set1_ps(a));
        let whole = n / 8 * 8;
        let mut j = 0;
        while j < whole {
            if j % 16 == 0 {
                prefetch_lines(&ahead, j * 4);
            }
            let mut v = _mm256_loadu_ps(py.add(j));
            for r in 0..GROUP {
                v = _mm256_add_ps(v, _mm256_mul_ps(a[r], _mm256_loadu_ps(px[r].add(j))));
            }
            _mm256_storeu_ps(py.add(j), v);
            j += 8;
        }
        for k in whole..n {
            let mut v = y[k];
            for r in 0..GROUP {
                v += alphas[r] * xs[r][k];
            }
            y[k] = v;
        }
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let whole = n / LANES * LANES;
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        while i < whole {
            acc0 = _mm256_add_ps(
                acc0,
                _mm256_mul_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))),
            );
            acc1 = _mm256_add_ps(
                acc1,
                _mm256_mul_ps(
                    _mm256_loadu_ps(pa.add(i + 8)),
                    _mm256_loadu_ps(pb.add(i + 8)),
                ),
            );
            i += LANES;
        }
        let mut acc = [0.0f32; LANES];
        _mm256_storeu_ps(acc.as_mut_ptr(), acc0);
        _mm256_storeu_ps(acc.as_mut_ptr().add(8), acc1);
        for i in whole..n {
            acc[i - whole] += a[i] * b[i];
        }
        reduce_f32(acc)
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn dot_f32_prefetching(a: &[f32], b: &[f32], ahead: &[u8]) -> f32 {
        let n = a.len().min(b.len());
        let whole = n / LANES * LANES;
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        while i < whole {
            if i * 4 < ahead.len() {
                _mm_prefetch(ahead.as_ptr().add(i * 4) as *const i8, _MM_HINT_T1);
            }
            acc0 = _mm256_add_ps(
                acc0,
                _mm256_mul_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))),
            );
            acc1 = _mm256_add_ps(
                acc1,
                _mm256_mul_ps(
                    _mm256_loadu_ps(pa.add(i + 8)),
                    _mm256_loadu_ps(pb.add(i + 8)),
                ),
            );
            i += LANES;
        }
        let mut acc = [0.0f32; LANES];
        _mm256_storeu_ps(acc.as_mut_ptr(), acc0);
        _mm256_storeu_ps(acc.as_mut_ptr().add(8), acc1);
        for i in whole..n {
            acc[i - whole] += a[i] * b[i];
        }
        reduce_f32(acc)
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn dots_block(
        xs: [&[f32]; BLOCK],
        w: &[f64],
        ahead: [&[u8]; BLOCK],
    ) -> [f64; BLOCK] {
        let n = w.len();
        let whole = n / 8 * 8;
        for x in &xs {
            assert!(x.len() >= n, "row shorter than the weights");
        }
        let pw = w.as_ptr();
        let px = xs.map(|x| x.as_ptr());
        let mut lo = [_mm256_setzero_pd(); BLOCK];
        let mut hi = [_mm256_setzero_pd(); BLOCK];
        let mut j = 0;
        while j < whole {
            if j % 16 == 0 {
                for next in &ahead {
                    if j * 4 < next.len() {
                        _mm_prefetch(next.as_ptr().add(j * 4) as *const i8, _MM_HINT_T1);
                    }
                }
            }
            let w_lo = _mm256_loadu_pd(pw.add(j));
            let w_hi = _mm256_loadu_pd(pw.add(j + 4));
            for r in 0..BLOCK {
                let x_lo = _mm256_cvtps_pd(_mm_loadu_ps(px[r].add(j)));
                let x_hi = _mm256_cvtps_pd(_mm_loadu_ps(px[r].add(j + 4)));
                lo[r] = _mm256_add_pd(lo[r], _mm256_mul_pd(x_lo, w_lo));
                hi[r] = _mm256_add_pd(hi[r], _mm256_mul_pd(x_hi, w_hi));
            }
            j += 8;
        }
        let mut out = [0.0f64; BLOCK];
        for r in 0..BLOCK {
            let mut lanes = [0.0f64; 8];
            _mm256_storeu_pd(lanes.as_mut_ptr(), lo[r]);
            _mm256_storeu_pd(lanes.as_mut_ptr().add(4), hi[r]);
            for k in whole..n {
                lanes[k - whole] += xs[r][k] as f64 * w[k];
            }
            out[r] = super::reduce8(lanes);
        }
        out
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn dot_mixed(x: &[f32], w: &[f64]) -> f64 {
        let n = x.len().min(w.len());
        let whole = n / LANES * LANES;
        let (px, pw) = (x.as_ptr(), w.as_ptr());
        let mut acc = [_mm256_setzero_pd(); 4];
        let mut i = 0;
        while i < whole {
            for (lane, slot) in acc.iter_mut().enumerate() {
                let xs = _mm256_cvtps_pd(_mm_loadu_ps(px.add(i + 4 * lane)));
                *slot = _mm256_add_pd(
                    *slot,
                    _mm256_mul_pd(xs, _mm256_loadu_pd(pw.add(i + 4 * lane))),
                );
            }
            i += LANES;
        }
        let mut lanes = [0.0f64; LANES];
        for (lane, slot) in acc.iter().enumerate() {
            _mm256_storeu_pd(lanes.as_mut_ptr().add(4 * lane), *slot);
        }
        for i in whole..n {
            lanes[i - whole] += x[i] as f64 * w[i];
        }
        reduce_f64(lanes)
    }
}
dispatch! {
    /// Σ a_i b_i in f64, in eight interleaved sums added in a fixed order.
    pub fn dot_f64 / dot_f64_avx2(a: &[f64], b: &[f64]) -> f64 = dot_f64_body;
}
dispatch! {
    /// y += alpha · x, in f64.
    pub fn axpy_f64 / axpy_f64_avx2(y: &mut [f64], alpha: f64, x: &[f64]) = axpy_f64_body;
}
dispatch! {
    /// y += alpha · x.
    pub fn axpy_f32 / axpy_f32_avx2(y: &mut [f32], alpha: f32, x: &[f32]) = axpy_f32_body;
}
dispatch! {
    /// Keras' Adam step on one parameter block (IEEE sqrt and division: the same
    /// bits vectorised or not).
    pub fn adam_update / adam_update_avx2(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], beta1: f32, beta2: f32, step_size: f32, epsilon: f32) = adam_update_body;
}
dispatch! {
    /// `y += Σ_r alphas[r] · xs[r]`, rows added in block order, y in f64.
    pub fn axpy_block / axpy_block_avx2(y: &mut [f64], alphas: [f64; BLOCK], xs: [&[f32]; BLOCK]) = axpy_block_body;
}
dispatch! {
    /// `y += Σ_r alphas[r] · xs[r]²`, rows added in block order, y in f64.
    pub fn square_block / square_block_avx2(y: &mut [f64], alphas: [f64; BLOCK], xs: [&[f32]; BLOCK]) = square_block_body;
}
dispatch! {
    /// y += alpha · x, with y in f64.
    pub fn axpy_mixed / axpy_mixed_avx2(y: &mut [f64], alpha: f64, x: &[f32]) = axpy_mixed_body;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_and_dispatched_paths_agree_bit_for_bit() {
        let a: Vec<f32> = (0..103)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.137)
            .collect();
        let b: Vec<f32> = (0..103)
            .map(|i| ((i * 17 % 13) as f32 - 6.0) * 0.291)
            .collect();
        let w: Vec<f64> = b.iter().map(|&v| v as f64 * 1.1).collect();
        assert_eq!(dot_f32(&a, &b).to_bits(), dot_f32_body(&a, &b).to_bits());
        assert_eq!(
            dot_mixed(&a, &w).to_bits(),
            dot_mixed_body(&a, &w).to_bits()
        );
        let exact: f64 = a.iter().zip(&w).map(|(x, y)| *x as f64 * y).sum();
        assert!((dot_mixed(&a, &w) - exact).abs() < 1e-12);
        let mut y1 = vec![0.5f64; 103];
        let mut y2 = y1.clone();
        axpy_mixed(&mut y1, 0.3, &a);
        axpy_mixed_body(&mut y2, 0.3, &a);
        assert_eq!(y1, y2);
        let rows = [&a[..], &b[..], &a[3..], &b[5..]];
        let w98 = &w[..98];
        let ahead = [&[0u8; 64][..], &[], &[0u8; 200][..], &[]];
        let blocked = dots_block(rows, w98, ahead);
        assert_eq!(
            blocked.map(f64::to_bits),
            dots_block_body(rows, w98).map(f64::to_bits)
        );
        for (r, row) in rows.iter().enumerate() {
            let exact: f64 = row[..98].iter().zip(w98).map(|(x, y)| *x as f64 * y).sum();
            assert!((blocked[r] - exact).abs() < 1e-12);
        }
        let mut z1 = vec![0.25f64; 98];
        let mut z2 = z1.clone();
        axpy_block(&mut z1, [0.1, -0.2, 0.3, 0.0], rows);
        axpy_block_body(&mut z2, [0.1, -0.2, 0.3, 0.0], rows);
        assert_eq!(z1, z2);
        let mut q1 = vec![0.5f64; 98];
        let mut q2 = q1.clone();
        square_block(&mut q1, [0.1, 0.2, 0.3, 0.0], rows);
        square_block_body(&mut q2, [0.1, 0.2, 0.3, 0.0], rows);
        assert_eq!(q1, q2);
        let exact = 0.5 + 0.1 * (a[7] as f64).powi(2) + 0.2 * (b[7] as f64).powi(2);
        assert!((q1[7] - exact - 0.3 * (a[10] as f64).powi(2)).abs() < 1e-12);
    }

    #[test]
    fn grouped_f32_kernels_match_row_by_row_bit_for_bit() {
        for n in [0, 5, 16, 97, 256] {
            let rows: Vec<Vec<f32>> = (0..GROUP)
                .map(|r| {
                    (0..n + r)
                        .map(|i| (((i * 31 + r * 7) % 19) as f32 - 9.0) * 0.173)
                        .collect()
                })
                .collect();
            let xs: [&[f32]; GROUP] = std::array::from_fn(|r| &rows[r][..]);
            let w: Vec<f32> = (0..n).map(|i| ((i % 7) as f32 - 3.0) * 0.41).collect();
            let ahead_row = vec![0u8; 300];
            let ahead = [&ahead_row[..], &[], &ahead_row[..17], &ahead_row[..]];
            let grouped = dots_f32_group(xs, &w, ahead);
            let mut by_block = vec![[0.0f32; GROUP]; n.div_ceil(7).max(1)];
            if n > 0 {
                dots_f32_group_blocks(xs.map(|x| &x[..n]), &w, 7, ahead, 4, &mut by_block);
                for (b, dots) in by_block.iter().enumerate() {
                    let (lo, hi) = (b * 7, ((b + 1) * 7).min(n));
                    for r in 0..GROUP {
                        assert_eq!(
                            dots[r].to_bits(),
                            dot_f32(&xs[r][lo..hi], &w[lo..hi]).to_bits()
                        );
                    }
                }
            }
            for r in 0..GROUP {
                assert_eq!(grouped[r].to_bits(), dot_f32(&xs[r][..n], &w).to_bits());
                assert_eq!(
                    grouped[r].to_bits(),
                    dot_f32_body(&xs[r][..n], &w).to_bits()
                );
            }
            let alphas = [0.3, -1.7, 0.0, 2.5];
            let mut y1: Vec<f32> = (0..n).map(|i| (i as f32) * 0.01 - 0.2).collect();
            let mut y2 = y1.clone();
            let mut y3 = y1.clone();
            axpy_f32_group(&mut y1, alphas, xs, ahead);
            axpy_f32_group_body(&mut y3, alphas, xs);
            for r in 0..GROUP {
                axpy_f32(&mut y2, alphas[r], &xs[r][..n]);
            }
            let bits = |y: &[f32]| y.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y1), bits(&y2));
            assert_eq!(bits(&y3), bits(&y2));
        }
    }
}
