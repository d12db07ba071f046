//! The AMX kernel (Intel Xeons with AMX-INT8): each `tdpbssd` multiplies 16 activation rows ×
//! 32 k of int8 by 32 k × 16 columns of int8 weights into 16 × 16 int32 sums, the work of 128
//! AVX-512 `vpdpbusd`.
//!
//! - **The same numbers as the AVX-512 VNNI kernel.** The tile unit computes each block's
//!   integer sums exactly (`Σ q_a · q_w`, which is what the VNNI kernel's `vpdpbusd` sums
//!   plus its `-128 × Σ q_a` correction come to), and the block is then scaled into the f32
//!   accumulators with the same AVX-512 operations in the same order (`fma(sum, d_w · d_a,
//!   acc)`, then for nibble weights `fma(m_w, d_a · Σ q_a, acc)`). A row's result is therefore
//!   bit for bit the one the VNNI kernel gives, whichever kernel takes it: a prompt split in
//!   chunks, a prefix reused from the cache and a decode step (one row, always VNNI) agree.
//! - **Layout.** The activations are the [`QuantizedRows`] every kernel uses: row `r`, block
//!   `b` is 32 bytes at `(r · nb + b) · 32`, so an activation tile is 16 rows at stride
//!   `nb · 32`, read in place. The weights' packed layout already puts 4 consecutive k of 16
//!   columns in each 64 bytes, the tile unit's row; a panel of 8 tiles is unpacked once per
//!   call into signed bytes (Int8: the stored byte less 128; Nib4: the nibble; Nib5: the
//!   five bits), for all blocks, then every group of 16 rows runs against it.
//! - **Per block and 16 × 16 outputs**: one `tdpbssd` into a sum tile, stored (1 KB) and
//!   scaled into 16 f32 accumulators held in registers; the tile work runs three blocks ahead
//!   of the scaling (four sum tiles in turn). Rows past the last whole group of 16 go to the
//!   VNNI kernel.
//! - **What it gains, and what bounds it.** The scaling, 16 rows × 3–4 vector operations per
//!   block, is as long as the VNNI kernel's own work on the block, so the gain is 1.1–1.4× on
//!   the matmuls (`kernel_throughput`), not the tile unit's 8×. A bf16 kernel (`tdpbf16ps`:
//!   the scales applied once, when the weights are unpacked to bf16, and no per-block
//!   scaling) was measured at 1.8–2.3× (Qwen's time to first token 0.59× the VNNI kernel's)
//!   and not kept: its rounding differs from the int8 kernels', so a prefix computed on tiles
//!   and a decode step give slightly different logits, and it turned llama.cpp's first token on
//!   one of the eight Qwen test prompts (whose top two logits are 0.064 apart).
//! - **Wide int8** (one scale per 256 k: Q6_K, and Q4_K widened for a prompt) has its own
//!   kernel, [`wide`]: four sum tiles of 16 × 16 per 256 k, scaled once, the weights read in
//!   place; 2.2–2.3× the VNNI kernel on the 1.5B's shapes (both on aligned data).
//! - **Cache lines.** A tile row of 64 bytes that crosses two cache lines loads several times
//!   slower (a probe on this Xeon: 14 ns against 2.1 ns per 1 KB tile from L1), so the panel,
//!   the sum buffers, the packed weights and the activations all start on a line
//!   ([`crate::Aligned`]).
//! - **Tile state.** The process asks Linux for the tile data state once
//!   (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`; without it the first tile
//!   instruction faults), and detection offers the kernel only if that is granted. Each call
//!   configures its thread's tiles (`ldtilecfg`) and releases them after (`tilerelease`).
//!
//! The tile instructions are inline assembly (the AMX intrinsics are not stable Rust); the
//! compiler never allocates tile registers, so the asm blocks own them.
// Register arrays of several rows and columns are indexed in step: index loops read best.
#![allow(clippy::needless_range_loop)]

use std::arch::asm;
use std::arch::x86_64::*;
use std::ops::Range;

use super::{avx512, store_block, Aligned, Format, PackedMatrix, QuantizedRows, NR, QK, WIDE};

mod wide;

/// Rows per activation tile: the kernel takes rows in whole groups of this many.
pub(crate) const ROWS: usize = super::AMX_ROWS;
/// Weight tiles unpacked together: 128 columns, 8 × nb × 512 bytes (72 KB at k = 576, 608 KB
/// at k = 4864: in L2),
/// run against each group of 16 rows in turn (its activations in L1).
const PANEL_TILES: usize = 8;
/// Blocks in flight in [`tile_rows`]: the tile unit runs up to three blocks ahead of the
/// scaling (four sum tiles, four buffers).
const DEPTH: usize = 4;
/// Bytes of one weight tile block: 32 k × 16 columns.
const BLOCK_BYTES: usize = QK * NR;

