//! What a pod costs in the controller-manager's cache: the heap a
//! `CachedPod` takes against a whole decoded `Pod`, for a Deployment's pod
//! as a simulated cluster serves it (`deployment_pod.json`, without
//! managedFields, which every informer drops). At 30,000 pods this is the
//! controller-manager's largest cost (BENCHMARKS.md, "Pods at scale").

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use minik_controller::pod_cache::CachedPod;

/// Counts the bytes the current thread holds (so other threads of the
/// test harness do not blur the figure).
struct ThreadCounting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for ThreadCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.with(|h| h.set(h.get() + layout.size() as isize));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.with(|h| h.set(h.get() - layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: ThreadCounting = ThreadCounting;

/// The bytes `make`'s result holds once made.
fn held_by<T>(make: impl FnOnce() -> T) -> (T, isize) {
    let before = HELD.with(Cell::get);
    let made = make();
    (made, HELD.with(Cell::get) - before)
}

#[test]
fn a_cached_pod_takes_a_fraction_of_a_decoded_pod() {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("deployment_pod.json")).unwrap();
    let (cached, cached_bytes) =
        held_by(|| Arc::new(serde_json::from_value::<CachedPod>(json.clone()).unwrap()));
    let (whole, whole_bytes) =
        held_by(|| Arc::new(serde_json::from_value::<Pod>(json.clone()).unwrap()));
    eprintln!("a Deployment's pod: {cached_bytes} B cached, {whole_bytes} B as a Pod");
    assert!(cached_bytes < 4096, "{cached_bytes} B cached");
    assert!(
        cached_bytes * 3 < whole_bytes,
        "{cached_bytes} B against {whole_bytes} B"
    );
    assert_eq!(cached.metadata.name, whole.metadata.name);
}
