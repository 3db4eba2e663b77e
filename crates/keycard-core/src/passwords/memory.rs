//! The memory a hashing thread reuses for every argon2 hash.

use argon2::Block;

/// `blocks` argon2 blocks (1 KiB each), zeroed.
///
/// On Linux the area is offered to transparent huge pages (the kernel's `madvise` mode, the
/// default on most distributions). argon2 reads its 19 MiB at random, so with 4 KiB pages
/// nearly every read also misses the TLB; with 2 MiB pages a hash took about 5 % less time on our
/// machines (BENCHMARKS.md). Where the kernel declines, this is ordinary memory.
pub fn hash_area(blocks: usize) -> Vec<Block> {
    let mut area: Vec<Block> = Vec::with_capacity(blocks);
    #[cfg(target_os = "linux")]
    advise_huge_pages(area.as_ptr(), blocks * size_of::<Block>());
    // The first touch comes after the advice, so the pages are faulted in huge.
    area.resize(blocks, Block::default());
    area
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise_huge_pages(start: *const Block, bytes: usize) {
    const HUGE_PAGE: usize = 2 << 20;
    let start = start as usize;
    let first = start.next_multiple_of(HUGE_PAGE);
    let last = (start + bytes) / HUGE_PAGE * HUGE_PAGE;
    if last <= first {
        return;
    }
    // SAFETY: [first, last) is page-aligned and lies inside an allocation the caller owns (a
    // Vec's capacity). MADV_HUGEPAGE is advice only: it changes neither the contents nor the
    // validity of any memory, and when it fails the pages stay ordinary.
    let rc = unsafe {
        libc::madvise(
            first as *mut libc::c_void,
            last - first,
            libc::MADV_HUGEPAGE,
        )
    };
    if rc != 0 {
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "no huge pages for password hashing"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_area_is_zeroed_and_sized() {
        let area = hash_area(19_456);
        assert_eq!(area.len(), 19_456);
        assert!(area.iter().all(|b| b.as_ref().iter().all(|w| *w == 0)));
    }
}
