//! A matmul's output columns split between the threads ([`by_columns`]), and where its rows
//! go ([`Sink`]): as computed, or through SwiGLU for a matrix whose tiles pair gate and up
//! columns, so that the gate/up product is never written out whole (it is the largest output
//! of a layer, and SwiGLU would read it back from memory).
use std::ops::Range;

use super::{ops, NR};

/// Where a matmul's `m × n` results go.
pub(crate) enum Sink<'a> {
    /// `m × n`, as computed.
    Plain(&'a mut [f32]),
    /// `m × n/2`: for each pair of tiles (16 gate columns, then the 16 up columns they pair
    /// with), `silu(gate) · up` ([`ops::swiglu_pairs`]); `n` is a multiple of 32.
    Swiglu(&'a mut [f32]),
}

impl Sink<'_> {
    /// Values per output row for a product of `n` columns.
    fn row_len(&self, n: usize) -> usize {
        match self {
            Sink::Plain(_) => n,
            Sink::Swiglu(_) => n / 2,
        }
    }

    fn ptr(&mut self) -> *mut f32 {
        match self {
            Sink::Plain(out) | Sink::Swiglu(out) => out.as_mut_ptr(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Sink::Plain(out) | Sink::Swiglu(out) => out.len(),
        }
    }
}

/// Splits the output columns (`m × n`, in `tiles` tiles) between the pool's threads in chunks
/// of whole tile pairs, each thread taking the next chunk when it is done with one (on a shared
/// machine one core often runs slower than the other; halves fixed in advance left the faster
/// thread waiting at the barrier for 9% of a prompt's matmul). `work(tiles, local)` fills `m`
/// rows of its tiles' columns (`local`, row stride their width), which its thread then stores
/// into `out`.
pub(crate) fn by_columns(
    m: usize,
    n: usize,
    tiles: usize,
    mut out: Sink<'_>,
    work: impl Fn(Range<usize>, &mut [f32]) + Sync,
) {
    let pool = candle_core::utils::barrier_pool();
    let threads = pool.n_workers() + 1;
    let row_len = out.row_len(n);
    if out.len() < m * row_len || (matches!(out, Sink::Swiglu(_)) && !n.is_multiple_of(2 * NR)) {
        return;
    }
    if threads == 1 {
        if let Sink::Plain(out) = &mut out {
            work(0..tiles, out);
            return;
        }
    }
    // Chunks of whole tile pairs, about eight per thread.
    let per = tiles.div_ceil(2 * threads * CHUNKS_PER_THREAD).max(1) * 2;
    let chunks = tiles.div_ceil(per);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let swiglu = matches!(out, Sink::Swiglu(_));
    let dst = SharedOut(out.ptr());
    let each = |_| {
        let mut local = Vec::new();
        loop {
            let chunk = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if chunk >= chunks {
                return;
            }
            let range = chunk * per..((chunk + 1) * per).min(tiles);
            let c0 = range.start * NR;
            let width = (range.end * NR).min(n) - c0;
            local.resize(m * width, 0f32);
            work(range, &mut local);
            for (r, row) in local.chunks_exact(width).enumerate() {
                // SAFETY (both arms): the sink holds `m × row_len` values (checked above) and
                // outlives the pool's work; row `r < m`, and the chunk's columns map to
                // `c0..c0 + width ≤ n` (or half of each, for SwiGLU): in bounds, and the
                // chunks' column ranges are disjoint (each is taken once), so no two threads
                // write the same value. No reference to the sink is made while they write.
                unsafe {
                    if swiglu {
                        let at = dst.at(r * row_len + c0 / 2);
                        ops::swiglu_pairs(row, std::slice::from_raw_parts_mut(at, width / 2));
                    } else {
                        std::ptr::copy_nonoverlapping(row.as_ptr(), dst.at(r * n + c0), width);
                    }
                }
            }
        }
    };
    if threads == 1 {
        each(0);
    } else {
        pool.execute(each);
    }
}

/// Chunks of columns per thread in [`by_columns`].
const CHUNKS_PER_THREAD: usize = 8;

/// The output's address, for threads that write disjoint columns of it ([`by_columns`]).
struct SharedOut(*mut f32);

// SAFETY: only `by_columns` makes one, and its threads write disjoint values through it.
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// The address of value `i` (in bounds: the caller's word).
    fn at(&self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::GgmlDType;

    use crate::tests::{candle_blocks, random};
    use crate::*;

    /// SwiGLU applied as a prompt's columns are stored gives what the whole product then
    /// SwiGLU gives, bit for bit, whichever path the matmul takes (widened or not, one row or
    /// many).
    #[test]
    fn swiglu_as_stored_is_swiglu_after() {
        for (i, &(m, n, k)) in [
            (1, 64, 256),
            (5, 96, 512),
            (16, 64, 256),
            (37, 160, 512),
            (150, 64, 1536),
        ]
        .iter()
        .enumerate()
        {
            let x = random(m * k, 900 + i as u64);
            let wf = random(n * k, 950 + i as u64);
            let (q4k, _) = candle_blocks(&wf, n, k, GgmlDType::Q4K);
            for w in [
                PackedMatrix::from_q4_k(&q4k, n, k).unwrap(),
                PackedMatrix::from_f32(&wf, n, k).unwrap(),
            ] {
                let mut gu = vec![f32::NAN; m * n];
                matmul(&x, m, &w, &mut gu).unwrap();
                let mut want = vec![f32::NAN; m * n / 2];
                ops::swiglu_interleaved(&gu, &mut want);
                let mut got = vec![f32::NAN; m * n / 2];
                matmul_swiglu(&x, m, &w, &mut got, &mut Vec::new()).unwrap();
                let differ = want
                    .iter()
                    .zip(&got)
                    .filter(|(a, b)| a.to_bits() != b.to_bits())
                    .count();
                assert_eq!(differ, 0, "{:?} m {m} n {n} k {k}", w.format());
                assert!(want.iter().all(|v| v.is_finite()));
            }
        }
        let w = PackedMatrix::from_f32(&random(48 * 32, 1), 48, 32).unwrap();
        let mut act = vec![0f32; 24];
        assert!(matmul_swiglu(&random(32, 2), 1, &w, &mut act, &mut Vec::new()).is_err());
    }
}
