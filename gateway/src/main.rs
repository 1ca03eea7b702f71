//! The `certgate` binary: parses the command line and runs [`certgate::execute`].

use clap::Parser;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// BoringSSL's heap, in jemalloc too. Without these BoringSSL allocates with glibc's malloc
/// (3.6 % of a full handshake's CPU, against about 1 % in jemalloc: bench/RESULTS.md), beside
/// the jemalloc heap Rust uses. BoringSSL looks these three up as weak symbols; they live in
/// the binary's own object, so the linker always sees them.
#[cfg(all(feature = "boringssl", feature = "jemalloc", not(feature = "mimalloc")))]
mod boringssl_heap {
    use std::ffi::c_void;
    use tikv_jemalloc_sys as je;

    #[no_mangle]
    extern "C" fn OPENSSL_memory_alloc(size: usize) -> *mut c_void {
        // SAFETY: plain jemalloc malloc; BoringSSL checks for null.
        unsafe { je::malloc(size) }
    }

    /// BoringSSL leaves clearing freed memory (keys, secrets) to this function.
    #[no_mangle]
    extern "C" fn OPENSSL_memory_free(ptr: *mut c_void) {
        // SAFETY: BoringSSL passes only non-null pointers from `OPENSSL_memory_alloc`, whose
        // usable size jemalloc knows; the bytes are cleared before jemalloc takes them back.
        unsafe {
            let len = je::malloc_usable_size(ptr);
            // One memset; the pointer then goes to an opaque C function, so the stores cannot
            // be dropped as dead (a volatile byte loop, as `zeroize` writes, cost 1.7 % here).
            std::ptr::write_bytes(ptr as *mut u8, 0, len);
            std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
            je::free(ptr);
        }
    }

    #[no_mangle]
    extern "C" fn OPENSSL_memory_get_size(ptr: *mut c_void) -> usize {
        // SAFETY: as above, a pointer from `OPENSSL_memory_alloc`.
        unsafe { je::malloc_usable_size(ptr) }
    }
}

/// OpenSSL's heap, in jemalloc too: OpenSSL takes its allocator as functions set before its
/// first allocation, which is why `main` does it first.
#[cfg(all(feature = "openssl", feature = "jemalloc", not(feature = "mimalloc")))]
mod openssl_heap {
    use std::ffi::{c_char, c_int, c_void};
    use tikv_jemalloc_sys as je;

    extern "C" {
        // OpenSSL 1.1 and 3: `CRYPTO_set_mem_functions(malloc, realloc, free)`; returns 0 once
        // OpenSSL has allocated (the default heap then stays).
        fn CRYPTO_set_mem_functions(
            m: unsafe extern "C" fn(usize, *const c_char, c_int) -> *mut c_void,
            r: unsafe extern "C" fn(*mut c_void, usize, *const c_char, c_int) -> *mut c_void,
            f: unsafe extern "C" fn(*mut c_void, *const c_char, c_int),
        ) -> c_int;
    }

    unsafe extern "C" fn alloc(size: usize, _: *const c_char, _: c_int) -> *mut c_void {
        je::malloc(size)
    }

    unsafe extern "C" fn realloc(
        ptr: *mut c_void,
        size: usize,
        _: *const c_char,
        _: c_int,
    ) -> *mut c_void {
        je::realloc(ptr, size)
    }

    // OpenSSL clears what must not linger (`OPENSSL_clear_free`) before it frees.
    unsafe extern "C" fn free(ptr: *mut c_void, _: *const c_char, _: c_int) {
        je::free(ptr)
    }

    pub(crate) fn install() {
        // SAFETY: three functions with OpenSSL's signatures over one allocator, set before
        // anything in the process has called OpenSSL.
        unsafe { CRYPTO_set_mem_functions(alloc, realloc, free) };
    }
}

fn main() {
    #[cfg(all(feature = "openssl", feature = "jemalloc", not(feature = "mimalloc")))]
    openssl_heap::install();
    // Pingora reports through `log`: warnings and errors to stderr (RUST_LOG overrides).
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let out = certgate::execute(certgate::Cli::parse());
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    std::process::exit(out.code);
}