/// Whether this CPU and OS run the kernel: AMX-TILE and AMX-INT8 (CPUID leaf 7, EDX bits 24
/// and 25) and the tile data permission, which this requests (once per process; Linux grants
/// it to every thread). The AVX-512 features are checked by the caller.
pub(crate) fn supported() -> bool {
    let leaf7 = __cpuid_count(7, 0);
    let amx_tile = (leaf7.edx >> 24) & 1 == 1;
    let amx_int8 = (leaf7.edx >> 25) & 1 == 1;
    amx_tile && amx_int8 && request_tile_data()
}

/// `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`: true when granted.
#[cfg(target_os = "linux")]
fn request_tile_data() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: this request only changes which xsave features the process may use; it reads
    // and writes no memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        )
    };
    rc == 0
}

/// Other systems are not known to grant the tile state this way: no AMX there.
#[cfg(not(target_os = "linux"))]
fn request_tile_data() -> bool {
    false
}

/// One tile of int32 sums as stored, on a cache line (a tile store or load whose 64-byte rows
/// cross two lines runs several times slower).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Sums([i32; ROWS * NR]);

/// The tile configuration (palette 1): tiles 0–1 activations (16 rows × 32 bytes), 2–3
/// weights (8 rows of 4 k × 16 columns, 64 bytes), 4–7 sums (16 rows × 16 int32).
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl TileConfig {
    /// Per block of 32 k: activations 16 rows × 32 bytes, weights 8 rows × 64 bytes.
    fn new() -> Self {
        Self::with([
            (16, 32),
            (16, 32),
            (8, 64),
            (8, 64),
            (16, 64),
            (16, 64),
            (16, 64),
            (16, 64),
        ])
    }

    /// Every tile (rows, bytes per row) as given.
    fn with(shapes: [(u8, u8); 8]) -> Self {
        let mut c = [0u8; 64];
        c[0] = 1;
        for (t, (rows, bytes)) in shapes.into_iter().enumerate() {
            c[16 + 2 * t] = bytes;
            c[48 + t] = rows;
        }
        Self(c)
    }
}

/// Rows `rows` of `a` × tiles `tiles` of `w` into `out` (row stride `ldo`, column `col0` of the
/// full output at index 0): whole groups of 16 rows on tiles, the rest on the VNNI kernel.
///
/// # Safety
/// The CPU must run this kernel ([`supported`], with the tile permission) and the AVX-512 VNNI
/// one.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn gemm(
    a: &QuantizedRows,
    rows: Range<usize>,
    w: &PackedMatrix,
    tiles: Range<usize>,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    // Per-32 weights of every format, and wide int8 (one scale per 256 k); other groupings
    // (none are packed today) go to the VNNI kernel whole.
    let wide = w.group() == WIDE && w.format() == Format::Int8;
    let whole = if w.group() == 1 || wide {
        rows.len() / ROWS * ROWS
    } else {
        0
    };
    if whole > 0 {
        let cfg = if wide {
            TileConfig::with([(16, 64); 8])
        } else {
            TileConfig::new()
        };
        // SAFETY: a valid palette-1 configuration (64 bytes, aligned); the CPU has AMX.
        unsafe { asm!("ldtilecfg [{0}]", in(reg) cfg.0.as_ptr(), options(nostack, readonly)) };
        match w.format() {
            Format::Int8 if wide => wide::gemm(a, &rows, whole, w, &tiles, out, ldo, col0),
            Format::Int8 => tiles_gemm::<false, false>(a, &rows, whole, w, &tiles, out, ldo, col0),
            Format::Nib4 => tiles_gemm::<true, false>(a, &rows, whole, w, &tiles, out, ldo, col0),
            Format::Nib5 => tiles_gemm::<true, true>(a, &rows, whole, w, &tiles, out, ldo, col0),
        }
        // SAFETY: releases this thread's tile state (no memory access).
        unsafe { asm!("tilerelease", options(nostack, nomem)) };
    }
    if whole < rows.len() {
        let rest = rows.start + whole..rows.end;
        let skip = whole * ldo;
        avx512::gemm(a, rest, w, tiles, &mut out[skip..], ldo, col0);
    }
}

