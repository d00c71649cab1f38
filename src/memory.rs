//! The process's memory as the system sees it: after a burst, free memory the allocator keeps
//! is handed back, so the resident size of an idle gateway returns near where it started.

/// Allocations from this size up get pages of their own, returned to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const OWN_PAGES_FROM: libc::c_int = 4 * 1024 * 1024;

/// Fixes the size from which allocations are mapped on their own (glibc raises it after each
/// large free by default, after which 19 MiB hash buffers stay in the heap for good).
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a tunable of the allocator; it is safe at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_PAGES_FROM);
    }
}

/// Hands the allocator's free memory back to the system.
pub fn give_back_to_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is safe at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
