//! Byte buffers that start on a cache line (64 bytes).
//!
//! The packed weights and the quantised activations are read in 64-byte rows: by the AMX
//! kernel's tile loads (16 rows of 64 bytes) and the AVX-512 kernel's vector loads. A row that
//! crosses two cache lines costs two: on a Xeon with AMX a tile load from L1 took 14 ns
//! misaligned against 2.1 ns aligned (`amx::wide`'s probe), which held the tile kernel to a
//! fifth of its speed. A `Vec<u8>` is aligned to what the allocator gives (often 16 bytes);
//! this one to 64.
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

/// One cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// The element types an [`Aligned`] holds: one byte each, every bit pattern a value.
pub trait Byte: Copy + sealed::Sealed {
    /// The bits of `v`.
    fn bits(v: Self) -> u8;
}

impl Byte for u8 {
    fn bits(v: Self) -> u8 {
        v
    }
}

impl Byte for i8 {
    fn bits(v: Self) -> u8 {
        v as u8
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for i8 {}
}

/// `len` bytes (as `T`) starting on a 64-byte boundary; a slice by `Deref`.
#[derive(Clone)]
pub struct Aligned<T: Byte> {
    lines: Vec<Line>,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: Byte> Aligned<T> {
    /// `len` copies of `v`. Zeros come from the allocator already zeroed (large buffers as
    /// fresh pages, not written twice: the activations of every matmul and a packed cache's
    /// bytes are written right after).
    pub fn filled(len: usize, v: T) -> Self {
        let lines = len.div_ceil(64);
        if T::bits(v) == 0 && lines > 0 {
            if let Ok(layout) = std::alloc::Layout::array::<Line>(lines) {
                // SAFETY: `layout` has a non-zero size (lines > 0).
                let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
                if ptr.is_null() {
                    std::alloc::handle_alloc_error(layout);
                }
                // SAFETY: `ptr` was allocated by the global allocator with the layout of
                // `lines` Lines, which `Vec<Line>` uses for that capacity; all `lines` are
                // initialised (zero bytes are a valid `Line`).
                let lines = unsafe { Vec::from_raw_parts(ptr.cast::<Line>(), lines, lines) };
                return Self {
                    lines,
                    len,
                    _t: PhantomData,
                };
            }
        }
        let mut a = Self {
            lines: Vec::new(),
            len: 0,
            _t: PhantomData,
        };
        a.resize(len, v);
        a
    }

    /// Grows (new bytes `v`) or shrinks to `len`, keeping the bytes before. New bytes are
    /// written once.
    pub fn resize(&mut self, len: usize, v: T) {
        let old = self.len;
        self.lines.resize(len.div_ceil(64), Line([T::bits(v); 64]));
        self.len = len;
        // The old last line's bytes past `old` were not written by `resize`.
        let tail = old.next_multiple_of(64).min(len);
        if tail > old {
            self[old..tail].fill(v);
        }
    }
}

impl<T: Byte> Deref for Aligned<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: `lines` holds at least `len` initialised bytes (64 per line), and `T` is one
        // byte whose every bit pattern is a value (`Byte` is sealed to u8 and i8).
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.len) }
    }
}

impl<T: Byte> DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and the slice borrows `self` mutably.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast(), self.len) }
    }
}

impl<T: Byte> fmt::Debug for Aligned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aligned({} bytes)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_line_and_keeps_its_bytes_when_resized() {
        let mut a = Aligned::filled(100, 7u8);
        assert_eq!(a.as_ptr() as usize % 64, 0);
        assert_eq!(a.len(), 100);
        assert!(a.iter().all(|&v| v == 7));
        a[99] = 1;
        a.resize(300, 9);
        assert_eq!(a.as_ptr() as usize % 64, 0);
        assert_eq!((a[98], a[99], a[100], a[299]), (7, 1, 9, 9));
        a.resize(10, 0);
        assert_eq!(&a[..], &[7; 10]);
        assert!(Aligned::<u8>::filled(0, 0).is_empty());
        // Zeroed by the allocator, then grown and shrunk with other values.
        let mut z = Aligned::<i8>::filled(1000, 0);
        assert_eq!(z.as_ptr() as usize % 64, 0);
        assert!(z.iter().all(|&v| v == 0));
        z.resize(1100, -3);
        assert!(z[..1000].iter().all(|&v| v == 0) && z[1000..].iter().all(|&v| v == -3));
        z.resize(70, 5);
        z.resize(130, 6);
        assert!(z[..70].iter().all(|&v| v == 0) && z[70..].iter().all(|&v| v == 6));
    }
}