/// The first `whole` rows of `rows` (a multiple of 16) on tiles, with the tiles configured.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[allow(clippy::too_many_arguments)]
fn tiles_gemm<const NIB: bool, const HIGH: bool>(
    a: &QuantizedRows,
    rows: &Range<usize>,
    whole: usize,
    w: &PackedMatrix,
    tiles: &Range<usize>,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    let nb = w.nb();
    let n = w.n();
    let tile_bytes = nb * BLOCK_BYTES;
    // The panel's signed weights: block `b` of tile `i` at `i · tile_bytes + b · 512`.
    let mut panel = Aligned::filled(PANEL_TILES * tile_bytes, 0i8);
    let mut da = vec![0f32; nb * ROWS];
    let mut sa = vec![0f32; nb * ROWS];
    let mut t = tiles.start;
    while t < tiles.end {
        let count = (tiles.end - t).min(PANEL_TILES);
        for (i, tile) in panel.chunks_exact_mut(tile_bytes).take(count).enumerate() {
            for (b, block) in tile.chunks_exact_mut(BLOCK_BYTES).enumerate() {
                unpack_block::<NIB, HIGH>(w, t + i, b, block);
            }
        }
        let mut r0 = rows.start;
        while r0 < rows.start + whole {
            // The group's activation scales and scaled sums, block-major, for every tile.
            for b in 0..nb {
                for i in 0..ROWS {
                    let row = (r0 + i) * nb + b;
                    da[b * ROWS + i] = a.d[row];
                    sa[b * ROWS + i] = a.scaled_sum(row);
                }
            }
            for i in 0..count {
                let scales = (&da[..], &sa[..]);
                let acc = tile_rows::<NIB, HIGH>(a, r0, scales, w, t + i, &panel[i * tile_bytes..]);
                let mut res = [[0f32; NR]; ROWS];
                for (row, v) in res.iter_mut().zip(acc) {
                    // SAFETY: `row` holds 16 floats.
                    unsafe { _mm512_storeu_ps(row.as_mut_ptr(), v) };
                }
                store_block(&res, r0, rows, t + i, n, out, ldo, col0);
            }
            r0 += ROWS;
        }
        t += count;
    }
}

/// Rows `r0..r0 + 16` × tile `t` (its unpacked blocks at the start of `wt`): per block, the
/// tile unit's int32 sums, then the VNNI kernel's scaling into 16 f32 accumulators held in
/// registers. The tile work of block `b + 3` is issued before block `b` is scaled (in turn in
/// four sum tiles and buffers), so the tile unit and the vector units work at once: in
/// program order, the scaling is too long for the CPU to reach the next tile work itself.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
fn tile_rows<const NIB: bool, const HIGH: bool>(
    a: &QuantizedRows,
    r0: usize,
    (da, sa): (&[f32], &[f32]),
    w: &PackedMatrix,
    t: usize,
    wt: &[i8],
) -> [__m512; ROWS] {
    let nb = w.nb();
    let lda = nb * QK;
    let mut acc = [_mm512_setzero_ps(); ROWS];
    let mut sums = [Sums([0i32; ROWS * NR]); DEPTH];
    if wt.len() < nb * BLOCK_BYTES
        || (r0 + ROWS) * nb * QK > a.q.len()
        || da.len() < nb * ROWS
        || sa.len() < nb * ROWS
    {
        return acc;
    }
    let issue = |b: usize, dst: &mut [i32; ROWS * NR]| {
        let ap = a.q[(r0 * nb + b) * QK..].as_ptr();
        let wp = wt[b * BLOCK_BYTES..].as_ptr();
        let sp = dst.as_mut_ptr();
        macro_rules! block {
            ($a:literal, $w:literal, $c:literal) => {
                asm!(
                    concat!("tilezero ", $c),
                    concat!("tileloadd ", $a, ", [{a} + {lda}*1]"),
                    concat!("tileloadd ", $w, ", [{w} + {ldw}*1]"),
                    concat!("tdpbssd ", $c, ", ", $a, ", ", $w),
                    concat!("tilestored [{s} + {lds}*1], ", $c),
                    a = in(reg) ap,
                    w = in(reg) wp,
                    s = in(reg) sp,
                    lda = in(reg) lda,
                    ldw = in(reg) 64usize,
                    lds = in(reg) 64usize,
                    options(nostack)
                )
            };
        }
        // SAFETY: reads 16 rows of 32 bytes at stride `lda` from row r0, block b of `a`
        // (rows r0..r0 + 16 exist: checked above) and 512 bytes of block b of the tile
        // (inside `wt`: checked above); writes 16 rows of 64 bytes, contiguous, into `dst`
        // (1024 bytes). The tiles are configured.
        unsafe {
            match b % DEPTH {
                0 => block!("tmm0", "tmm2", "tmm4"),
                1 => block!("tmm1", "tmm3", "tmm5"),
                2 => block!("tmm0", "tmm2", "tmm6"),
                _ => block!("tmm1", "tmm3", "tmm7"),
            }
        }
    };
    for b in 0..(DEPTH - 1).min(nb) {
        issue(b, &mut sums[b].0);
    }
    for b in 0..nb {
        if b + DEPTH - 1 < nb {
            let ahead = b + DEPTH - 1;
            issue(ahead, &mut sums[ahead % DEPTH].0);
        }
        let cur = &sums[b % DEPTH].0;
        let s = w.tile_scales_f16(t, b);
        // SAFETY: `s` holds exactly 16 f16 (32 bytes).
        let ws = _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(s.as_ptr().cast()) });
        let wm = if !NIB {
            _mm512_setzero_ps()
        } else if HIGH {
            _mm512_mul_ps(ws, _mm512_set1_ps(-16.0))
        } else {
            let m = w.tile_mins_f16(t, b);
            // SAFETY: `m` holds exactly 16 f16 (32 bytes).
            _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(m.as_ptr().cast()) })
        };
        let (db, sb) = (&da[b * ROWS..(b + 1) * ROWS], &sa[b * ROWS..(b + 1) * ROWS]);
        // One row: written out 16 times (`rows!`) so that the accumulators stay in registers.
        macro_rules! row {
            ($i:literal) => {
                // SAFETY: row $i < 16 of 16 int32 lies inside `cur` (256 values).
                let sum = unsafe { _mm512_loadu_si512(cur.as_ptr().add($i * NR).cast()) };
                let scale = _mm512_mul_ps(ws, _mm512_set1_ps(db[$i]));
                acc[$i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), scale, acc[$i]);
                if NIB {
                    acc[$i] = _mm512_fmadd_ps(wm, _mm512_set1_ps(sb[$i]), acc[$i]);
                }
            };
        }
        row!(0);
        row!(1);
        row!(2);
        row!(3);
        row!(4);
        row!(5);
        row!(6);
        row!(7);
        row!(8);
        row!(9);
        row!(10);
        row!(11);
        row!(12);
        row!(13);
        row!(14);
        row!(15);
    }
    acc
}

