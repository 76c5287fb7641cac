//! Native-messaging frame decoding over arbitrary bytes.
//!
//! Properties:
//! - `read_frame` never panics, whatever the stream holds;
//! - it never allocates more than `MAX_FRAME_BYTES` at once, and in total
//!   never more than one frame's worth per frame read (the length is checked
//!   before the buffer exists) — a counting global allocator checks this;
//! - every frame it returns is at most `MAX_FRAME_BYTES` and survives a
//!   `write_frame` → `read_frame` round trip unchanged;
//! - reading stops: each call consumes input or ends the stream.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use twofill_protocol::MAX_FRAME_BYTES;
use twofill_protocol::framing::{FrameError, read_frame, write_frame};

/// Tracks the largest single allocation while `ARMED`.
struct Counting;

static ARMED: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn note(size: usize) {
    if ARMED.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let mut stream = Cursor::new(data);
    // Each successful read consumes at least the 4-byte header, so this
    // terminates; the bound is a second guard against a livelock.
    for _ in 0..=data.len() / 4 + 1 {
        let before = stream.position();
        LARGEST.store(0, Ordering::Relaxed);
        ARMED.store(true, Ordering::Relaxed);
        let frame = read_frame(&mut stream);
        ARMED.store(false, Ordering::Relaxed);
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(
            largest <= MAX_FRAME_BYTES,
            "read_frame allocated {largest} bytes at once"
        );
        match frame {
            Ok(None) => {
                assert_eq!(before as usize, data.len(), "clean EOF only at the end");
                return;
            }
            Ok(Some(payload)) => {
                assert!(payload.len() <= MAX_FRAME_BYTES);
                assert!(
                    largest <= payload.len().max(64),
                    "allocated {largest} bytes for a {}-byte frame",
                    payload.len()
                );
                assert_eq!(
                    stream.position() - before,
                    4 + payload.len() as u64,
                    "a frame consumes exactly its header and payload"
                );
                let mut out = Vec::new();
                write_frame(&mut out, &payload).expect("a frame we read can be written");
                let again = read_frame(&mut Cursor::new(&out)).unwrap().unwrap();
                assert_eq!(again, payload);
            }
            Err(FrameError::TooLarge { len }) => {
                assert!(len as usize > MAX_FRAME_BYTES);
                assert!(largest < 64, "allocated {largest} bytes before refusing");
                return;
            }
            Err(FrameError::Truncated { expected, got }) => {
                assert!(got < expected);
                return;
            }
            Err(FrameError::Io(e)) => panic!("a Cursor never fails: {e}"),
        }
    }
    panic!("read_frame did not make progress");
});
