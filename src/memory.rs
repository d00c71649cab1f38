//! The process's memory: the allocator, and handing its free memory back to the system after
//! a burst, so the resident size of an idle gateway returns near where it started.
//!
//! The allocator is mimalloc: on the 100-driver page of the peer benchmark it served about
//! 20 % more requests per second than glibc's malloc, with less CPU per request (the
//! README's Benchmarks section). It maps large blocks (the password hasher's 19 MiB buffers)
//! on their own and returns them when freed.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hands the allocator's free memory back to the system.
pub fn give_back_to_system() {
    // SAFETY: mi_collect only releases free memory the allocator holds; it is safe at any time.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}