/// Tile `t`, block `b` of `w` as the signed bytes the tile unit multiplies, in the packed
/// layout (byte `g · 64 + c · 4 + j`: column `c`, k `4g + j`): Int8 the stored byte less 128,
/// Nib4 the nibble, Nib5 the five bits (0..=31, as the VNNI kernel sums them).
#[target_feature(enable = "avx512f,avx512bw")]
fn unpack_block<const NIB: bool, const HIGH: bool>(
    w: &PackedMatrix,
    t: usize,
    b: usize,
    dst: &mut [i8],
) {
    if dst.len() < BLOCK_BYTES {
        return;
    }
    if !NIB {
        let block = w.tile_block(t, b);
        let flip = _mm512_set1_epi8(-128);
        for g in 0..QK / 4 {
            // SAFETY: `block` and `dst` hold 512 bytes and `g < 8`: 64 bytes at `g·64`.
            unsafe {
                let raw = _mm512_loadu_si512(block.as_ptr().add(g * 64).cast());
                _mm512_storeu_si512(
                    dst.as_mut_ptr().add(g * 64).cast(),
                    _mm512_xor_si512(raw, flip),
                );
            }
        }
        return;
    }
    let nibbles = w.tile_nibbles(t, b);
    let high = w.tile_high_bits(t, b);
    let low4 = _mm512_set1_epi8(0x0f);
    let sixteen = _mm512_set1_epi8(16);
    for v in 0..4 {
        // SAFETY: `nibbles` holds 256 bytes and `v < 4`: 64 bytes at `v·64`.
        let raw = unsafe { _mm512_loadu_si512(nibbles.as_ptr().add(v * 64).cast()) };
        let mut lo = _mm512_and_si512(raw, low4);
        let mut hi = _mm512_and_si512(_mm512_srli_epi16::<4>(raw), low4);
        if HIGH {
            let word = |i: usize| u64::from_le_bytes(std::array::from_fn(|x| high[i * 8 + x]));
            lo = _mm512_mask_add_epi8(lo, word(2 * v), lo, sixteen);
            hi = _mm512_mask_add_epi8(hi, word(2 * v + 1), hi, sixteen);
        }
        // Low nibbles are k groups 0..4, high ones 4..8.
        // SAFETY: `dst` holds 512 bytes; groups `v` and `v + 4` (< 8) are 64 bytes each.
        unsafe {
            _mm512_storeu_si512(dst.as_mut_ptr().add(v * 64).cast(), lo);
            _mm512_storeu_si512(dst.as_mut_ptr().add((v + 4) * 64).cast(), hi);
        }
    }
}
