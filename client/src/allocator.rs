//! The components' allocator, mimalloc (each executable's
//! `#[global_allocator]`), and the one setting minik changes in it.

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, the same
/// in mimalloc 2 and 3). libmimalloc-sys declares the options after it but
/// not this one; the test below checks the place by its default.
const PURGE_DELAY: mi_option_t = 15;

/// Gives freed memory back to the kernel as mimalloc frees it, not a
/// second later. mimalloc's default waits 1,000 ms in case the memory is
/// wanted again, and carries out the waiting purges only on a later call
/// into the allocator. Measured with `bench-pods` (BENCHMARKS.md, "Pods at
/// scale" step 20): the control plane 2–3 MB smaller at 100 pods and 20–30
/// MB at 10,000, and no more CPU in the 10,000-pod burst. A
/// `MIMALLOC_PURGE_DELAY` in the environment is left to rule.
pub fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mimalloc's options are integers it reads and writes
    // atomically; setting one is allowed at any time.
    unsafe { mi_option_set(PURGE_DELAY, 0) }
}

/// mimalloc's purge delay now, in milliseconds.
pub fn purge_delay_ms() -> i64 {
    // SAFETY: as above, a read.
    unsafe { mi_option_get(PURGE_DELAY) as i64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // mimalloc 3's default purge delay is 1,000 ms, and no option next
        // to it defaults to 1,000: a different option in this place would
        // show a different value. (An environment's MIMALLOC_PURGE_DELAY
        // would change the default, and is left to rule.)
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        assert_eq!(purge_delay_ms(), 1000);
        return_freed_memory_at_once();
        assert_eq!(purge_delay_ms(), 0);
    }
}
